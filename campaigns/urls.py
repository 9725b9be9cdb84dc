from django.urls import path

from leads.reporting import feedback

from . import views

app_name = "campaigns"
urlpatterns = [
    path("", views.CampaignListView.as_view(), name="list"),
    path("new/", views.CampaignCreateView.as_view(), name="create"),
    path("feedback/", feedback.feedback, name="feedback"),
    path("spend/upload/", views.spend_upload, name="spend_upload"),
    path("<int:pk>/", views.CampaignDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.CampaignUpdateView.as_view(), name="update"),
    path("<int:pk>/rotate-key/", views.rotate_key, name="rotate_key"),
    path("<int:pk>/auto-response/", views.auto_response, name="auto_response"),
    path("<int:pk>/spend/", views.spend_add, name="spend_add"),
    path("<int:pk>/spend/<int:entry>/delete/", views.spend_delete, name="spend_delete"),
]
