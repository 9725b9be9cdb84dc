"""Medians of the dashboard, from the raw leads (an exact median cannot be summed from
pre-aggregated rows), and the false-rejection list. Each reads only the cohort's leads
through an index (lead_contact_delay_idx)."""

import datetime as dt

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    Window,
)
from django.db.models.functions import RowNumber

from leadflow import roles
from sales.models import Handoff, HandoffOutcome

from ..models import Lead, Stage


class _EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


class Median(Aggregate):
    """PERCENTILE_CONT(0.5) on PostgreSQL; other databases use ``median_by_offset``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def hours_between(later, earlier):
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


def _seconds(value):
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value) / 1_000_000  # SQLite returns microseconds


def median_hours_to_first_contact(cohort):
    """Median over leads with both set of first_contact_at - handed_off_at, in hours."""
    both = cohort.filter(first_contact_at__isnull=False, handed_off_at__isnull=False)
    if connection.vendor == "postgresql":
        epoch = ExpressionWrapper(
            _EpochSeconds(F("first_contact_at")) - _EpochSeconds(F("handed_off_at")),
            output_field=FloatField(),
        )
        value = both.aggregate(m=Median(epoch))["m"]
        return None if value is None else value / 3600
    delay = hours_between("first_contact_at", "handed_off_at")
    ordered = both.annotate(delay=delay).order_by("delay").values_list("delay", flat=True)
    n = both.count()
    if not n:
        return None
    middle = list(ordered[(n - 1) // 2 : n // 2 + 1])
    return sum(_seconds(v) for v in middle) / len(middle) / 3600


def medians_with_owners(cohort):
    """(overall median, {owner_id: median}) of first_contact_at - handed_off_at in hours.

    On PostgreSQL one pass: the filtered queryset is compiled by the ORM and wrapped in
    PERCENTILE_CONT ... GROUP BY ROLLUP(owner_id), so the overall and per-rep medians share
    a single index-only scan of the cohort (lead_contact_delay_idx)."""
    if connection.vendor != "postgresql":
        return median_hours_to_first_contact(cohort), median_hours_by_owner(cohort)
    both = (
        cohort.filter(first_contact_at__isnull=False, handed_off_at__isnull=False)
        .values("owner", "first_contact_at", "handed_off_at")
        .order_by()
    )
    sql, params = both.query.sql_with_params()
    rollup = (
        "SELECT grouping(owner) = 1, owner, PERCENTILE_CONT(0.5) WITHIN GROUP "
        "(ORDER BY EXTRACT(EPOCH FROM first_contact_at - handed_off_at)) "
        f"FROM ({sql}) AS cohort GROUP BY ROLLUP (owner)"
    )
    overall, by_owner = None, {}
    with connection.cursor() as cursor:
        cursor.execute(rollup, params)
        for is_total, owner, seconds in cursor.fetchall():
            hours = None if seconds is None else seconds / 3600
            if is_total:
                overall = hours
            elif owner is not None:
                by_owner[owner] = hours
    return overall, by_owner


def median_hours_by_owner(cohort):
    both = cohort.filter(
        owner__isnull=False, first_contact_at__isnull=False, handed_off_at__isnull=False
    )
    if connection.vendor == "postgresql":
        epoch = ExpressionWrapper(
            _EpochSeconds(F("first_contact_at")) - _EpochSeconds(F("handed_off_at")),
            output_field=FloatField(),
        )
        return {
            row["owner"]: row["m"] / 3600
            for row in both.values("owner").annotate(m=Median(epoch)).order_by()
        }
    # Elsewhere: number each owner's delays in order with window functions and average the
    # middle one or two rows (one query whatever the number of reps or leads).
    delay = hours_between("first_contact_at", "handed_off_at")
    ranked = both.annotate(
        delay=delay,
        position=Window(RowNumber(), partition_by=[F("owner")], order_by=delay.asc()),
        size=Window(Count("id"), partition_by=[F("owner")]),
    )
    middle = ranked.filter(
        Q(position=(F("size") + 1) / 2) | Q(position=F("size") / 2 + 1)
    ).values_list("owner", "delay", "size", "position")
    out = {}
    for owner, value, size, position in middle:
        if size % 2 == 1 and position != (size + 1) // 2:
            continue
        out.setdefault(owner, []).append(_seconds(value) / 3600)
    return {owner: sum(values) / len(values) for owner, values in out.items()}


def false_rejection_handoffs(filters):
    """Rejections of leads that later reached won (after a re-handoff): counted against the
    rejecting rep's rejection accuracy."""
    return Handoff.objects.filter(
        filters.q("lead__"),
        outcome=HandoffOutcome.REJECTED,
        to_user__isnull=False,
        lead__stage=Stage.WON,
    )


def false_rejections(filters, user, limit=50):
    """The dashboard's list of false rejections as ``user`` may see it: everyone's for
    marketing and managers; for a rep only their own rejections, of leads in their scope
    (Lead.objects.for_user): the figures per rep stay everyone's, but no list names a lead
    the user may not open."""
    handoffs = false_rejection_handoffs(filters)
    if not roles.can_market(user):
        handoffs = handoffs.filter(to_user=user, lead__in=Lead.objects.for_user(user))
    return list(
        handoffs.select_related("lead", "to_user", "lead__owner").order_by(
            "-lead__closed_at", "-id"
        )[:limit]
    )
