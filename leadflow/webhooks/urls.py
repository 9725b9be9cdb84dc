from django.urls import path

from . import views

app_name = "webhooks"
urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<int:pk>/", views.endpoint_detail, name="detail"),
    path("<int:pk>/rotate-secret/", views.endpoint_rotate, name="rotate"),
    path("<int:pk>/test/", views.endpoint_test, name="test"),
    path("<int:pk>/delete/", views.endpoint_delete, name="delete"),
    path("people/<int:user_id>/", views.user_channels, name="user_channels"),
]
