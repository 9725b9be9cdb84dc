"""What a refused request must leave as it was: the rows the pages and the API change."""

from django.contrib.auth import get_user_model

from campaigns.models import Campaign, SpendEntry
from leadflow.models import ApiToken, Notification, Profile
from leads.models import Holiday, ImportJob, Lead, SLAPolicy, StageChange, Touch
from sales.models import Activity, AssignmentRule, Dispute, Handoff, Team, TeamMembership

WATCHED = {
    Lead: ("stage", "owner_id", "disputed_at", "deal_value", "score", "notes", "email"),
    Touch: ("lead_id",),
    Handoff: ("lead_id", "to_user_id", "outcome", "responded_at"),
    Activity: ("lead_id", "kind"),
    Dispute: ("ruled_at", "ruling"),
    Campaign: ("name", "intake_key", "owner_id"),
    SpendEntry: ("campaign_id", "start", "end", "amount"),
    SLAPolicy: ("campaign_id", "response_minutes", "mql_waiting_minutes", "work_days"),
    Holiday: ("date",),
    ImportJob: ("status", "mapping"),
    ApiToken: ("revoked_at", "name"),
    Notification: ("read_at",),
    Profile: ("is_available", "max_open_leads"),
    Team: ("name", "lead_id"),
    TeamMembership: ("team_id", "user_id", "weight"),
    AssignmentRule: ("name", "position", "target", "target_team_id", "is_active"),
}


def fingerprint():
    rows = {
        model.__name__: list(model.objects.order_by("pk").values_list("pk", *fields))
        for model, fields in WATCHED.items()
    }
    rows["User"] = list(
        get_user_model().objects.order_by("pk").values_list("pk", "password", "is_active")
    )
    return rows


def stage_log():
    """Every stage change as it is now, by id."""
    return {
        row[0]: row
        for row in StageChange.objects.values_list(
            "pk", "lead_id", "from_stage", "to_stage", "by_id", "at", "note"
        )
    }


def activity_log():
    """Every activity as it is now, by id (activities are append-only too)."""
    return {
        row[0]: row
        for row in Activity.objects.values_list(
            "pk", "lead_id", "user_id", "kind", "outcome", "notes", "occurred_at", "logged_at"
        )
    }
