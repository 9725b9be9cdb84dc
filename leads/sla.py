"""SLA deadlines (SPEC §4): computed when a lead changes, stored on the lead.

``refresh_deadlines`` derives all seven deadline columns from the lead's current
state, so every service calls it after a change and the sweep never has to
re-derive anything: it only compares stored deadlines with now.
"""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings

from .models import SALES_STAGES, WORKING_STAGES, Holiday, SLAPolicy, Stage

UTC = dt.UTC


@dataclass(frozen=True)
class BusinessCalendar:
    """Working time: hour thresholds count only inside working hours when enabled."""

    enabled: bool = False
    work_days: frozenset = frozenset({0, 1, 2, 3, 4})
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(settings.TIME_ZONE))
    holidays: frozenset = frozenset()

    def is_working_day(self, day):
        return day.weekday() in self.work_days and day not in self.holidays

    def add_hours(self, start, hours):
        """The moment ``hours`` of (working) time after ``start``."""
        if not self.enabled:
            return start + dt.timedelta(hours=hours)
        remaining = dt.timedelta(hours=hours)
        local = start.astimezone(self.tz)
        day = local.date()
        cursor = start.astimezone(UTC)
        # Ten years of days is a generous bound; an empty working week never ends.
        for _ in range(3660):
            if self.is_working_day(day):
                # Elapsed time is measured in UTC so a DST change inside a working day
                # is counted as the hours that really passed.
                day_start = dt.datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
                day_end = dt.datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC)
                segment_start = max(cursor, day_start)
                if segment_start < day_end:
                    available = day_end - segment_start
                    if remaining <= available:
                        return (segment_start + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += dt.timedelta(days=1)
            cursor = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz).astimezone(UTC)
        raise ValueError("The business calendar has no working time.")


def global_policy():
    policy = SLAPolicy.objects.filter(is_global=True).first()
    return policy or SLAPolicy(is_global=True)


class SLA:
    """Effective thresholds per campaign and the company calendar, cached for one unit of work
    (a request, a bulk action, an import)."""

    def __init__(self):
        self._global = None
        self._calendar = None
        self._by_campaign = {}

    @property
    def global_policy(self):
        if self._global is None:
            self._global = global_policy()
        return self._global

    @property
    def calendar(self):
        if self._calendar is None:
            policy = self.global_policy
            if policy.business_hours_enabled:
                days = frozenset(int(d) for d in policy.work_days.split(",") if d.strip())
                self._calendar = BusinessCalendar(
                    enabled=True,
                    work_days=days,
                    start=policy.work_start,
                    end=policy.work_end,
                    tz=ZoneInfo(policy.time_zone or settings.TIME_ZONE),
                    holidays=frozenset(Holiday.objects.values_list("date", flat=True)),
                )
            else:
                self._calendar = BusinessCalendar()
        return self._calendar

    def policy_for(self, campaign_id):
        if campaign_id is None:
            return self.global_policy
        if campaign_id not in self._by_campaign:
            override = SLAPolicy.objects.filter(campaign_id=campaign_id).first()
            self._by_campaign[campaign_id] = override or self.global_policy
        return self._by_campaign[campaign_id]


def _latest(*moments):
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def refresh_deadlines(lead, sla=None):
    """Set the lead's seven deadline columns from its state (in memory; the caller saves)."""
    sla = sla or SLA()
    policy = sla.policy_for(lead.campaign_id)
    add = sla.calendar.add_hours
    stage = lead.stage
    with_sales = stage in SALES_STAGES

    lead.mql_due_at = (
        add(lead.mql_at, policy.mql_waiting_hours) if stage == Stage.MQL and lead.mql_at else None
    )
    # A pending dispute is marketing's action on the rejection: the clock waits for the ruling.
    rejection_clock = _latest(lead.rejected_at, lead.dispute_ruled_at)
    lead.rejection_due_at = (
        add(rejection_clock, policy.rejection_unactioned_hours)
        if stage == Stage.REJECTED and rejection_clock and lead.disputed_at is None
        else None
    )
    lead.response_due_at = (
        add(lead.last_handed_off_at, policy.response_hours)
        if stage == Stage.HANDED_OFF and lead.last_handed_off_at
        else None
    )
    contacted_since_handoff = (
        lead.last_contact_at is not None
        and lead.last_handed_off_at is not None
        and lead.last_contact_at >= lead.last_handed_off_at
    )
    lead.contact_due_at = (
        add(lead.last_handed_off_at, policy.first_contact_hours)
        if with_sales and lead.last_handed_off_at and not contacted_since_handoff
        else None
    )
    lead.follow_up_due_at = (
        add(lead.next_follow_up_at, policy.follow_up_grace_hours)
        if with_sales and lead.next_follow_up_at
        else None
    )
    quiet_since = _latest(lead.last_activity_at, lead.accepted_at)
    lead.stale_due_at = (
        quiet_since + dt.timedelta(days=policy.stalled_days)
        if stage in WORKING_STAGES and quiet_since
        else None
    )
    lead.convert_due_at = (
        lead.handed_off_at + dt.timedelta(days=policy.unconverted_days)
        if with_sales and lead.handed_off_at
        else None
    )
    return lead


DEADLINE_FIELDS = (
    "mql_due_at",
    "rejection_due_at",
    "response_due_at",
    "contact_due_at",
    "follow_up_due_at",
    "stale_due_at",
    "convert_due_at",
)
