"""What the sales pages share: the reps for a select, choice lists and
the open flags of a page."""

from django.db.models.functions import Coalesce

from leadflow import roles
from leads.models import (
    Flag,
    LostReason,
    RejectionReason,
)

from ..forms import CONTACT_CHOICES, QUICK_FOLLOW_UPS
from ..models import ActivityOutcome, DisputeRuling, ObjectionTag

QUEUE_LIMIT = 25


# --- helpers -------------------------------------------------------------------------


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
    """Choice lists for the hand-rendered quick forms (no per-row form objects). The
    labels are translated once per page, not once per row: an inbox of 100 rows renders
    each list in every row's form."""
    lists = {
        "rejection_reasons": RejectionReason.choices,
        "lost_reasons": LostReason.choices,
        # "Log contact": a note is not contact, and has its own form.
        "contact_kinds": CONTACT_CHOICES,
        "quick_follow_ups": QUICK_FOLLOW_UPS,
        "activity_outcomes": ActivityOutcome.choices,
        "objection_tags": ObjectionTag.choices,
        "rulings": DisputeRuling.choices,
    }
    return {name: [(value, str(label)) for value, label in items] for name, items in lists.items()}
