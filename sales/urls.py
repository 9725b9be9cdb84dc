from django.urls import path

from .routing import views as routing
from .views import actions, calendar, inbox, pipeline, team, users

app_name = "sales"
urlpatterns = [
    path("", inbox.inbox, name="inbox"),
    path("tasks/<int:pk>/done/", calendar.task_complete, name="task_complete"),
    path("calendar/", calendar.calendar_settings, name="calendar_settings"),
    path("calendar/<str:token>.ics", calendar.calendar_feed, name="calendar_feed"),
    path("team/", team.team, name="team"),
    path("team/<int:user_id>/", team.rep_leads, name="rep_leads"),
    path("team/<int:user_id>/availability/", team.rep_availability, name="rep_availability"),
    path("team/<int:user_id>/unlock-login/", team.login_unlock, name="login_unlock"),
    path("reassign/", team.bulk_reassign, name="bulk_reassign"),
    path("users/", users.users, name="users"),
    path("users/invite/", users.user_invite, name="user_invite"),
    path("users/<int:user_id>/", users.user_detail, name="user_detail"),
    path("users/<int:user_id>/role/", users.user_role, name="user_role"),
    path("users/<int:user_id>/deactivate/", users.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", users.user_reactivate, name="user_reactivate"),
    path("invitations/<int:pk>/resend/", users.invitation_resend, name="invitation_resend"),
    path("invitations/<int:pk>/revoke/", users.invitation_revoke, name="invitation_revoke"),
    path("teams/", routing.teams, name="routing_teams"),
    path("teams/new/", routing.team_edit, name="routing_team_new"),
    path("teams/<int:pk>/", routing.team_edit, name="routing_team_edit"),
    path("teams/<int:pk>/delete/", routing.team_delete, name="routing_team_delete"),
    path("team/<int:user_id>/capacity/", routing.rep_capacity, name="routing_rep_capacity"),
    path("rules/", routing.rules, name="routing_rules"),
    path("rules/new/", routing.rule_edit, name="routing_rule_new"),
    path("rules/<int:pk>/", routing.rule_edit, name="routing_rule_edit"),
    path("rules/<int:pk>/move/", routing.rule_move, name="routing_rule_move"),
    path("rules/<int:pk>/delete/", routing.rule_delete, name="routing_rule_delete"),
    path("board/", pipeline.board_view, name="board"),
    path("board/<int:pk>/move/", pipeline.board_move, name="board_move"),
    path("forecast/", pipeline.forecast_view, name="forecast"),
    path("disputes/", team.disputes, name="disputes"),
    path("disputes/<int:pk>/", team.dispute_detail, name="dispute_detail"),
    path("disputes/<int:pk>/rule/", team.dispute_rule, name="dispute_rule"),
    *(
        path(f"leads/<int:pk>/{action}/", actions.lead_action, {"action": action}, name=action)
        for action in actions.ACTIONS
    ),
]
