"""Pre-aggregated dashboard statistics (CohortStats, RepStats).

At a million leads the raw definitions of leads/metrics.py take seconds per dashboard;
summing a few thousand pre-aggregated rows takes milliseconds. The rows are rebuilt from
the raw tables, whole creation days at a time, for every day whose leads changed:

* ``refresh()`` finds those days from ``Lead.updated_at`` (every service saves the lead)
  and from flags raised or resolved since the watermark (the sweep does not touch leads),
  with an overlap for transactions that committed late; the dashboard calls it before
  reading, and beat runs it every minute.
* ``rebuild()`` recomputes everything (after seed_demo, a change of the first-contact SLA,
  and nightly as a safety net).

The readers below return exactly the structures of leads/metrics.py, which stays the
reference: tests/dashboard/test_stats.py proves the two agree.
"""

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils import timezone

from sales.models import Activity, Dispute, Handoff, Objection, ObjectionTag

from . import metrics
from .filters import start_of_day
from .models import (
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
from .sla import global_policy

logger = logging.getLogger(__name__)

# A change is stamped (updated_at, raised_at) before its transaction commits; one that
# commits up to this long after the stamp is still picked up by the next refresh. The
# services' transactions last milliseconds; anything later waits for the nightly rebuild.
# Every refresh within this window re-does the days it saw, so it is kept short.
OVERLAP = dt.timedelta(seconds=15)
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
    *REJECTION_COLUMNS.values(),
    *LOST_COLUMNS.values(),
    *OBJECTION_COLUMNS.values(),
    "mflags_raised",
    "mflags_open",
)
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


def _cohort_rows(runs, sla_hours):
    """CohortStats objects for the given day runs, from the raw tables (five queries)."""
    leads = Lead.objects.filter(_created_in(runs))
    day = TruncDate("created_at", tzinfo=_tz())
    lead_day = TruncDate("lead__created_at", tzinfo=_tz())
    in_sla = Q(
        handed_off_at__isnull=False,
        first_contact_at__lte=F("handed_off_at") + dt.timedelta(hours=sla_hours),
    )
    out = {}
    for row in (
        metrics.with_sales_delay(leads)
        .annotate(day=day)
        .values("day", "campaign", "owner", "origin")
        .annotate(
            generated=Count("id"),
            mql=Count("id", filter=Q(mql_at__isnull=False)),
            handed_off=Count("id", filter=Q(handed_off_at__isnull=False)),
            accepted=Count("id", filter=Q(accepted_at__isnull=False)),
            accepted_handed=Count("id", filter=metrics.ACCEPTED_HANDED),
            contacted=Count("id", filter=Q(first_contact_at__isnull=False)),
            opportunity=Count("id", filter=Q(opportunity_at__isnull=False)),
            won=Count("id", filter=Q(stage=Stage.WON)),
            lost=Count("id", filter=Q(stage=Stage.LOST)),
            rejected=Count("id", filter=Q(rejected_at__isnull=False)),
            won_value=Coalesce(
                Sum("deal_value", filter=Q(stage=Stage.WON)), Value(Decimal("0.00"))
            ),
            contacted_in_sla=Count("id", filter=in_sla),
            **{
                f"dropped_{c}": Count("id", filter=metrics.dropped_q(c))
                for c in metrics.DROPPED_CATEGORIES
            },
            **{
                column: Count("id", filter=Q(stage=Stage.LOST, lost_reason=reason))
                for reason, column in LOST_COLUMNS.items()
            },
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
        Handoff.objects.filter(_created_in(runs, "lead__"), outcome="rejected")
        .annotate(day=lead_day)
        .values(*group, "rejection_reason")
        .annotate(n=Count("id"))
        .order_by()
    ):
        column = REJECTION_COLUMNS.get(row["rejection_reason"])
        if column:
            add(row, **{column: row["n"]})
    for row in (
        Objection.objects.filter(_created_in(runs, "lead__"))
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
            accepted=Count("lead", filter=Q(outcome="accepted"), distinct=True),
            rejected=Count("id", filter=Q(outcome="rejected")),
            false_rejections=Count(
                "lead", filter=Q(outcome="rejected", lead__stage=Stage.WON), distinct=True
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
        Dispute.objects.filter(in_runs, ruling="overturned", handoff__to_user__isnull=False)
        .annotate(day=lead_day)
        .values(*group, "handoff__to_user")
        .annotate(n=Count("id"))
        .order_by()
    ):
        add(row, row["handoff__to_user"], overturned=row["n"])
    for row in (
        Activity.objects.filter(in_runs)
        .annotate(day=lead_day)
        .values(*group, "user")
        .annotate(n=Count("id"))
        .order_by()
    ):
        add(row, row["user"], follow_ups=row["n"])
    for row in (
        Objection.objects.filter(in_runs)
        .annotate(day=lead_day)
        .values(*group, "activity__user", "tag")
        .annotate(n=Count("id"))
        .order_by()
    ):
        add(row, row["activity__user"], **{OBJECTION_COLUMNS[row["tag"]]: row["n"]})
    for row in (
        Flag.objects.filter(in_runs, side=Side.SALES, responsible__isnull=False)
        .annotate(day=lead_day)
        .values(*group, "responsible")
        .annotate(raised=Count("id"), open=Count("id", filter=Q(resolved_at__isnull=True)))
        .order_by()
    ):
        add(row, row["responsible"], sflags_raised=row["raised"], sflags_open=row["open"])
    return list(out.values())


def rebuild_days(days, sla_hours=None):
    """Replace the statistics of ``days`` (dates) with fresh ones from the raw tables."""
    days = sorted(set(days))
    if not days:
        return 0
    sla_hours = sla_hours if sla_hours is not None else global_policy().first_contact_hours
    runs = _ranges(days)
    with transaction.atomic():
        cohort = _cohort_rows(runs, sla_hours)
        reps = _rep_rows(runs)
        CohortStats.objects.filter(day__in=days).delete()
        RepStats.objects.filter(day__in=days).delete()
        CohortStats.objects.bulk_create(cohort, batch_size=1000)
        RepStats.objects.bulk_create(reps, batch_size=1000)
    return len(days)


def _state():
    state = StatsState.objects.select_for_update().order_by("pk").first()
    return state or StatsState.objects.create()


def rebuild(*, chunk_days=31):
    """Recompute every day that has leads, a month at a time (bounded memory)."""
    sla_hours = global_policy().first_contact_hours
    started = timezone.now()
    bounds = Lead.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    with transaction.atomic():
        CohortStats.objects.all().delete()
        RepStats.objects.all().delete()
    if bounds["first"] is not None:
        day = timezone.localtime(bounds["first"]).date()
        last = timezone.localtime(bounds["last"]).date()
        while day <= last:
            end = min(last, day + dt.timedelta(days=chunk_days - 1))
            rebuild_days(
                [day + dt.timedelta(days=i) for i in range((end - day).days + 1)], sla_hours
            )
            day = end + dt.timedelta(days=1)
    with transaction.atomic():
        state = _state()
        state.refreshed_at = started
        state.rebuilt_at = timezone.now()
        state.sla_hours = sla_hours
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
    from .tasks import refresh_dashboard_stats

    with transaction.atomic():
        state = _state()
        sla_hours = global_policy().first_contact_hours
        if state.rebuilt_at is None or state.sla_hours != sla_hours:
            if max_days is not None and Lead.objects.count() > 20_000:
                transaction.on_commit(lambda: refresh_dashboard_stats.delay(full=True))
                return False
            needs_rebuild = True
        else:
            needs_rebuild = False
            now = timezone.now()
            since = state.refreshed_at - OVERLAP
            if max_days is not None and changed_rows_exceed(since, INLINE_ROWS):
                transaction.on_commit(lambda: refresh_dashboard_stats.delay())
                return False
            days = dirty_days(since)
            if max_days is not None and len(days) > max_days:
                transaction.on_commit(lambda: refresh_dashboard_stats.delay())
                return False
            rebuild_days(days, sla_hours)
            state.refreshed_at = now
            state.save(update_fields=["refreshed_at"])
    if needs_rebuild:
        rebuild()
    return True


def refreshed_at():
    state = StatsState.objects.order_by("pk").first()
    return state.refreshed_at if state else None


# --- reading (the structures of leads/metrics.py) ----------------------------------------


def _rows(model, filters):
    qs = model.objects.filter(day__gte=filters.start, day__lte=filters.end)
    if filters.campaign is not None:
        qs = qs.filter(campaign=filters.campaign)
    if filters.channel:
        qs = qs.filter(campaign__channel=filters.channel)
    if filters.owner is not None:
        qs = qs.filter(owner=filters.owner)
    return qs


def _sums(names):
    return {
        name: Coalesce(Sum(name), Value(Decimal("0.00") if name == "won_value" else 0))
        for name in names
    }


def funnel(filters, sla_hours=None, medians=None):
    """metrics.funnel from the statistics: the sums, and the median from the raw leads
    (pass ``medians`` from ``metrics.medians_with_owners`` to share that query)."""
    data = _rows(CohortStats, filters).aggregate(**_sums(COHORT_SUMS))
    if medians is None:
        medians = (metrics.median_hours_to_first_contact(filters.cohort()), None)
    won_value = Decimal(data["won_value"] or 0).quantize(Decimal("0.01"))
    return {
        "generated": data["generated"],
        "mql": data["mql"],
        "handed_off": data["handed_off"],
        "accepted": data["accepted"],
        "accepted_handed": data["accepted_handed"],
        "contacted": data["contacted"],
        "opportunity": data["opportunity"],
        "won": data["won"],
        "lost": data["lost"],
        "won_value": won_value,
        "acceptance_rate": metrics._rate(data["accepted_handed"], data["handed_off"]),
        "contact_in_sla_rate": metrics._rate(data["contacted_in_sla"], data["handed_off"]),
        "median_hours_to_first_contact": medians[0],
        "win_rate": metrics._rate(data["won"], data["accepted"]),
        "ball_dropped": {c: data[f"dropped_{c}"] for c in metrics.DROPPED_CATEGORIES},
        "contacted_in_sla": data["contacted_in_sla"],
        "_sums": data,
    }


def funnel_json(filters):
    data = funnel(filters)
    out = {key: data[key] for key in metrics.FUNNEL_KEYS}
    out["won_value"] = str(data["won_value"])
    median = data["median_hours_to_first_contact"]
    out["median_hours_to_first_contact"] = None if median is None else round(median, 2)
    return out


def marketing_scorecard(filters):
    names = (*metrics.MARKETING_COUNTS, "won_value", *REJECTION_COLUMNS.values())
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
    return metrics.assemble_marketing(filters, rows, reasons, flags)


def sales_scorecard(filters, sla_hours=None, medians=None):
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
    return metrics.assemble_sales(
        filters,
        received=received,
        owned=owned,
        follow_ups=follow_ups,
        flags=flags,
        objections=objections,
        false_rejections=false_rejections,
        overturned=overturned,
        medians=(
            medians[1] if medians is not None else metrics.median_hours_by_owner(filters.cohort())
        ),
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


def weekly_trend(filters, sla_hours=None):
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
                "acceptance_rate": metrics._rate(row["accepted_handed"], row["handed_off"]),
                "contact_in_sla_rate": metrics._rate(row["contacted_in_sla"], row["handed_off"]),
            }
        )
    return out
