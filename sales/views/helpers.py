"""What the sales pages share: the day's bounds, the reps for a select, choice lists, open
flags of a page, and the sentences for a lead that is no longer the user's."""

import datetime as dt

from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import roles
from leads.models import (
    SALES_STAGES,
    Flag,
    LostReason,
    RejectionReason,
)

from ..models import ActivityKind, ActivityOutcome, DisputeRuling, Handoff, ObjectionTag

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


def claimed_by_someone_else(user, pk):
    """The message for a rep who lost a race for a queued lead (it is no longer theirs to
    see), or None. Only for a lead whose latest handoff was claimed from the queue."""
    if not roles.is_rep(user):
        return None
    handoff = (
        Handoff.objects.filter(lead_id=pk, lead__stage__in=SALES_STAGES)
        .select_related("to_user")
        .order_by("-handed_at", "-id")
        .first()
    )
    if handoff is None or handoff.claimed_at is None or handoff.to_user_id in (None, user.pk):
        return None
    return _("%(rep)s claimed this lead first.") % {"rep": handoff.to_user.get_username()}


def no_longer_yours(user, pk):
    """The message for a rep acting on a page that went stale: a lead once handed to them
    that has since left their scope (reassigned, or rejected by them). Says nothing of
    where it went; for any other lead the caller answers 404."""
    if not roles.is_rep(user) or not Handoff.objects.filter(lead_id=pk, to_user=user).exists():
        return None
    return _(
        "This lead is no longer yours (it was reassigned or handed back), so nothing was done."
    )
