from django.urls import path

from . import views as sla_views

app_name = "sla"
urlpatterns = [
    path("", sla_views.sla_policy, name="policy"),
    path("status/", sla_views.sla_status, name="status"),
    path("campaigns/new/", sla_views.OverrideFormView.as_view(), name="override_create"),
    path(
        "campaigns/<int:campaign_id>/",
        sla_views.OverrideFormView.as_view(),
        name="override_edit",
    ),
    path(
        "campaigns/<int:campaign_id>/delete/",
        sla_views.override_delete,
        name="override_delete",
    ),
    path("holidays/", sla_views.holiday_add, name="holiday_add"),
    path("holidays/<int:pk>/delete/", sla_views.holiday_delete, name="holiday_delete"),
]
