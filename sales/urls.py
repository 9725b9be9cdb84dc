from django.urls import path

from . import views

app_name = "sales"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("team/", views.team, name="team"),
]
