"""What the sales pages share: the day's bounds, the reps for a select, choice lists and
the open flags of a page."""

import datetime as dt

from django.db.models.functions import Coalesce
from django.utils import timezone

from leadflow import roles
from leads.models import (
    Flag,
    LostReason,
    RejectionReason,
)

from ..models import ActivityKind, ActivityOutcome, DisputeRuling, ObjectionTag

QUEUE_LIMIT = 25


# --- helpers -------------------------------------------------------------------------


def today_bounds():
    """(now, the start of tomorrow in the site's time zone): "due today" ends at midnight."""
    now = timezone.now()
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    return now, timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min))


def rep_choices():
    """Active reps for the "hand to" selects: one query, rendered by hand in templates."""
    return list(
        roles.active_reps()
        .annotate(available=Coalesce("profile__is_available", True))
        .order_by("username")
    )


def attach_flags(*lead_lists):
    Flag.objects.attach_open(lead for leads in lead_lists for lead in leads)


def choices():
    """Choice lists for the hand-rendered quick forms (no per-row form objects)."""
    return {
        "rejection_reasons": RejectionReason.choices,
        "lost_reasons": LostReason.choices,
        "activity_kinds": ActivityKind.choices,
        "activity_outcomes": ActivityOutcome.choices,
        "objection_tags": ObjectionTag.choices,
        "rulings": DisputeRuling.choices,
    }
