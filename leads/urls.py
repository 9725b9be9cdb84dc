from django.urls import path

from . import views

app_name = "leads"
urlpatterns = [
    path("", views.LeadListView.as_view(), name="list"),
    path("new/", views.LeadCreateView.as_view(), name="create"),
    path("bulk/", views.lead_bulk, name="bulk"),
    path("<int:pk>/", views.LeadDetailView.as_view(), name="detail"),
    path("<int:pk>/hand-off/", views.lead_hand_off, name="hand_off"),
    *(
        path(f"<int:pk>/{action}/", views.lead_action, {"action": action}, name=action)
        for action in views.MARKETING_ACTIONS
    ),
]
