from django.urls import path

from . import exports, jobs_views, views
from .bulk import views as bulk_views
from .imports import views as import_views

app_name = "leads"
urlpatterns = [
    path("", views.LeadListView.as_view(), name="list"),
    path("new/", views.LeadCreateView.as_view(), name="create"),
    path("bulk/", bulk_views.lead_bulk, name="bulk"),
    path("bulk/<int:pk>/", bulk_views.bulk_detail, name="bulk_detail"),
    path("bulk/<int:pk>/progress/", bulk_views.bulk_progress, name="bulk_progress"),
    path("bulk/<int:pk>/retry/", bulk_views.bulk_retry, name="bulk_retry"),
    path("bulk/<int:pk>/report.csv", bulk_views.bulk_report_csv, name="bulk_report"),
    path("export.csv", exports.export_csv, name="export"),
    path("views/", views.saved_view_list, name="saved_views"),
    path("views/new/", views.saved_view_create, name="saved_view_create"),
    path("views/<int:pk>/edit/", views.saved_view_edit, name="saved_view_edit"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("jobs/", jobs_views.jobs_page, name="jobs"),
    path("jobs/tasks/<uuid:message_id>/retry/", jobs_views.task_retry, name="task_retry"),
    path("import/", import_views.import_upload, name="import"),
    path("import/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("import/<int:pk>/mapping/", import_views.import_mapping, name="import_mapping"),
    path("import/<int:pk>/progress/", import_views.import_progress, name="import_progress"),
    path("import/<int:pk>/confirm/", import_views.import_confirm, name="import_confirm"),
    path("import/<int:pk>/retry/", import_views.import_retry, name="import_retry"),
    path("import/<int:pk>/report.csv", import_views.import_report_csv, name="import_report"),
    path("<int:pk>/", views.LeadDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.lead_edit, name="edit"),
    path("<int:pk>/hand-off/", views.lead_hand_off, name="hand_off"),
    *(
        path(f"<int:pk>/{action}/", views.lead_action, {"action": action}, name=action)
        for action in views.MARKETING_ACTIONS
    ),
]
