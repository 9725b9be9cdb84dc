"""Pre-aggregated dashboard statistics (CohortStats, RepStats, AttributionStats).

At a million leads the raw aggregates take seconds per dashboard;
summing a few thousand pre-aggregated rows takes milliseconds. The rows are rebuilt from
the raw tables, whole creation days at a time, for every day whose leads changed:

* ``refresh()`` finds those days from ``Lead.updated_at`` (every service saves the lead)
  and from flags raised or resolved since the watermark (the sweep does not touch leads),
  with an overlap for transactions that committed late; the dashboard calls it before
  reading, and beat runs it every minute.
* ``rebuild()`` recomputes everything (after seed_demo, a change of the first-contact SLA,
  and nightly as a safety net).

The rows are built from the named counts of definitions.py. The readers below are what
every page shows (the dashboard, its CSVs, /api/v1/funnel/, the campaign list and page,
the feedback page); tests/dashboard/test_stats.py holds them to the independent reference
computation in tests/reference.py.
"""

import datetime as dt
import logging
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    Count,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy

from campaigns import spend as campaign_spend
from campaigns.models import Campaign, Channel
from leadflow import roles
from leadflow.bulk import copy_rows
from leadflow.dates import start_of_day
from leadflow.jobs import enqueue
from sales.models import (
    Activity,
    Dispute,
    DisputeRuling,
    Handoff,
    HandoffKind,
    HandoffOutcome,
    Objection,
    ObjectionTag,
    live_q,
)

from ..models import (
    CLOSED_STAGES,
    AttributionStats,
    CohortStats,
    Flag,
    Lead,
    LostReason,
    RejectionReason,
    RepStats,
    Side,
    Stage,
    StatsState,
)
from ..sla.calendar import global_policy
from . import attribution as a
from . import definitions as d
from . import percentiles
from .medians import median_hours_by_owner, median_hours_to_first_contact

User = get_user_model()

logger = logging.getLogger(__name__)

# How the attribution names the credit of touches without a campaign.
NO_CAMPAIGN = gettext_lazy("No campaign")

# A change is stamped (updated_at, raised_at) before its transaction commits; one that
# commits up to this long after the stamp is still picked up by the next refresh. The
# services' transactions last milliseconds; anything later waits for the nightly rebuild.
# Every refresh within this window re-does the days it saw, so it is kept short.
REFRESH_OVERLAP = dt.timedelta(seconds=15)
# A refresh from a page does at most this many days inline; more goes to the worker.
INLINE_DAYS = 3
# ... and hands the refresh to the worker, without even listing the days, when more
# rows than this changed (a first sweep or an import touching hundreds of thousands of
# flags or leads): the probe reads at most this many index entries per range, so a page
# never pays for a backlog it will not refresh itself.
INLINE_ROWS = 5_000

REJECTION_COLUMNS = {r: f"rej_{r}" for r in RejectionReason.values}
LOST_COLUMNS = {r: f"lost_{r}" for r in LostReason.values}
OBJECTION_COLUMNS = {t: f"obj_{t}" for t in ObjectionTag.values}
COHORT_SUMS = (
    "generated",
    "mql",
    "handed_off",
    "accepted",
    "accepted_handed",
    "contacted",
    "opportunity",
    "won",
    "lost",
    "rejected",
    "won_value",
    "contacted_in_sla",
    "dropped_marketing",
    "dropped_sales",
    "dropped_market",
    "dropped_in_progress",
    *(f"own_dropped_{c}" for c in d.OWN_DROPPED),
    *REJECTION_COLUMNS.values(),
    *LOST_COLUMNS.values(),
    *OBJECTION_COLUMNS.values(),
    "mflags_raised",
    "mflags_open",
    *d.SPEED_COLUMNS,
    "unreached",
    "won_handed",
    "won_value_handed",
    "handoffs",
    "responded_in_sla",
    "lost_unresponsive_short",
)
# The money columns (summed to 0.00 when there are no rows).
MONEY_SUMS = ("won_value", "won_value_handed")
REP_SUMS = (
    "received",
    "accepted",
    "rejected",
    "false_rejections",
    "overturned",
    "follow_ups",
    *OBJECTION_COLUMNS.values(),
    "sflags_raised",
    "sflags_open",
    "contacts",
    "contacts_late",
)


def _tz():
    return timezone.get_current_timezone()


# --- building ------------------------------------------------------------------------


def _ranges(days):
    """Sorted dates -> [(first, last)] runs of consecutive days."""
    runs = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + dt.timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [tuple(r) for r in runs]


def _created_in(runs, prefix=""):
    q = Q()
    for first, last in runs:
        q |= Q(
            **{
                f"{prefix}created_at__gte": start_of_day(first),
                f"{prefix}created_at__lt": start_of_day(last + dt.timedelta(days=1)),
            }
        )
    return q


def _cohort_rows(runs, sla_minutes, attempts, response_minutes):
    """CohortStats objects for the given day runs, from the raw tables (six queries)."""
    leads = Lead.objects.filter(_created_in(runs))
    day = TruncDate("created_at", tzinfo=_tz())
    lead_day = TruncDate("lead__created_at", tzinfo=_tz())
    out = {}
    for row in (
        d.with_sales_delay(leads)
        .annotate(day=day)
        .values("day", "campaign", "owner", "origin")
        .annotate(
            **d.counts(),
            won_value=d.won_value(),
            contacted_in_sla=Count("id", filter=d.contacted_in_sla_q(sla_minutes)),
            **{
                f"dropped_{c}": Count("id", filter=d.dropped_q(c, attempts))
                for c in d.DROPPED_CATEGORIES
            },
            **{
                f"own_dropped_{c}": Count("id", filter=d.dropped_q(c, attempts, own=True))
                for c in d.OWN_DROPPED
            },
            **{
                column: Count("id", filter=Q(stage=Stage.LOST, lost_reason=reason))
                for reason, column in LOST_COLUMNS.items()
            },
            **{
                column: Count("id", filter=d.speed_band_q(reach, band))
                for column, (reach, band) in d.SPEED_COLUMNS.items()
            },
            unreached=Count("id", filter=d.unreached_q(attempts)),
            won_handed=Count("id", filter=d.COUNTS["won"] & d.WON_HANDED),
            won_value_handed=d.won_value(d.WON_HANDED),
            lost_unresponsive_short=Count("id", filter=d.lost_unresponsive_short_q(attempts)),
        )
        .order_by()
    ):
        key = (row.pop("day"), row.pop("campaign"), row.pop("owner"), row.pop("origin"))
        out[key] = CohortStats(
            day=key[0], campaign_id=key[1], owner_id=key[2], origin=key[3], **row
        )
    group = ("day", "lead__campaign", "lead__owner", "lead__origin")

    def add(key_row, **values):
        key = tuple(key_row[g] for g in group)
        stats = out.get(key)
        if stats is None:  # a lead changed between queries: the next refresh fixes it
            return
        for name, value in values.items():
            setattr(stats, name, getattr(stats, name) + value)

    for row in (
        Handoff.objects.filter(_created_in(runs, "lead__"), outcome=HandoffOutcome.REJECTED)
        .annotate(day=lead_day)
        .values(*group, "rejection_reason")
        .annotate(n=Count("id"))
        .order_by()
    ):
        column = REJECTION_COLUMNS.get(row["rejection_reason"])
        if column:
            add(row, **{column: row["n"]})
    for row in (
        Objection.objects.filter(_created_in(runs, "lead__"), live_q("activity__"))
        .annotate(day=lead_day)
        .values(*group, "tag")
        .annotate(n=Count("id"))
        .order_by()
    ):
        add(row, **{OBJECTION_COLUMNS[row["tag"]]: row["n"]})
    for row in (
        Flag.objects.filter(_created_in(runs, "lead__"), side=Side.MARKETING)
        .annotate(day=lead_day)
        .values(*group)
        .annotate(raised=Count("id"), open=Count("id", filter=Q(resolved_at__isnull=True)))
        .order_by()
    ):
        add(row, mflags_raised=row["raised"], mflags_open=row["open"])
    for row in (
        Handoff.objects.filter(_created_in(runs, "lead__"), kind=HandoffKind.HANDOFF)
        .annotate(day=lead_day)
        .values(*group)
        .annotate(
            n=Count("id"),
            in_sla=Count("id", filter=d.responded_in_sla_q(response_minutes)),
        )
        .order_by()
    ):
        add(row, handoffs=row["n"], responded_in_sla=row["in_sla"])
    return list(out.values())


def _rep_rows(runs):
    """RepStats objects for the given day runs (six queries)."""
    lead_day = TruncDate("lead__created_at", tzinfo=_tz())
    group = ("day", "lead__campaign", "lead__owner")
    out = {}

    def add(row, rep, **values):
        key = (*(row[g] for g in group), rep)
        stats = out.get(key)
        if stats is None:
            stats = out[key] = RepStats(
                day=key[0], campaign_id=key[1], owner_id=key[2], rep_id=rep
            )
        for name, value in values.items():
            setattr(stats, name, getattr(stats, name) + value)

    in_runs = _created_in(runs, "lead__")
    for row in (
        Handoff.objects.filter(in_runs, to_user__isnull=False)
        .annotate(day=lead_day)
        .values(*group, "to_user")
        .annotate(
            received=Count("lead", distinct=True),
            accepted=Count("lead", filter=Q(outcome=HandoffOutcome.ACCEPTED), distinct=True),
            rejected=Count("id", filter=Q(outcome=HandoffOutcome.REJECTED)),
            false_rejections=Count(
                "lead",
                filter=Q(outcome=HandoffOutcome.REJECTED, lead__stage=Stage.WON),
                distinct=True,
            ),
        )
        .order_by()
    ):
        add(
            row,
            row["to_user"],
            received=row["received"],
            accepted=row["accepted"],
            rejected=row["rejected"],
            false_rejections=row["false_rejections"],
        )
    for row in (
        Dispute.objects.filter(
            in_runs, ruling=DisputeRuling.OVERTURNED, handoff__to_user__isnull=False
        )
        .annotate(day=lead_day)
        .values(*group, "handoff__to_user")
        .annotate(n=Count("id"))
        .order_by()
    ):
        add(row, row["handoff__to_user"], overturned=row["n"])
    for row in (
        Activity.objects.filter(in_runs, live_q())
        .annotate(day=lead_day)
        .values(*group, "user")
        .annotate(
            n=Count("id"),
            contacts=Count("id", filter=d.contact_q()),
            late=Count("id", filter=d.late_contact_q()),
        )
        .order_by()
    ):
        add(
            row,
            row["user"],
            follow_ups=row["n"],
            contacts=row["contacts"],
            contacts_late=row["late"],
        )
    for row in (
        Objection.objects.filter(in_runs, live_q("activity__"))
        .annotate(day=lead_day)
        .values(*group, "activity__user", "tag")
        .annotate(n=Count("id"))
        .order_by()
    ):
        add(row, row["activity__user"], **{OBJECTION_COLUMNS[row["tag"]]: row["n"]})
    for row in (
        Flag.objects.filter(in_runs, side=Side.SALES, responsible__isnull=False)
        .annotate(day=lead_day)
        .values("day", "lead__campaign", "responsible")
        .annotate(raised=Count("id"), open=Count("id", filter=Q(resolved_at__isnull=True)))
        .order_by()
    ):
        # Under the salesperson filter too, a breach counts against the rep who held the
        # lead when it happened, not its owner now: these rows' owner is that rep.
        row["lead__owner"] = row["responsible"]
        add(row, row["responsible"], sflags_raised=row["raised"], sflags_open=row["open"])
    return list(out.values())


def _attribution_rows(runs):
    """AttributionStats rows (tuples of ATTRIBUTION_COLUMNS) for the given day runs: one
    query streaming the runs' leads with their touches in time order, each lead split by
    every model (attribution.py) and summed per row key and credited campaign.

    The stream carries no datetimes (Django parses those in Python, the slowest part at
    a million leads): each touch comes as its microseconds after the lead's creation and
    the three comparisons the models need, made in SQL."""
    closed = [s.value for s in CLOSED_STAGES]
    touch_at = "touches__occurred_at"
    stream = (
        Lead.objects.filter(_created_in(runs))
        .annotate(
            day=TruncDate("created_at", tzinfo=_tz()),
            reached_mql=d.flag(Q(mql_at__isnull=False)),
            reached_handoff=d.flag(Q(handed_off_at__isnull=False)),
            reached_opportunity=d.flag(Q(opportunity_at__isnull=False)),
            touch_micros=d.Microseconds(touch_at, "created_at"),
            touch_late=d.flag(Q(stage__in=closed, **{f"{touch_at}__gt": F("closed_at")})),
            touch_by_mql=d.flag(Q(**{f"{touch_at}__lte": F("mql_at")})),
            touch_by_handoff=d.flag(Q(**{f"{touch_at}__lte": F("handed_off_at")})),
        )
        .values_list(
            "id",
            "day",
            "campaign",
            "owner",
            "origin",
            "stage",
            "deal_value",
            "reached_mql",
            "reached_handoff",
            "reached_opportunity",
            "touches__id",
            "touches__campaign",
            "touch_micros",
            "touch_late",
            "touch_by_mql",
            "touch_by_handoff",
        )
        .order_by("id", touch_at, "touches__id")
    )
    models = a.MODEL_NAMES
    width = 3 * len(models)
    won = Stage.WON.value
    rows = {}  # (day, campaign, owner, origin, credited) -> per model credit, pipeline, won

    def add(lead, touches):
        _id, day, campaign, owner, origin, stage, value, mql, handoff, opportunity = lead
        cents = int(value * 100) if value and (opportunity or stage == won) else 0
        pipeline = cents if opportunity else 0
        won_cents = cents if stage == won else 0
        path = a.counted_touches(touches, campaign)
        key = (day, campaign, owner, origin)
        first = path[0][a.CAMPAIGN]
        if all(t[a.CAMPAIGN] == first for t in path):  # one campaign: every model agrees
            values = rows.get((*key, first)) or rows.setdefault((*key, first), [0] * width)
            for column in range(0, width, 3):
                values[column] += a.CREDIT_SCALE
                values[column + 1] += pipeline
                values[column + 2] += won_cents
            return
        # Each touch's row (touches of one campaign share it), then every model's parts.
        slots = {}
        for touch in path:
            credited = touch[a.CAMPAIGN]
            if credited not in slots:
                slots[credited] = rows.get((*key, credited)) or rows.setdefault(
                    (*key, credited), [0] * width
                )
        targets = [slots[touch[a.CAMPAIGN]] for touch in path]
        for m, model in enumerate(models):
            credit, money = a.split(model, path, mql=mql, handoff=handoff, cents=cents)
            column = 3 * m
            for values, part in zip(targets, credit, strict=True):
                values[column] += part
            if money and pipeline:
                for values, part in zip(targets, money, strict=True):
                    values[column + 1] += part
            if money and won_cents:
                for values, part in zip(targets, money, strict=True):
                    values[column + 2] += part

    lead, touches = None, []
    for r in _stream(stream):
        if lead is None or r[0] != lead[0]:
            if lead is not None:
                add(lead, touches)
            lead, touches = r[:10], []
        if r[10] is not None:
            # (micros, campaign, counted, by MQL, by handoff): a touch is counted unless it
            # came after its closed lead's close (touch_late NULL without a close).
            touches.append((r[12], r[11], r[13] is not True, r[14] is True, r[15] is True))
    if lead is not None:
        add(lead, touches)
    return [(*key, *values) for key, values in rows.items()]


# AttributionStats' columns in the order of _attribution_rows' tuples.
ATTRIBUTION_COLUMNS = (
    "day",
    "campaign_id",
    "owner_id",
    "origin",
    "credited_id",
    *(
        f"{model}_{measure}"
        for model in a.MODEL_NAMES
        for measure in ("credit", "pipeline_cents", "won_cents")
    ),
)


def _stream(queryset, chunk=10_000):
    """The rows of a values_list queryset, on PostgreSQL from a server-side cursor without
    Django's per-row converters (its dates, ints and decimals come typed already: at 1.5
    million rows the converters alone took seconds)."""
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk)
        return
    sql, params = queryset.query.sql_with_params()
    # A server-side cursor lives in a transaction (rebuild_days' own, or this one).
    with transaction.atomic(), connection.connection.cursor(name="stats_stream") as cursor:
        cursor.itersize = chunk
        cursor.execute(sql, params)
        yield from cursor


def _write_attribution(rows):
    copy_rows(AttributionStats, ATTRIBUTION_COLUMNS, rows)


def _policy_terms(policy):
    """The policy's thresholds the statistics are built with (StatsState keeps them)."""
    return policy.first_contact_minutes, policy.unreached_attempts, policy.response_minutes


def rebuild_days(days, sla_minutes=None, attempts=None, response_minutes=None):
    """Replace the statistics of ``days`` (dates) with fresh ones from the raw tables
    (``sla_minutes``, ``response_minutes``: the policy's first-contact and response
    thresholds for leads and handoffs without their own; ``attempts``: the policy's
    unreached_attempts)."""
    days = sorted(set(days))
    if not days:
        return 0
    if sla_minutes is None or attempts is None or response_minutes is None:
        policy = global_policy()
        sla_minutes = sla_minutes if sla_minutes is not None else policy.first_contact_minutes
        attempts = attempts if attempts is not None else policy.unreached_attempts
        if response_minutes is None:
            response_minutes = policy.response_minutes
    runs = _ranges(days)
    with transaction.atomic():
        cohort = _cohort_rows(runs, sla_minutes, attempts, response_minutes)
        reps = _rep_rows(runs)
        credits = _attribution_rows(runs)
        CohortStats.objects.filter(day__in=days).delete()
        RepStats.objects.filter(day__in=days).delete()
        AttributionStats.objects.filter(day__in=days).delete()
        CohortStats.objects.bulk_create(cohort, batch_size=1000)
        RepStats.objects.bulk_create(reps, batch_size=1000)
        _write_attribution(credits)
    return len(days)


def _state():
    state = StatsState.objects.select_for_update().order_by("pk").first()
    return state or StatsState.objects.create()


def rebuild(*, chunk_days=31):
    """Recompute every day that has leads, a month at a time (bounded memory)."""
    sla_minutes, attempts, response_minutes = _policy_terms(global_policy())
    started = timezone.now()
    bounds = Lead.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    with transaction.atomic():
        CohortStats.objects.all().delete()
        RepStats.objects.all().delete()
        AttributionStats.objects.all().delete()
    if bounds["first"] is not None:
        day = timezone.localtime(bounds["first"]).date()
        last = timezone.localtime(bounds["last"]).date()
        while day <= last:
            end = min(last, day + dt.timedelta(days=chunk_days - 1))
            rebuild_days(
                [day + dt.timedelta(days=i) for i in range((end - day).days + 1)],
                sla_minutes,
                attempts,
                response_minutes,
            )
            day = end + dt.timedelta(days=1)
    with transaction.atomic():
        state = _state()
        state.refreshed_at = started
        state.rebuilt_at = timezone.now()
        state.sla_minutes = sla_minutes
        state.unreached_attempts = attempts
        state.response_minutes = response_minutes
        state.save()
    return state


def dirty_days(since):
    """Creation days (local) of leads changed, or flagged/unflagged, since ``since``."""
    day = TruncDate("created_at", tzinfo=_tz())
    days = set(
        Lead.objects.filter(updated_at__gte=since)
        .annotate(day=day)
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )
    days |= set(
        Flag.objects.filter(Q(raised_at__gte=since) | Q(resolved_at__gte=since))
        .annotate(day=TruncDate("lead__created_at", tzinfo=_tz()))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )
    return days


def changed_rows_exceed(since, limit):
    """True when more than ``limit`` leads or flag events changed since ``since``. Three
    bounded index range scans (lead_updated_idx, flag_raised_idx, flag_resolved_idx),
    each stopping after ``limit + 1`` entries."""
    remaining = limit
    for qs in (
        Lead.objects.filter(updated_at__gte=since),
        Flag.objects.filter(raised_at__gte=since),
        Flag.objects.filter(resolved_at__gte=since),
    ):
        remaining -= qs.order_by()[: remaining + 1].count()
        if remaining < 0:
            return True
    return False


def refresh(*, max_days=None):
    """Bring the statistics up to date. Returns True when they are current; with
    ``max_days``, a larger backlog is handed to the worker and False is returned."""
    with transaction.atomic():
        state = _state()
        sla_minutes, attempts, response_minutes = _policy_terms(global_policy())
        if (
            state.rebuilt_at is None
            or state.sla_minutes != sla_minutes
            or state.unreached_attempts != attempts
            or state.response_minutes != response_minutes
        ):
            if max_days is not None and Lead.objects.count() > 20_000:
                enqueue("leads.tasks.refresh_dashboard_stats", full=True)
                return False
            needs_rebuild = True
        else:
            needs_rebuild = False
            now = timezone.now()
            since = state.refreshed_at - REFRESH_OVERLAP
            if max_days is not None and changed_rows_exceed(since, INLINE_ROWS):
                enqueue("leads.tasks.refresh_dashboard_stats")
                return False
            days = dirty_days(since)
            if max_days is not None and len(days) > max_days:
                enqueue("leads.tasks.refresh_dashboard_stats")
                return False
            rebuild_days(days, sla_minutes, attempts, response_minutes)
            state.refreshed_at = now
            state.save(update_fields=["refreshed_at"])
    if needs_rebuild:
        rebuild()
    return True


def refreshed_at():
    state = StatsState.objects.order_by("pk").first()
    return state.refreshed_at if state else None


# --- reading --------------------------------------------------------------------------


def _rows(model, filters):
    qs = model.objects.filter(day__gte=filters.start, day__lte=filters.end)
    if filters.campaign is not None:
        qs = qs.filter(campaign=filters.campaign)
    if filters.channel:
        qs = qs.filter(campaign__channel=filters.channel)
    if filters.owner is not None:
        qs = qs.filter(owner=filters.owner)
    return qs


def _sums(names, prefix=""):
    """``{name: SUM(prefix + name)}``, 0 (or 0.00 for money) when there are no rows."""
    return {
        name: Coalesce(Sum(f"{prefix}{name}"), Value(Decimal("0.00") if name in MONEY_SUMS else 0))
        for name in names
    }


def funnel(filters, sla_minutes=None, medians=None, *, with_median=True):
    """The funnel of SPEC §5/§6 for a cohort: the counts, won value, rates and where the
    ball dropped from the statistics, and the median from the raw leads (pass ``medians``
    from ``medians.medians_with_owners`` to share that query; ``with_median=False`` for a
    page that does not show it)."""
    data = _rows(CohortStats, filters).aggregate(**_sums(COHORT_SUMS))
    return _funnel_from_sums(data, filters, medians, with_median)


def _funnel_from_sums(data, filters=None, medians=None, with_median=False):
    if medians is None:
        median = median_hours_to_first_contact(filters.cohort()) if with_median else None
    else:
        median = medians[0]
    return {
        **{name: data[name] for name in d.COUNTS},
        "won_value": Decimal(data["won_value"] or 0).quantize(Decimal("0.01")),
        **d.rates(data),
        "median_hours_to_first_contact": median,
        "ball_dropped": ball_dropped(data, filters),
        "contacted_in_sla": data["contacted_in_sla"],
        "marketing_flags_open": data["mflags_open"],
        "_sums": data,
    }


def ball_dropped(sums, filters=None):
    """Where the ball dropped from summed statistics; per rep (the salesperson filter)
    rule (2) reads only that rep's own delays (definitions.dropped_q ``own``)."""
    own = filters is not None and filters.owner is not None
    return _buckets(sums, own)


# --- revenue at risk (definitions.revenue_at_risk) --------------------------------------

RISK_SUMS = tuple(
    dict.fromkeys(
        d.dropped_column(c, own=own) for c in d.DROPPED_CATEGORIES for own in (False, True)
    )
)


def comparable_values(start):
    """{channel: expected revenue per lead} of the comparable leads of a period that starts
    on ``start`` (one query; every campaign and owner: comparable is by channel only)."""
    first, last = d.risk_window(start)
    rows = (
        CohortStats.objects.filter(day__gte=first, day__lte=last)
        .values("campaign__channel")
        .annotate(**_sums(("handed_off", "won_handed", "won_value_handed")))
        .order_by()
    )
    return {row["campaign__channel"]: d.expected_value_per_lead(row) for row in rows}


def _buckets(row, own):
    return {c: row[d.dropped_column(c, own=own)] for c in d.DROPPED_CATEGORIES}


def revenue_at_risk(filters, values=None):
    """Each ball-dropped bucket's revenue at risk, overall, per campaign and per channel
    (two queries; ``values``: comparable_values to share). Under the salesperson filter
    rule (2) reads that rep's own delays, as ball_dropped does."""
    values = comparable_values(filters.start) if values is None else values
    own = filters.owner is not None
    by_campaign, by_channel = {}, {}
    for row in (
        _rows(CohortStats, filters)
        .values("campaign", "campaign__channel")
        .annotate(**_sums(RISK_SUMS))
        .order_by()
    ):
        counts, channel = _buckets(row, own), row["campaign__channel"]
        by_campaign[row["campaign"]] = d.revenue_at_risk({channel: counts}, values)
        total = by_channel.setdefault(channel, dict.fromkeys(d.DROPPED_CATEGORIES, 0))
        for category, n in counts.items():
            total[category] += n
    return {
        "overall": d.revenue_at_risk(by_channel, values),
        "by_campaign": by_campaign,
        "by_channel": {
            channel: d.revenue_at_risk({channel: counts}, values)
            for channel, counts in by_channel.items()
        },
    }


def _credit(millionths):
    """Millionths of a lead as a Decimal with six places."""
    return Decimal(millionths).scaleb(-6)


def _cents(cents):
    return Decimal(cents).scaleb(-2)


def attribution(filters, model=a.DEFAULT_MODEL):
    """Attributed leads, pipeline (deal value of the leads that reached opportunity) and won
    revenue per credited campaign under ``model`` for a cohort (two queries): rows
    ``{"campaign": Campaign or None, "name", "leads", "pipeline", "won_revenue"}`` (Decimals: six
    places, money two), most won revenue first, and their totals, which equal the cohort's
    generated, pipeline and won_value exactly."""
    if model not in a.MODELS:
        raise ValueError(model)
    sums = (
        _rows(AttributionStats, filters)
        .values("credited")
        .annotate(
            credit=Coalesce(Sum(f"{model}_credit"), Value(0)),
            pipeline=Coalesce(Sum(f"{model}_pipeline_cents"), Value(0)),
            won=Coalesce(Sum(f"{model}_won_cents"), Value(0)),
        )
        .filter(Q(credit__gt=0) | Q(pipeline__gt=0) | Q(won__gt=0))
        .order_by()
    )
    sums = list(sums)
    names = Campaign.objects.in_bulk(
        [row["credited"] for row in sums if row["credited"] is not None]
    )
    rows = [
        {
            "campaign": names.get(row["credited"]),
            "name": (names[row["credited"]].name if row["credited"] is not None else NO_CAMPAIGN),
            "leads": _credit(row["credit"]),
            "pipeline": _cents(row["pipeline"]),
            "won_revenue": _cents(row["won"]),
        }
        for row in sums
    ]
    rows.sort(
        key=lambda r: (
            -r["won_revenue"],
            -r["leads"],
            r["campaign"] is None,
            str(r["name"]),
        )
    )
    label, explanation = a.MODELS[model]
    return {
        "model": model,
        "label": label,
        "explanation": explanation,
        "campaigns": rows,
        "totals": {
            "leads": _credit(sum(row["credit"] for row in sums)),
            "pipeline": _cents(sum(row["pipeline"] for row in sums)),
            "won_revenue": _cents(sum(row["won"] for row in sums)),
        },
    }


def attribution_json(data):
    """The JSON of ``attribution`` (/api/v1/attribution/ and /api/v1/funnel/'s
    ``attribution``): campaign ids, decimals as strings (credit six places, money two)."""

    def amounts(row):
        return {key: str(row[key]) for key in ("leads", "pipeline", "won_revenue")}

    return {
        "model": data["model"],
        "campaigns": [
            {
                "campaign": row["campaign"].pk if row["campaign"] else None,
                "name": str(row["name"]),
                **amounts(row),
            }
            for row in data["campaigns"]
        ],
        "totals": amounts(data["totals"]),
    }


def ball_dropped_by_rep(filters, values=None):
    """Per rep (current owner): where the ball dropped and its revenue at risk, each rep's
    as the salesperson filter counts it (rule (2) their own delays; one query, plus the
    comparable values unless given)."""
    values = comparable_values(filters.start) if values is None else values
    by_rep = {}
    for row in (
        _rows(CohortStats, filters)
        .filter(owner__isnull=False)
        .values("owner", "campaign__channel")
        .annotate(**_sums(RISK_SUMS))
        .order_by()
    ):
        by_rep.setdefault(row["owner"], {})[row["campaign__channel"]] = _buckets(row, True)
    return {
        owner: {
            "dropped": {
                c: sum(counts[c] for counts in channels.values()) for c in d.DROPPED_CATEGORIES
            },
            "revenue_at_risk": d.revenue_at_risk(channels, values),
        }
        for owner, channels in by_rep.items()
    }


def monthly(first, last, names, by=()):
    """Every CohortStats row of the days ``first``..``last`` summed per month of creation
    (the first of the month, a date) and ``by`` (one GROUP BY): the joint SLA's reader."""
    rows = (
        CohortStats.objects.filter(day__gte=first, day__lte=last)
        .annotate(month=TruncMonth("day"))
        .values("month", *by)
        .annotate(**_sums(names))
        .order_by("month")
    )
    for row in rows:
        if isinstance(row["month"], dt.datetime):
            row["month"] = row["month"].date()
        yield row


def grouped(filters, by):
    """Every count of the cohort per value of ``by`` ("campaign" or "campaign__channel"),
    with its rates, most leads first."""
    rows = (
        _rows(CohortStats, filters)
        .values(by)
        .annotate(**_sums(COHORT_SUMS))
        .order_by("-generated", by)
    )
    return [{**row, **d.rates(row)} for row in rows]


def first_day(campaign):
    """The creation day of the campaign's first lead, from the statistics (None if none)."""
    return (
        CohortStats.objects.filter(campaign=campaign, generated__gt=0)
        .order_by("day")
        .values_list("day", flat=True)
        .first()
    )


# The campaign list's columns, summed over each campaign's every day.
CAMPAIGN_LIST_SUMS = ("generated", "handed_off", "accepted", "accepted_handed", "won", "won_value")


def campaign_totals(campaign_ids):
    """{campaign id: its leads' lifetime CAMPAIGN_LIST_SUMS} for the given campaigns (a
    page of the campaign list): one GROUP BY over their statistics rows, read from
    cohortstats_campaign_totals_idx alone."""
    return {
        row.pop("campaign"): row
        for row in CohortStats.objects.filter(campaign__in=list(campaign_ids))
        .values("campaign")
        .annotate(**_sums(CAMPAIGN_LIST_SUMS))
        .order_by()
    }


def campaign_total(name):
    """One lifetime sum of a campaign's statistics as a correlated subquery, to sort the
    campaign list on (one index-only range scan per campaign)."""
    rows = (
        CohortStats.objects.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(total=Sum(name))
        .values("total")
    )
    zero = Value(Decimal("0.00") if name == "won_value" else 0)
    return Coalesce(Subquery(rows), zero)


def speed_and_court(filters, user=None, data=None, now=None):
    """Speed to lead, court time, attempts and honesty (SPEC §5) for a cohort: the counts
    from the statistics (``data``: a ``funnel`` to share its sums), the percentiles from
    the raw leads (percentiles.py), the leads each side has held longest (only with a
    ``user``, within their scope) and each rep's contacts logged late."""
    now = now or timezone.now()
    sums = (data or funnel(filters, with_median=False))["_sums"]
    pct = percentiles.cohort_percentiles(filters, now)
    inquiries = sum(sums[d.speed_column("attempt", band)] for band in d.SPEED_BAND_NAMES)
    speed = {}
    for reach, (_field, label) in d.SPEED_REACHES.items():
        bands = [
            {
                "key": key,
                "label": band_label,
                "count": sums[d.speed_column(reach, key)],
                "share": d.rate(sums[d.speed_column(reach, key)], inquiries),
            }
            for key, band_label in (
                *((name, band_label) for name, _limit, band_label in d.SPEED_BANDS),
                d.NEVER,
            )
        ]
        spans = pct["speed"][reach]
        speed[reach] = {
            "key": reach,
            "label": label,
            "inquiries": inquiries,
            "reached": inquiries - bands[-1]["count"],
            "bands": bands,
            **spans["total"],
            "marketing_share": spans["marketing_share"],
            "sales_share": spans["sales_share"],
        }
    attempted, connected = speed["attempt"]["reached"], speed["connect"]["reached"]
    policy = global_policy()
    attempts = {
        "attempted": attempted,
        "connected": connected,
        "median_before_connect": pct["attempts_median"],
        "after": policy.unreached_attempts,
        "unreached": sums["unreached"],
        "unreached_share": d.rate(sums["unreached"], attempted),
    }
    by_campaign, by_rep = pct["court"]["marketing"]["by"], pct["court"]["sales"]["by"]
    # Per side: the objects its medians are grouped by, under what key, sorted by what name.
    groups = {
        "marketing": (
            "campaign",
            {c.pk: c for c in filters.campaigns().filter(pk__in=by_campaign)},
            lambda campaign: campaign.name,
        ),
        "sales": (
            "rep",
            {u.pk: u for u in User.objects.filter(pk__in=by_rep)},
            lambda rep: rep.get_username(),
        ),
    }
    court = {}
    for side, (key, objects, name) in groups.items():
        medians = pct["court"][side]
        court[side] = {
            "median": medians["median"],
            "by": sorted(
                (
                    {key: objects[pk], "median": median}
                    for pk, median in medians["by"].items()
                    if pk in objects
                ),
                key=lambda row, key=key, name=name: (-(row["median"] or 0), name(row[key])),
            ),
        }
    if user is not None:
        for side in d.COURT_SIDES:
            court[side]["held_longest"] = percentiles.held_longest(filters, user, side, now)
    honesty_rows = (
        _rows(RepStats, filters)
        .values("rep")
        .annotate(**_sums(("contacts", "contacts_late")))
        .filter(contacts__gt=0)
        .order_by()
    )
    honest = {row["rep"]: row for row in honesty_rows}
    names = {u.pk: u for u in User.objects.filter(pk__in=honest)}
    contacts = sum(row["contacts"] for row in honest.values())
    late = sum(row["contacts_late"] for row in honest.values())
    honesty = {
        "contacts": contacts,
        "late": late,
        "late_share": d.rate(late, contacts),
        "by_rep": sorted(
            (
                {
                    "rep": names[pk],
                    "contacts": row["contacts"],
                    "late": row["contacts_late"],
                    "late_share": d.rate(row["contacts_late"], row["contacts"]),
                }
                for pk, row in honest.items()
            ),
            key=lambda row: (-row["late_share"], row["rep"].get_username()),
        ),
    }
    return {"speed": speed, "attempts": attempts, "court": court, "honesty": honesty}


def _minutes(value):
    return None if value is None else round(value, 1)


def _spread(values):
    return {"median_minutes": _minutes(values["median"]), "p90_minutes": _minutes(values["p90"])}


def clock_json(clock):
    """The JSON of ``speed_and_court`` (/api/v1/funnel/'s speed_to_lead, court_time,
    attempts and honesty): ids for objects, minutes rounded to 0.1."""
    speed = {"inquiries": clock["speed"]["attempt"]["inquiries"]}
    for reach, data in clock["speed"].items():
        speed[reach] = {
            "reached": data["reached"],
            "bands": {band["key"]: band["count"] for band in data["bands"]},
            **_spread(data),
            "marketing_share": _spread(data["marketing_share"]),
            "sales_share": _spread(data["sales_share"]),
        }
    court = {}
    for side, by, key in (("marketing", "by_campaign", "campaign"), ("sales", "by_rep", "rep")):
        data = clock["court"][side]
        court[side] = {
            "median_minutes": _minutes(data["median"]),
            by: [
                {key: row[key].pk, "median_minutes": _minutes(row["median"])} for row in data["by"]
            ],
        }
        if "held_longest" in data:
            court[side]["held_longest"] = [
                {"lead": lead.pk, "minutes": lead.court_minutes} for lead in data["held_longest"]
            ]
    attempts = clock["attempts"]
    honesty = clock["honesty"]
    return {
        "speed_to_lead": speed,
        "court_time": court,
        "attempts": {
            "attempted": attempts["attempted"],
            "connected": attempts["connected"],
            "median_before_connect": attempts["median_before_connect"],
            "unreached_after": attempts["after"],
            "unreached": attempts["unreached"],
            "unreached_share": attempts["unreached_share"],
        },
        "honesty": {
            "contacts": honesty["contacts"],
            "logged_late": honesty["late"],
            "late_share": honesty["late_share"],
            "by_rep": [
                {
                    "rep": row["rep"].pk,
                    "contacts": row["contacts"],
                    "logged_late": row["late"],
                    "late_share": row["late_share"],
                }
                for row in honesty["by_rep"]
            ],
        },
    }


def funnel_json(filters, user=None, model=a.DEFAULT_MODEL):
    """/api/v1/funnel/: the funnel of SPEC §6 and, after it, speed to lead, court time,
    attempts and honesty (the leads held longest only with a ``user``, in their scope) and
    the attribution under ``model``."""
    data = funnel(filters)
    out = {key: data[key] for key in d.FUNNEL_KEYS}
    out["won_value"] = money(data["won_value"])
    out.update({key: money(value) for key, value in costs(filters, data).items()})
    median = data["median_hours_to_first_contact"]
    out["median_hours_to_first_contact"] = None if median is None else round(median, 2)
    out.update(clock_json(speed_and_court(filters, user, data)))
    out["attribution"] = attribution_json(attribution(filters, model))
    out["revenue_at_risk"] = {
        c: str(money) for c, money in revenue_at_risk(filters)["overall"].items()
    }
    return out


def marketing_scorecard(filters):
    names = (*d.MARKETING_COUNTS, "won_value", *REJECTION_COLUMNS.values())
    rows, reasons, flags = {}, {}, {}
    for row in (
        _rows(CohortStats, filters)
        .values("campaign")
        .annotate(**_sums((*names, "mflags_raised", "mflags_open")))
        .order_by()
    ):
        cid = row["campaign"]
        rows[cid] = row
        reasons[cid] = {
            reason: row[column] for reason, column in REJECTION_COLUMNS.items() if row[column]
        }
        flags[cid] = {"raised": row["mflags_raised"], "open": row["mflags_open"]}
    return assemble_marketing(filters, rows, reasons, flags)


def sales_scorecard(filters, sla_minutes=None, medians=None):
    owned = {
        row["owner"]: {**row, "handed": row["handed_off"]}
        for row in _rows(CohortStats, filters)
        .filter(owner__isnull=False)
        .values("owner")
        .annotate(
            **_sums(("handed_off", "contacted_in_sla", "accepted", "won", "lost", "won_value"))
        )
        .order_by()
    }
    received, follow_ups, flags, objections, false_rejections, overturned = {}, {}, {}, {}, {}, {}
    for row in _rows(RepStats, filters).values("rep").annotate(**_sums(REP_SUMS)).order_by():
        rep = row["rep"]
        received[rep] = row
        follow_ups[rep] = row["follow_ups"]
        flags[rep] = {"raised": row["sflags_raised"], "open": row["sflags_open"]}
        heard = [(tag, row[column]) for tag, column in OBJECTION_COLUMNS.items() if row[column]]
        objections[rep] = sorted(heard, key=lambda item: (-item[1], item[0]))
        false_rejections[rep] = row["false_rejections"]
        overturned[rep] = row["overturned"]
    return assemble_sales(
        filters,
        received=received,
        owned=owned,
        follow_ups=follow_ups,
        flags=flags,
        objections=objections,
        false_rejections=false_rejections,
        overturned=overturned,
        medians=(medians[1] if medians is not None else median_hours_by_owner(filters.cohort())),
    )


def reasons(filters, funnel_data=None):
    data = (funnel_data or funnel(filters))["_sums"]
    rejection = {r: data[c] for r, c in REJECTION_COLUMNS.items() if data[c]}
    lost = {r: data[c] for r, c in LOST_COLUMNS.items() if data[c]}
    return rejection, lost


def objections_by_campaign(filters, top=3):
    out = {}
    for row in (
        _rows(CohortStats, filters)
        .values("campaign")
        .annotate(**_sums(OBJECTION_COLUMNS.values()))
        .order_by("campaign")
    ):
        heard = [(tag, row[column]) for tag, column in OBJECTION_COLUMNS.items() if row[column]]
        heard.sort(key=lambda item: (-item[1], item[0]))
        if heard:
            out[row["campaign"]] = heard[:top]
    return out


def weekly_trend(filters, sla_minutes=None):
    rows = (
        _rows(CohortStats, filters)
        .annotate(week=TruncWeek("day"))
        .values("week")
        .annotate(
            **_sums(
                (
                    "generated",
                    "mql",
                    "handed_off",
                    "accepted",
                    "accepted_handed",
                    "contacted_in_sla",
                    "won",
                )
            )
        )
        .order_by("week")
    )
    out = []
    for row in rows:
        week = row["week"]
        if isinstance(week, dt.datetime):
            week = week.date()
        out.append(
            {
                **row,
                "week": week,
                "acceptance_rate": d.rate(row["accepted_handed"], row["handed_off"]),
                "contact_in_sla_rate": d.rate(row["contacted_in_sla"], row["handed_off"]),
            }
        )
    return out


# --- assembling the scorecards ------------------------------------------------------


def assemble_marketing(filters, rows, reasons, flags):
    """The scorecard tables from per-campaign numbers (shared by the raw and the
    pre-aggregated paths): rows[campaign_id] has MARKETING_COUNTS and won_value,
    reasons[campaign_id] = {reason: n}, flags[campaign_id] = {"raised", "open"}."""
    campaigns = list(filters.campaigns().order_by("name"))
    spends = campaign_spend.spend_by_campaign(filters.start, filters.end, filters.campaigns())
    table = []
    for campaign in campaigns:
        row = rows.get(campaign.pk)
        if row is None and filters.owner is not None:
            continue
        row = row or {
            "generated": 0,
            "mql": 0,
            "handed_off": 0,
            "accepted": 0,
            "accepted_handed": 0,
            "rejected": 0,
            "won": 0,
            "won_value": Decimal("0"),
        }
        flag = flags.get(campaign.pk, {})
        table.append(
            {
                "campaign": campaign,
                "channel": campaign.channel,
                **{
                    k: row[k]
                    for k in ("generated", "mql", "handed_off", "accepted", "rejected", "won")
                },
                "won_value": row["won_value"],
                "accepted_handed": row["accepted_handed"],
                "acceptance_rate": d.rate(row["accepted_handed"], row["handed_off"]),
                "rejection_reasons": reasons.get(campaign.pk, {}),
                "spend": spends.get(campaign.pk, campaign_spend.ZERO),
                "cost_per_lead": d.cost_per(spends.get(campaign.pk, 0), row["generated"]),
                "cost_per_won": d.cost_per(spends.get(campaign.pk, 0), row["won"]),
                "flags_raised": flag.get("raised", 0),
                "flags_open": flag.get("open", 0),
            }
        )
    channels = {}
    for row in table:
        agg = channels.setdefault(
            row["channel"],
            {
                "channel": row["channel"],
                "label": Channel(row["channel"]).label,
                "generated": 0,
                "mql": 0,
                "handed_off": 0,
                "accepted": 0,
                "accepted_handed": 0,
                "rejected": 0,
                "won": 0,
                "won_value": Decimal("0"),
                "spend": Decimal("0"),
                "flags_raised": 0,
                "flags_open": 0,
                "rejection_reasons": {},
            },
        )
        for key in (
            "generated",
            "mql",
            "handed_off",
            "accepted",
            "accepted_handed",
            "rejected",
            "won",
            "won_value",
            "spend",
            "flags_raised",
            "flags_open",
        ):
            agg[key] += row[key]
        for reason, n in row["rejection_reasons"].items():
            agg["rejection_reasons"][reason] = agg["rejection_reasons"].get(reason, 0) + n
    for agg in channels.values():
        agg["acceptance_rate"] = d.rate(agg["accepted_handed"], agg["handed_off"])
        agg["cost_per_lead"] = d.cost_per(agg["spend"], agg["generated"])
        agg["cost_per_won"] = d.cost_per(agg["spend"], agg["won"])
    return {
        "campaigns": table,
        "channels": sorted(channels.values(), key=lambda c: -c["generated"]),
        # Every campaign of the filter, shown in the table or not (a salesperson filter
        # leaves out campaigns without their leads): the sum of the rounded spends.
        "spend": campaign_spend.total(spends.values()),
    }


def costs(filters, funnel_data, marketing=None):
    """Cost per lead = spend of the campaigns in the filter during the period (entries
    prorated by day, campaigns/spend.py) / generated; per won deal = that spend / won.
    ``marketing``: the scorecard, to share its spend query."""
    if marketing is None:
        spends = campaign_spend.spend_by_campaign(filters.start, filters.end, filters.campaigns())
        spend = campaign_spend.total(spends.values())
    else:
        spend = marketing["spend"]
    return {
        "spend": spend,
        "cost_per_lead": d.cost_per(spend, funnel_data["generated"]),
        "cost_per_won": d.cost_per(spend, funnel_data["won"]),
    }


def money(value):
    """Money in the API and the CSVs: a plain decimal string with two places, or None."""
    return None if value is None else f"{Decimal(value).quantize(Decimal('0.01'))}"


def assemble_sales(
    filters,
    *,
    received,
    owned,
    follow_ups,
    flags,
    objections,
    false_rejections,
    overturned,
    medians,
):
    """The sales scorecard rows from per-rep numbers (shared by the raw and the
    pre-aggregated paths)."""
    reps = list(User.objects.filter(groups__name=roles.SALES).order_by("username").distinct())
    if filters.owner is not None:
        reps = [r for r in reps if r.pk == filters.owner.pk]
    table = []
    for rep in reps:
        got = received.get(rep.pk, {})
        own = owned.get(rep.pk, {})
        rejected = got.get("rejected", 0)
        wrong = false_rejections.get(rep.pk, 0) + overturned.get(rep.pk, 0)
        table.append(
            {
                "rep": rep,
                "received": got.get("received", 0),
                "accepted": got.get("accepted", 0),
                "acceptance_rate": d.rate(got.get("accepted", 0), got.get("received", 0)),
                "contacted_in_sla": own.get("contacted_in_sla", 0),
                "contact_in_sla_rate": d.rate(
                    own.get("contacted_in_sla", 0), own.get("handed", 0)
                ),
                "median_hours_to_first_contact": medians.get(rep.pk),
                "follow_ups": follow_ups.get(rep.pk, 0),
                "won": own.get("won", 0),
                "lost": own.get("lost", 0),
                "win_rate": d.rate(own.get("won", 0), own.get("accepted", 0)),
                "won_value": own.get("won_value", Decimal("0")),
                "flags_open": flags.get(rep.pk, {}).get("open", 0),
                "flags_raised": flags.get(rep.pk, {}).get("raised", 0),
                "objections": objections.get(rep.pk, [])[:3],
                "rejected": rejected,
                "false_rejections": false_rejections.get(rep.pk, 0),
                "overturned": overturned.get(rep.pk, 0),
                "rejection_accuracy": (None if not rejected else max(0.0, 1 - wrong / rejected)),
            }
        )
    return table
