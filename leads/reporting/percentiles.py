"""Percentiles of the dashboard (SPEC §5) from the raw leads of a cohort: speed to lead,
court time and attempts. A percentile cannot be summed from pre-aggregated rows, so these
read the cohort's leads, every overall figure in one query (PostgreSQL sorts each
duration once for its median and its 90th percentile) and each per-group median in one
more. The definitions of what is measured over which leads are in definitions.py."""

import math

from django.db import connection
from django.db.models import Aggregate, F, FloatField, Func
from django.utils import timezone

from ..models import Lead
from . import definitions as d


class Percentile(Aggregate):
    """PERCENTILE_CONT(``fraction``) of an expression, linear between the two nearest rows
    (PostgreSQL). Elsewhere ``_fallback`` computes the same from the values."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


class SpanMinutes(Func):
    """``later`` - ``earlier`` in minutes (a float). On PostgreSQL DATE_PART, not EXTRACT:
    EXTRACT returns numeric (since PostgreSQL 14), and numeric arithmetic and its cast to
    the percentiles' double precision took about a third of the 1M-lead percentile query
    (benchmarks/README.md, run D)."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="(DATE_PART('epoch', %(expressions)s) / 60.0)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="(django_timestamp_diff(%(expressions)s) / 60000000.0)",
            **extra_context,
        )


def percentile_cont(values, fraction):
    """PERCENTILE_CONT of sorted ``values`` (None when there are none)."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def _specs(now):
    """{name: (expression, population Q, fraction)} of every overall percentile."""
    out = {}
    for reach, spans in d.SPEED_SPANS.items():
        for span, (later, earlier) in spans.items():
            for stat, fraction in d.PERCENTILES:
                out[f"{reach}_{span}_{stat}"] = (
                    SpanMinutes(F(later), F(earlier)),
                    d.reached_q(reach),
                    fraction,
                )
    for side, (_stages, population) in d.COURT_SIDES.items():
        out[f"court_{side}_median"] = (d.court_minutes(side, now), population, 0.5)
    out["attempts_median"] = (F("attempts_before_connect"), d.CONNECTED, 0.5)
    return out


def _aggregate(cohort, specs):
    if connection.vendor == "postgresql":
        return cohort.aggregate(
            **{
                name: Percentile(expression, fraction, filter=population)
                for name, (expression, population, fraction) in specs.items()
            }
        )
    # SQLite (development): each population's values in one query, sorted here.
    by_population = {}
    for name, (expression, population, _fraction) in specs.items():
        by_population.setdefault(str(population), (population, {}))[1][name] = expression
    out = {}
    for population, expressions in by_population.values():
        rows = list(
            cohort.filter(population)
            .annotate(**{f"v_{name}": e for name, e in expressions.items()})
            .values_list(*(f"v_{name}" for name in expressions))
            .order_by()
        )
        for i, name in enumerate(expressions):
            values = sorted(row[i] for row in rows if row[i] is not None)
            out[name] = percentile_cont(values, specs[name][2])
    return out


def _grouped(cohort, by, expression, population):
    """{value of ``by``: median of ``expression``} over the ``population`` of the cohort."""
    qs = cohort.filter(population).exclude(**{f"{by}__isnull": True})
    if connection.vendor == "postgresql":
        return {
            row[by]: row["m"]
            for row in qs.values(by).annotate(m=Percentile(expression, 0.5)).order_by()
        }
    groups = {}
    for key, value in qs.annotate(v=expression).values_list(by, "v").order_by():
        groups.setdefault(key, []).append(value)
    return {key: percentile_cont(sorted(vals), 0.5) for key, vals in groups.items()}


def cohort_percentiles(filters, now=None):
    """Every percentile of the cohort: ``speed`` {reach: {span: {"median", "p90"}}} in
    minutes, ``court`` {side: {"median", "by": {campaign or rep id: median}}} in minutes,
    and ``attempts_median`` (attempts before the first connect, over connected leads)."""
    now = now or timezone.now()
    cohort = filters.cohort()
    flat = _aggregate(cohort, _specs(now))
    speed = {
        reach: {
            span: {stat: flat[f"{reach}_{span}_{stat}"] for stat, _fraction in d.PERCENTILES}
            for span in spans
        }
        for reach, spans in d.SPEED_SPANS.items()
    }
    court = {}
    for side, by in (("marketing", "campaign"), ("sales", "owner")):
        population = d.COURT_SIDES[side][1]
        court[side] = {
            "median": flat[f"court_{side}_median"],
            "by": _grouped(cohort, by, d.court_minutes(side, now), population),
        }
    return {"speed": speed, "court": court, "attempts_median": flat["attempts_median"]}


def held_longest(filters, user, side, now=None, limit=10):
    """The leads of the cohort ``side`` holds right now, longest held first (its active
    court minutes as ``court_minutes``), only those ``user`` may open (SPEC §5)."""
    now = now or timezone.now()
    population = d.COURT_SIDES[side][1]
    court, order = d.court_minutes(side, now), ("-court_minutes", "created_at", "id")
    # The top ids first, from the columns lead_cohort_clock_idx holds (no table rows
    # for the whole cohort), then only those leads in full.
    top = (
        Lead.objects.for_user(user)
        .filter(filters.q(), population, d.holding_q(side))
        .annotate(court_minutes=court)
        .order_by(*order)
        .values("pk")[:limit]
    )
    return list(
        Lead.objects.filter(pk__in=top)
        .annotate(court_minutes=court)
        .select_related("owner", "campaign")
        .order_by(*order)
    )
