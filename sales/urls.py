from django.urls import path

from . import views

app_name = "sales"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("team/", views.team, name="team"),
    path("team/<int:user_id>/", views.rep_leads, name="rep_leads"),
    path("team/<int:user_id>/availability/", views.rep_availability, name="rep_availability"),
    path("reassign/", views.bulk_reassign, name="bulk_reassign"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<int:pk>/rule/", views.dispute_rule, name="dispute_rule"),
    *(
        path(f"leads/<int:pk>/{action}/", views.lead_action, {"action": action}, name=action)
        for action in views.ACTIONS
    ),
]
