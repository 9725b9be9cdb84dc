"""The pipeline (SPEC §3): the board of a rep's open leads by stage, and the forecast per
rep and per month of expected close. Reads only; moving a card calls sales.services.

Whose pipeline: a rep sees their own; a manager chooses a rep, a team (sales.routing's
Team) or everyone (:func:`pipeline_owners`). Both are computed in the database: each
board column is an index range (lead_board_idx) cut at BOARD_LIMIT with a capped count,
and the forecast is two grouped aggregates (lead_forecast_idx, lead_won_closed_idx)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count, DateField, DecimalField, ExpressionWrapper, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.dates import start_of_day
from leadflow.errors import ActionForbidden, InvalidInput
from leads.filters import capped_counts
from leads.models import PIPELINE_PROBABILITY, WORKING_STAGES, Lead, Stage

from .models import Team

User = get_user_model()

BOARD_STAGES = WORKING_STAGES
BOARD_LIMIT = 50  # cards per column; the column says how many more there are
BOARD_COUNT_CAP = 10_000
MONEY = DecimalField(max_digits=16, decimal_places=2)
CENTS = Decimal("0.01")


def pipeline_owners(user, *, owner=None, team=None):
    """The reps whose pipeline ``user`` may see with these filters, as a queryset of user
    ids, or None for everyone (a manager with no filter). A rep sees only their own: naming
    another rep or a team is refused."""
    if roles.is_manager(user):
        if owner is not None:
            return User.objects.filter(pk=owner.pk).values("pk")
        if team is not None:
            return team.members.values("pk")
        return None
    if not roles.is_rep(user):
        raise ActionForbidden(_("Only salespeople and managers have a pipeline."))
    if (owner is not None and owner.pk != user.pk) or team is not None:
        raise ActionForbidden(_("You can only see your own pipeline."))
    return User.objects.filter(pk=user.pk).values("pk")


def _owned(qs, owners):
    return qs if owners is None else qs.filter(owner__in=owners)


@dataclass
class Column:
    stage: str
    label: str
    probability: int
    leads: list
    count: object  # a CappedCount

    @property
    def more(self):
        return max(int(self.count) - len(self.leads), 0)


def board(owners):
    """The board's columns (BOARD_STAGES), newest first, BOARD_LIMIT cards each, with their
    counts (one query for the counts, one per column for its cards)."""
    base = _owned(Lead.objects.all(), owners)
    per_stage = {stage: base.filter(stage=stage) for stage in BOARD_STAGES}
    counts = capped_counts({str(s): qs for s, qs in per_stage.items()}, cap=BOARD_COUNT_CAP)
    today = timezone.localdate()
    columns = []
    for stage, qs in per_stage.items():
        leads = list(
            qs.select_related("owner").order_by("-id")[:BOARD_LIMIT] if counts[str(stage)] else []
        )
        for lead in leads:
            lead.slipped = bool(
                lead.stage == Stage.OPPORTUNITY
                and lead.expected_close_on
                and lead.expected_close_on < today
            )
        columns.append(
            Column(
                stage, Stage(stage).label, PIPELINE_PROBABILITY[stage], leads, counts[str(stage)]
            )
        )
    return columns


# --- the forecast ------------------------------------------------------------------------


def month_start(day):
    return day.replace(day=1)


def add_months(day, n):
    month = day.month - 1 + n
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def parse_month(value, field):
    """A month as ``YYYY-MM`` (the API's and the page's filters)."""
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except (TypeError, ValueError):
        raise InvalidInput(_("Enter a month as YYYY-MM."), field=field) from None


MAX_MONTHS = 24


def month_range(start=None, end=None):
    """The forecast's months, first and last inclusive; by default this month and the five
    after it. At most MAX_MONTHS."""
    start = month_start(start or timezone.localdate())
    end = month_start(end or add_months(start, 5))
    if end < start:
        raise InvalidInput(_("The last month is before the first."), field="months_to")
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise InvalidInput(
            _("Choose at most %(n)s months.") % {"n": MAX_MONTHS}, field="months_to"
        )
    months, day = [], start
    while day <= end:
        months.append(day)
        day = add_months(day, 1)
    return months


def weighted_value():
    """An opportunity's value weighted by its probability (the stage's default when none is
    stored): the one definition the forecast's sums use."""
    probability = Coalesce("probability", Value(PIPELINE_PROBABILITY[Stage.OPPORTUNITY]))
    return ExpressionWrapper(
        Coalesce("deal_value", Value(Decimal(0))) * probability / Value(Decimal(100)),
        output_field=MONEY,
    )


def _money(value):
    return (value or Decimal(0)).quantize(CENTS)


def _open_sums(qs, first, after_last, key):
    today = timezone.localdate()
    return (
        qs.filter(
            stage=Stage.OPPORTUNITY,
            expected_close_on__gte=first,
            expected_close_on__lt=after_last,
        )
        # A date's month as a date: no time zone to shift it across a month's edge.
        .annotate(month=TruncMonth("expected_close_on", output_field=DateField()))
        .values(key, "month")
        .annotate(
            count=Count("id"),
            value=Coalesce(Sum("deal_value"), Value(Decimal(0)), output_field=MONEY),
            weighted=Coalesce(Sum(weighted_value()), Value(Decimal(0)), output_field=MONEY),
            slipped=Count("id", filter=Q(expected_close_on__lt=today)),
        )
        .order_by()
    )


def _won_sums(qs, first, after_last, key):
    start, end = start_of_day(first), start_of_day(after_last)
    return (
        qs.filter(stage=Stage.WON, closed_at__gte=start, closed_at__lt=end)
        .annotate(month=TruncMonth("closed_at", tzinfo=timezone.get_current_timezone()))
        .values(key, "month")
        .annotate(
            won=Count("id"),
            won_value=Coalesce(Sum("deal_value"), Value(Decimal(0)), output_field=MONEY),
        )
        .order_by()
    )


def _month_key(value):
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.strftime("%Y-%m")


EMPTY = {
    "count": 0,
    "value": Decimal(0),
    "weighted": Decimal(0),
    "slipped": 0,
    "won": 0,
    "won_value": Decimal(0),
}


def _grouped(qs, months, key):
    first, after_last = months[0], add_months(months[-1], 1)
    cells = {}
    for row in _open_sums(qs, first, after_last, key):
        cell = cells.setdefault((row[key], _month_key(row["month"])), dict(EMPTY))
        cell.update(
            count=row["count"],
            value=row["value"],
            weighted=row["weighted"],
            slipped=row["slipped"],
        )
    for row in _won_sums(qs, first, after_last, key):
        cell = cells.setdefault((row[key], _month_key(row["month"])), dict(EMPTY))
        cell.update(won=row["won"], won_value=row["won_value"])
    return cells


def _cell(cell, month):
    cell = cell or EMPTY
    return {
        "month": month,
        "count": cell["count"],
        "value": _money(cell["value"]),
        "weighted": _money(cell["weighted"]),
        "slipped": cell["slipped"],
        "won": cell["won"],
        "won_value": _money(cell["won_value"]),
    }


def forecast(owners, months, *, per_team=False):
    """Per rep and per month of expected close: the open opportunities' count, value and
    value weighted by probability (and how many of them slipped: their close date passed),
    and won to date (won in that month, by closed_at in the site's time zone). Totals per
    month; with ``per_team`` the same per sales team (a rep in two teams counts in both).
    Money as Decimals with two places; four grouped queries at most."""
    keys = [m.strftime("%Y-%m") for m in months]
    qs = _owned(Lead.objects.all(), owners)
    by_rep = _grouped(qs.filter(owner__isnull=False), months, "owner")
    reps = User.objects.filter(pk__in={rep for rep, _m in by_rep}).order_by("username")
    rows = [
        {
            "owner": rep.pk,
            "username": rep.get_username(),
            "months": [_cell(by_rep.get((rep.pk, m)), m) for m in keys],
        }
        for rep in reps
    ]
    totals = []
    for m in keys:
        cells = [c for (_rep, month), c in by_rep.items() if month == m]
        total = dict(EMPTY)
        for c in cells:
            for name in EMPTY:
                total[name] += c[name]
        totals.append(_cell(total, m))
    result = {"months": keys, "reps": rows, "totals": totals}
    if per_team:
        key = "owner__team_memberships__team"
        by_team = _grouped(qs.filter(**{f"{key}__isnull": False}), months, key)
        teams = Team.objects.filter(pk__in={t for t, _m in by_team}).order_by("name")
        result["teams"] = [
            {
                "team": team.pk,
                "name": team.name,
                "months": [_cell(by_team.get((team.pk, m)), m) for m in keys],
            }
            for team in teams
        ]
    return result
