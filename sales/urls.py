from django.urls import path

from .views import actions, inbox, team

app_name = "sales"
urlpatterns = [
    path("", inbox.inbox, name="inbox"),
    path("team/", team.team, name="team"),
    path("team/<int:user_id>/", team.rep_leads, name="rep_leads"),
    path("team/<int:user_id>/availability/", team.rep_availability, name="rep_availability"),
    path("team/<int:user_id>/unlock-login/", team.login_unlock, name="login_unlock"),
    path("reassign/", team.bulk_reassign, name="bulk_reassign"),
    path("disputes/", team.disputes, name="disputes"),
    path("disputes/<int:pk>/", team.dispute_detail, name="dispute_detail"),
    path("disputes/<int:pk>/rule/", team.dispute_rule, name="dispute_rule"),
    *(
        path(f"leads/<int:pk>/{action}/", actions.lead_action, {"action": action}, name=action)
        for action in actions.ACTIONS
    ),
]
