"""Managers edit the SLA policy (SPEC §4): thresholds globally and per campaign, business
hours and holidays.

Every change is one transaction that locks the global policy row (see
:func:`leads.sla.calendar.lock_global_policy`) and, when stored deadlines may be stale, records a
:class:`~leads.models.DeadlineRecompute` whose task starts once the change commits.
"""

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import permissions
from leadflow.errors import InvalidInput
from leadflow.jobs import enqueue, queued

from ..models import (
    CALENDAR_TIME_FIELDS,
    OPTIONAL_THRESHOLD_FIELDS,
    THRESHOLD_FIELDS,
    WORKING_TIME_FIELDS,
    DeadlineRecompute,
    Holiday,
    SLAPolicy,
)
from ..models.sla import DAY
from .calendar import lock_global_policy
from .durations import format_minutes

CALENDAR_FIELDS = ("business_hours_enabled", "work_days", "work_start", "work_end", "time_zone")
# Working time is counted a day at a time for at most ten years (BusinessCalendar), so a
# working-time threshold stops at a year; calendar-time ones at ten years.
MAX_MINUTES = {
    **dict.fromkeys(WORKING_TIME_FIELDS, 365 * DAY),
    **dict.fromkeys(CALENDAR_TIME_FIELDS, 3650 * DAY),
}
# Proof of contact (SPEC §3, §5), global only, and not thresholds (THRESHOLD_FIELDS): neither
# feeds a stored deadline: the grace judges activities as they are logged, and the dashboard
# statistics rebuild when N changes. The grace is a plain number of minutes (from 0, so no
# MAX_MINUTES entry), N a count.
ACTIVITY_FIELDS = ("late_grace_minutes", "unreached_attempts")
ACTIVITY_LIMITS = {"late_grace_minutes": (0, 365 * DAY), "unreached_attempts": (1, 100)}


def validate_thresholds(data):
    """Every threshold a whole number of minutes from 1 (0 for the escalation ladder's,
    which turns that step off) up to its MAX_MINUTES."""
    for name in THRESHOLD_FIELDS:
        value = data.get(name)
        top = MAX_MINUTES[name]
        low = 0 if name in OPTIONAL_THRESHOLD_FIELDS else 1
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= top:
            message = (
                _("Enter 0 (off) or a duration up to %(max)s.")
                if low == 0
                else _("Enter a duration from 1 minute to %(max)s.")
            )
            raise InvalidInput(message % {"max": format_minutes(top)}, field=name)


def validate_activity_policy(data):
    """The grace for logging late (minutes, from 0) and N attempts (from 1), when given."""
    for name, (low, top) in ACTIVITY_LIMITS.items():
        value = data.get(name, low)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= top:
            raise InvalidInput(
                _("Enter a whole number from %(min)s to %(max)s.") % {"min": low, "max": top},
                field=name,
            )


def validate_calendar(data):
    days = data.get("work_days")
    if not isinstance(days, str) or any(
        not d.isdigit() or not 0 <= int(d) <= 6 for d in days.split(",") if d
    ):
        raise InvalidInput(_("Choose working days."), field="work_days")
    if data.get("business_hours_enabled") and not [d for d in days.split(",") if d]:
        raise InvalidInput(
            _("Choose at least one working day, or count calendar hours."), field="work_days"
        )
    start, end = data.get("work_start"), data.get("work_end")
    if not isinstance(start, dt.time) or not isinstance(end, dt.time) or end <= start:
        raise InvalidInput(_("The working day must end after it starts."), field="work_end")
    tz = data.get("time_zone") or ""
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(_("Choose a known time zone."), field="time_zone") from None


def deadline_recompute_request(*, by, campaign=None, reason=""):
    """Record that stored deadlines of open leads (all, or one campaign's) are stale, and
    enqueue the recompute when the caller's transaction commits. An unfinished earlier
    request covering the same leads is superseded: the new one redoes them anyway."""
    now = timezone.now()
    earlier = DeadlineRecompute.objects.filter(finished_at__isnull=True)
    if campaign is not None:
        earlier = earlier.filter(campaign=campaign)
    earlier.update(superseded=True, finished_at=now)
    job = DeadlineRecompute.objects.create(
        campaign=campaign, requested_by=by, reason=reason[:200], requested_at=now, **queued()
    )
    enqueue("leads.tasks.recompute_deadlines", job.pk)
    return job


@transaction.atomic
def sla_policy_update(*, by, data):
    """Managers change the global thresholds and business hours (``data`` holds the fields
    of THRESHOLD_FIELDS and CALENDAR_FIELDS). Returns (policy, recompute or None): stored
    deadlines are recomputed when anything that feeds them changed."""
    permissions.require_manager(by)
    validate_thresholds(data)
    validate_calendar(data)
    validate_activity_policy(data)
    policy = lock_global_policy()
    changed = [
        name
        for name in THRESHOLD_FIELDS + CALENDAR_FIELDS
        if name in data and getattr(policy, name) != data[name]
    ]
    other = [n for n in ACTIVITY_FIELDS if n in data and getattr(policy, n) != data[n]]
    for name in changed + other:
        setattr(policy, name, data[name])
    if not changed and not other:
        return policy, None
    policy.save()
    if not changed:
        return policy, None
    return policy, deadline_recompute_request(
        by=by, reason=_("Global SLA policy changed: %(fields)s") % {"fields": ", ".join(changed)}
    )


@transaction.atomic
def sla_override_save(*, by, campaign, data):
    """Create or change the per-campaign override of the thresholds; returns (override,
    recompute or None). Business hours stay global."""
    permissions.require_manager(by)
    validate_thresholds(data)
    lock_global_policy()
    override = SLAPolicy.objects.select_for_update().filter(campaign=campaign).first()
    created = override is None
    if created:
        override = SLAPolicy(campaign=campaign, is_global=False)
    changed = [name for name in THRESHOLD_FIELDS if getattr(override, name) != data[name]]
    for name in THRESHOLD_FIELDS:
        setattr(override, name, data[name])
    if not created and not changed:
        return override, None
    try:
        with transaction.atomic():
            override.save()
    except IntegrityError:
        raise InvalidInput(
            _("This campaign already has its own SLA policy."), field="campaign"
        ) from None
    return override, deadline_recompute_request(
        by=by,
        campaign=campaign,
        reason=_("SLA policy of campaign %(campaign)s changed") % {"campaign": campaign},
    )


@transaction.atomic
def sla_override_delete(*, by, campaign):
    """Remove a campaign's override: its leads follow the global policy again."""
    permissions.require_manager(by)
    lock_global_policy()
    deleted, _rows = SLAPolicy.objects.filter(campaign=campaign, is_global=False).delete()
    if not deleted:
        return None
    return deadline_recompute_request(
        by=by,
        campaign=campaign,
        reason=_("SLA policy of campaign %(campaign)s removed") % {"campaign": campaign},
    )


def _calendar_recompute(by, reason):
    # Holidays only move deadlines while hours count working time.
    if lock_global_policy().business_hours_enabled:
        return deadline_recompute_request(by=by, reason=reason)
    return None


@transaction.atomic
def holiday_add(*, by, date, name=""):
    """Add a non-working day; returns (holiday, recompute or None)."""
    permissions.require_manager(by)
    if not isinstance(date, dt.date):
        raise InvalidInput(_("Enter a date."), field="date")
    recompute = _calendar_recompute(by, _("Holiday %(date)s added") % {"date": date})
    try:
        with transaction.atomic():
            holiday = Holiday.objects.create(date=date, name=(name or "").strip()[:100])
    except IntegrityError:
        raise InvalidInput(_("This date is already a holiday."), field="date") from None
    return holiday, recompute


@transaction.atomic
def holiday_delete(*, by, holiday):
    """Remove a non-working day; returns the recompute or None."""
    permissions.require_manager(by)
    recompute = _calendar_recompute(by, _("Holiday %(date)s removed") % {"date": holiday.date})
    Holiday.objects.filter(pk=holiday.pk).delete()
    return recompute
