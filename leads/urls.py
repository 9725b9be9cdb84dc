from django.urls import path

from . import views

app_name = "leads"
urlpatterns = [
    path("", views.LeadListView.as_view(), name="list"),
    path("<int:pk>/", views.LeadDetailView.as_view(), name="detail"),
]
