"""SLA deadlines (SPEC §4): computed when a lead changes, stored on the lead.

``refresh_deadlines`` derives all eight deadline columns from the lead's current
state, so every service calls it after a change and the sweep never has to
re-derive anything: it only compares stored deadlines with now.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import (
    Case,
    DurationField,
    F,
    Func,
    Max,
    Min,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from leadflow import jobs
from leadflow.dates import start_of_day

from ..models import (
    SALES_STAGES,
    THRESHOLD_FIELDS,
    TRIAGE_FIELDS,
    WORKING_STAGES,
    DeadlineRecompute,
    Holiday,
    InquiryType,
    Lead,
    SLAPolicy,
    Stage,
)

log = logging.getLogger(__name__)

UTC = dt.UTC


@dataclass(frozen=True)
class BusinessCalendar:
    """Working time: thresholds (in minutes) count only inside working hours when enabled."""

    enabled: bool = False
    work_days: frozenset = frozenset({0, 1, 2, 3, 4})
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(17, 0)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(settings.TIME_ZONE))
    holidays: frozenset = frozenset()

    def is_working_day(self, day):
        return day.weekday() in self.work_days and day not in self.holidays

    def add_minutes(self, start, minutes):
        """The moment ``minutes`` of (working) time after ``start``."""
        if not self.enabled:
            return start + dt.timedelta(minutes=minutes)
        remaining = dt.timedelta(minutes=minutes)
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

    def preload(self):
        """Read every per-campaign override in one query (for batches over many leads)."""
        self._by_campaign = {
            p.campaign_id: p for p in SLAPolicy.objects.filter(campaign__isnull=False)
        }
        self._preloaded = True
        return self

    def policy_for(self, campaign_id):
        if campaign_id is None:
            return self.global_policy
        if getattr(self, "_preloaded", False):
            return self._by_campaign.get(campaign_id) or self.global_policy
        if campaign_id not in self._by_campaign:
            override = SLAPolicy.objects.filter(campaign_id=campaign_id).first()
            self._by_campaign[campaign_id] = override or self.global_policy
        return self._by_campaign[campaign_id]


def _latest(*moments):
    present = [m for m in moments if m is not None]
    return max(present) if present else None


def handoff_terms(lead, sla=None):
    """The response and first-contact thresholds a handoff of ``lead`` made now takes with
    it (the Handoff row's fields): its campaign's policy, else the global one."""
    return (sla or SLA()).policy_for(lead.campaign_id).handoff_terms()


def _take_terms(lead, policy):
    """A handoff the lead's contract does not cover yet (``last_handed_off_at`` moved: a
    handoff, a re-handoff, an overturn, a reassignment) takes the thresholds in force."""
    if lead.last_handed_off_at is None or lead.sla_terms_at == lead.last_handed_off_at:
        return
    terms = policy.handoff_terms()
    lead.sla_terms_at = lead.last_handed_off_at
    lead.sla_response_minutes = terms["response_minutes"]
    lead.sla_contact_minutes = terms["first_contact_minutes"]
    if lead.first_sla_contact_minutes is None:
        lead.first_sla_contact_minutes = terms["first_contact_minutes"]


def refresh_deadlines(lead, sla=None):
    """Set the lead's deadline columns (DEADLINE_FIELDS) from its state (in memory: the
    caller saves).
    Thresholds in WORKING_TIME_FIELDS follow business hours when they are on; the stalled
    and unconverted ones stay calendar time. The response and first-contact deadlines
    follow the contract of the latest handoff (TERMS_FIELDS, taken here when the lead was
    handed off again), not a later policy."""
    sla = sla or SLA()
    policy = sla.policy_for(lead.campaign_id)
    add = sla.calendar.add_minutes
    stage = lead.stage
    with_sales = stage in SALES_STAGES
    _take_terms(lead, policy)

    # A lead is `new` only from its creation, or its import (Lead.clock_start).
    lead.triage_due_at = (
        add(lead.clock_start, policy.triage_minutes(lead.inquiry_type))
        if stage == Stage.NEW and lead.created_at
        else None
    )
    lead.mql_due_at = (
        add(lead.mql_at, policy.mql_waiting_minutes)
        if stage == Stage.MQL and lead.mql_at
        else None
    )
    # A pending dispute is marketing's action on the rejection: the clock waits for the ruling.
    rejection_clock = _latest(lead.rejected_at, lead.dispute_ruled_at)
    lead.rejection_due_at = (
        add(rejection_clock, policy.rejection_unactioned_minutes)
        if stage == Stage.REJECTED and rejection_clock and lead.disputed_at is None
        else None
    )
    # A claim or reassign starts the new holder's clocks afresh (sales_clock_at).
    clock = lead.sales_clock_at
    handed = _latest(lead.last_handed_off_at, clock)
    lead.response_due_at = (
        add(handed, lead.sla_response_minutes)
        if stage == Stage.HANDED_OFF and lead.last_handed_off_at
        else None
    )
    # The escalation ladder, once per handoff: armed while nobody took the lead over since
    # it was handed off (a claim or a reassign starts the new holder's clocks, and the
    # ladder is not climbed a second time for the same handoff).
    first_holder = lead.sales_clock_at is None or (
        lead.last_handed_off_at is not None and lead.sales_clock_at <= lead.last_handed_off_at
    )
    lead.escalation_due_at = (
        add(lead.response_due_at, policy.escalation_minutes)
        if lead.response_due_at and first_holder and policy.escalation_minutes
        else None
    )
    lead.reassign_due_at = (
        add(lead.escalation_due_at, policy.auto_reassign_minutes)
        if lead.escalation_due_at and policy.auto_reassign_minutes
        else None
    )
    contacted_since_handoff = (
        lead.last_contact_at is not None and handed is not None and lead.last_contact_at >= handed
    )
    lead.contact_due_at = (
        add(handed, lead.sla_contact_minutes)
        if with_sales and lead.last_handed_off_at and not contacted_since_handoff
        else None
    )
    lead.follow_up_due_at = (
        add(_latest(lead.next_follow_up_at, clock), policy.follow_up_grace_minutes)
        if with_sales and lead.next_follow_up_at
        else None
    )
    # Only contact (a call, email or meeting) breaks the quiet; a note does not.
    quiet_since = _latest(lead.last_contact_at, lead.accepted_at, clock)
    lead.stale_due_at = (
        quiet_since + dt.timedelta(minutes=policy.stalled_minutes)
        if stage in WORKING_STAGES and quiet_since
        else None
    )
    lead.convert_due_at = (
        _latest(lead.handed_off_at, clock) + dt.timedelta(minutes=policy.unconverted_minutes)
        if with_sales and lead.handed_off_at
        else None
    )
    lead.close_due_at = (
        close_date_passes(lead.expected_close_on)
        if stage == Stage.OPPORTUNITY and lead.expected_close_on
        else None
    )
    return lead


def close_date_passes(day):
    """When an expected close date has passed: the start of the next day in the site's time
    zone (the date is the rep's, read on the site's calendar). Calendar time, no policy."""
    return start_of_day(day + dt.timedelta(days=1))


# The lead's SLA contract, which refresh_deadlines takes at each handoff.
TERMS_FIELDS = (
    "sla_terms_at",
    "sla_response_minutes",
    "sla_contact_minutes",
    "first_sla_contact_minutes",
)

DEADLINE_FIELDS = (
    "triage_due_at",
    "mql_due_at",
    "rejection_due_at",
    "response_due_at",
    "contact_due_at",
    "follow_up_due_at",
    "stale_due_at",
    "convert_due_at",
    "escalation_due_at",
    "reassign_due_at",
    "close_due_at",
)


# --- Recomputing stored deadlines after an SLA change --------------------------------------

# The only stages in which refresh_deadlines can set a deadline; leads elsewhere keep NULLs
# whatever the policy says, so a recompute never needs to touch them.
DEADLINE_STAGES = (Stage.NEW, Stage.MQL, Stage.REJECTED, *SALES_STAGES)
SQL_BATCH = 20_000  # lead ids per set-based UPDATE
PYTHON_BATCH = 1_000  # leads per locked batch when business hours are on

# What refresh_deadlines reads from a lead.
INPUT_FIELDS = (
    "campaign_id",
    "stage",
    "created_at",
    "received_at",
    "inquiry_type",
    "mql_at",
    "rejected_at",
    "dispute_ruled_at",
    "disputed_at",
    "last_handed_off_at",
    "last_contact_at",
    "next_follow_up_at",
    "accepted_at",
    "handed_off_at",
    "sales_clock_at",
    "expected_close_on",
    *TERMS_FIELDS,
)


class Minutes(Func):
    """A whole number of minutes (an integer expression) as an interval for datetime
    arithmetic: ``F("handed_off_at") + Minutes(F("sla_contact_minutes"))``. SQLite keeps
    durations as microseconds and has no integer × interval."""

    output_field = DurationField()

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="make_interval(mins => %(expressions)s)"
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="(%(expressions)s * 60000000)")


def _latest_expr(a, b):
    # Greatest() returns NULL on SQLite when one side is NULL; coalescing both sides
    # makes it "the later of the two that are set", like _latest().
    return Greatest(Coalesce(a, b), Coalesce(b, a))


def deadline_expressions(policy):
    """refresh_deadlines as SQL expressions for one policy, in calendar time (business
    hours off): {deadline column: Case(...)} for ``QuerySet.update``."""
    minutes = {name: dt.timedelta(minutes=getattr(policy, name)) for name in THRESHOLD_FIELDS}
    rejection_clock = _latest_expr(F("rejected_at"), F("dispute_ruled_at"))
    clock = F("sales_clock_at")
    handed = _latest_expr(F("last_handed_off_at"), clock)
    quiet_since = _latest_expr(_latest_expr(F("last_contact_at"), F("accepted_at")), clock)
    with_sales = Q(stage__in=SALES_STAGES)
    received = Coalesce(F("received_at"), F("created_at"))  # Lead.clock_start
    triage = [
        When(Q(stage=Stage.NEW, inquiry_type=kind), then=received + minutes[field])
        for kind, field in TRIAGE_FIELDS.items()
    ]
    other = minutes[TRIAGE_FIELDS[InquiryType.OTHER]]

    def case(condition, value):
        return Case(When(condition, then=value), default=Value(None))

    def contract(field, fallback):
        # The latest handoff's threshold (a lead handed off before contracts were kept
        # has none: the policy's), as an interval.
        return Minutes(Coalesce(F(field), Value(fallback)))

    response_due = Q(stage=Stage.HANDED_OFF, last_handed_off_at__isnull=False)
    response = handed + contract("sla_response_minutes", policy.response_minutes)
    first_holder = Q(sales_clock_at__isnull=True) | Q(sales_clock_at__lte=F("last_handed_off_at"))
    escalation = response + minutes["escalation_minutes"]
    ladder = response_due & first_holder
    return {
        "escalation_due_at": (
            case(ladder, escalation) if policy.escalation_minutes else Value(None)
        ),
        "reassign_due_at": (
            case(ladder, escalation + minutes["auto_reassign_minutes"])
            if policy.escalation_minutes and policy.auto_reassign_minutes
            else Value(None)
        ),
        # An inquiry type outside InquiryType (none today) takes "other"'s threshold, as in
        # SLAPolicy.triage_minutes.
        "triage_due_at": Case(
            *triage,
            When(stage=Stage.NEW, then=received + other),
            default=Value(None),
        ),
        "mql_due_at": case(
            Q(stage=Stage.MQL, mql_at__isnull=False), F("mql_at") + minutes["mql_waiting_minutes"]
        ),
        "rejection_due_at": case(
            Q(stage=Stage.REJECTED, disputed_at__isnull=True)
            & (Q(rejected_at__isnull=False) | Q(dispute_ruled_at__isnull=False)),
            rejection_clock + minutes["rejection_unactioned_minutes"],
        ),
        "response_due_at": case(response_due, response),
        "contact_due_at": case(
            with_sales
            & Q(last_handed_off_at__isnull=False)
            & (
                Q(last_contact_at__isnull=True)
                | Q(last_contact_at__lt=F("last_handed_off_at"))
                | Q(last_contact_at__lt=clock)
            ),
            handed + contract("sla_contact_minutes", policy.first_contact_minutes),
        ),
        "follow_up_due_at": case(
            with_sales & Q(next_follow_up_at__isnull=False),
            _latest_expr(F("next_follow_up_at"), clock) + minutes["follow_up_grace_minutes"],
        ),
        "stale_due_at": case(
            Q(stage__in=WORKING_STAGES)
            & (
                Q(last_contact_at__isnull=False)
                | Q(accepted_at__isnull=False)
                | Q(sales_clock_at__isnull=False)
            ),
            quiet_since + minutes["stalled_minutes"],
        ),
        "convert_due_at": case(
            with_sales & Q(handed_off_at__isnull=False),
            _latest_expr(F("handed_off_at"), clock) + minutes["unconverted_minutes"],
        ),
    }


def lock_global_policy():
    """The global policy row, locked (PostgreSQL ``FOR UPDATE``) until the transaction ends.

    Policy edits and recompute batches both take this lock, so a batch never writes
    deadlines computed from a policy that a concurrent edit is replacing: it waits, then
    reads the new one (and the edit's own recompute follows)."""
    policy = SLAPolicy.objects.select_for_update().filter(is_global=True).first()
    if policy is None:
        policy, _created = SLAPolicy.objects.get_or_create(is_global=True)
    return policy


def _candidates(campaign_id):
    qs = Lead.objects.filter(stage__in=DEADLINE_STAGES)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs


def _sql_batch(lo, hi, campaign_id):
    """Recompute leads with lo < id <= hi, set-based: one UPDATE per policy in force."""
    with transaction.atomic():
        lock_global_policy()
        sla = SLA().preload()
        batch = _candidates(campaign_id).filter(pk__gt=lo, pk__lte=hi)
        overrides = sla._by_campaign
        # updated_at tells the incremental sweep these leads changed.
        stamp = {"updated_at": timezone.now()}
        count = 0
        for cid, policy in overrides.items():
            if campaign_id is None or cid == campaign_id:
                count += batch.filter(campaign_id=cid).update(
                    **deadline_expressions(policy), **stamp
                )
        if campaign_id is None or campaign_id not in overrides:
            rest = batch.exclude(campaign_id__in=list(overrides)) if overrides else batch
            count += rest.update(**deadline_expressions(sla.global_policy), **stamp)
    return count


def _python_batch(after, campaign_id, size):
    """Recompute the next ``size`` leads after id ``after`` with refresh_deadlines (business
    hours on). The leads are locked so a concurrent lifecycle change is not overwritten
    with deadlines derived from what it replaced. Returns (last id, leads seen)."""
    with transaction.atomic():
        lock_global_policy()
        sla = SLA().preload()
        leads = list(
            _candidates(campaign_id)
            .filter(pk__gt=after)
            .order_by("pk")
            .only(*INPUT_FIELDS, *DEADLINE_FIELDS)
            .select_for_update()[:size]
        )
        changed = []
        stamp = timezone.now()
        written = (*DEADLINE_FIELDS, *TERMS_FIELDS)
        for lead in leads:
            before = [getattr(lead, name) for name in written]
            refresh_deadlines(lead, sla)
            if [getattr(lead, name) for name in written] != before:
                lead.updated_at = stamp  # tells the incremental sweep this lead changed
                changed.append(lead)
        if changed:
            Lead.objects.bulk_update(changed, [*written, "updated_at"], batch_size=500)
    return (leads[-1].pk if leads else None), len(leads)


def _still_wanted(job):
    job.refresh_from_db(fields=["superseded", "finished_at"])
    return not job.superseded and job.finished_at is None


def _progress(job, token, position, seen):
    """One batch done: its heartbeat and where a resumed run starts. Raises Superseded
    when another run took the job over meanwhile."""
    job.done += seen
    job.position = position
    if not jobs.heartbeat(
        DeadlineRecompute.objects, job.pk, token, done=job.done, position=position
    ):
        raise jobs.Superseded


def deadlines_recompute(job_id, *, sql_batch=SQL_BATCH, python_batch=PYTHON_BATCH):
    """Recompute the stored deadlines of the open leads a DeadlineRecompute covers.

    Contract:
    - covers every lead in a stage that can carry a deadline (DEADLINE_STAGES), or only
      the job's campaign's; each batch reads the policy in force at that moment under the
      global policy row's lock, so the result matches refresh_deadlines for every lead;
    - business hours off: set-based ``UPDATE``s over id ranges of ``sql_batch`` ids, one
      per policy in force; business hours on: batches of ``python_batch`` leads, locked,
      through refresh_deadlines and ``bulk_update``;
    - records progress (``done`` of ``total``, ``position``, the heartbeat) on the job
      after each batch and stops early when a later request superseded it; sets
      ``finished_at`` at the end;
    - a run resumed after a stall (leads.sla.calendar.recompute_watchdog) carries on after
      ``position``; a second delivery while a live run holds the job does nothing;
    - returns the job (None when it does not exist); a finished job is left alone.
    """
    token = jobs.claim_run(DeadlineRecompute.objects.filter(finished_at=None), job_id)
    job = DeadlineRecompute.objects.filter(pk=job_id).first()
    if token is None:  # missing, finished, or a live run holds it
        return job
    candidates = _candidates(job.campaign_id)
    if job.position == 0:
        job.started_at = job.started_at or timezone.now()
        job.total = candidates.count()
        job.done = 0
        job.save(update_fields=["started_at", "total", "done"])
    bounds = candidates.aggregate(lo=Min("pk"), hi=Max("pk"))
    business_hours = global_policy().business_hours_enabled
    try:
        if bounds["lo"] is not None:
            if business_hours:
                after = job.position
                while _still_wanted(job):
                    after, seen = _python_batch(after, job.campaign_id, python_batch)
                    if after is None:
                        break
                    _progress(job, token, after, seen)
            else:
                lo = max(bounds["lo"] - 1, job.position)
                while lo < bounds["hi"] and _still_wanted(job):
                    seen = _sql_batch(lo, lo + sql_batch, job.campaign_id)
                    lo += sql_batch
                    _progress(job, token, lo, seen)
    except jobs.Superseded:
        log.info("deadline recompute %s: taken over by another run", job.pk)
        return job
    if _still_wanted(job):
        job.finished_at = timezone.now()
        job.done = job.total
        job.run_token = None
        job.save(update_fields=["finished_at", "done", "run_token"])
        log.info("deadline recompute %s finished: %s leads", job.pk, job.total)
    return job


def recompute_watchdog():
    """Resume every deadline recompute that stalled (no heartbeat for JOB_STALL_SECONDS)
    from its position; the task is queued through the outbox with the marking."""
    with transaction.atomic():
        stalled = jobs.find_stalled(DeadlineRecompute.objects.filter(finished_at=None))
        for job in stalled:
            log.warning("deadline recompute %s stalled; resuming", job.pk)
            jobs.enqueue("leads.tasks.recompute_deadlines", job.pk)
    return stalled
