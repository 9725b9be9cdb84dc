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
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from leadflow import roles
from leadflow.dates import start_of_day
from leadflow.errors import ActionForbidden, InvalidInput
from leadflow.names import person
from leads import lifecycle
from leads.filters import capped_counts
from leads.models import (
    PIPELINE_PROBABILITY,
    WORKING_STAGES,
    Lead,
    Stage,
    close_date_slipped_q,
)

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
    more_url: str | None = None  # the lead list of the column's leads, when it has one

    @property
    def more(self):
        return max(int(self.count) - len(self.leads), 0)


def card_moves(user, lead):
    """The columns ``user`` may move ``lead``'s card to now, forward first: where the
    lifecycle's actions they may take (lifecycle.available) lead among BOARD_STAGES. To
    contacted is logging a call, email or meeting (the table's "contact", a step inside
    "log"). The services still decide when the move is posted."""
    actions = lifecycle.available(user, lead)
    reached = {lifecycle.TRANSITIONS[name].to_stage for name in actions}
    if "log" in actions:
        reached.add(Stage.CONTACTED)
    targets = [s for s in BOARD_STAGES if s in reached and lifecycle.can_move(lead.stage, s)]
    here = BOARD_STAGES.index(lead.stage) if lead.stage in BOARD_STAGES else -1
    # Forward moves first, should the table ever allow one back.
    order = sorted(targets, key=lambda s: BOARD_STAGES.index(s) < here)
    return [(stage, Stage(stage).label) for stage in order]


def board(owners, user):
    """The board's columns (BOARD_STAGES), newest first, BOARD_LIMIT cards each, with their
    counts (one query for the counts, one per column for its cards) and, on each card, the
    moves ``user`` may make (``lead.moves``, :func:`card_moves`)."""
    base = _owned(Lead.objects.all(), owners)
    per_stage = {stage: base.filter(stage=stage) for stage in BOARD_STAGES}
    counts = capped_counts({str(s): qs for s, qs in per_stage.items()}, cap=BOARD_COUNT_CAP)
    columns = []
    for stage, qs in per_stage.items():
        leads = list(
            qs.select_related("owner").order_by("-id")[:BOARD_LIMIT] if counts[str(stage)] else []
        )
        for lead in leads:
            lead.moves = card_moves(user, lead)
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
    # Times 0.01 rather than over 100: SQLite stores 9999.00 as an integer and would
    # divide 9999 * 50 / 100 as integers (4999, not 4999.50).
    return ExpressionWrapper(
        Coalesce("deal_value", Value(Decimal(0))) * probability * Value(Decimal("0.01")),
        output_field=MONEY,
    )


def _money(value):
    return (value or Decimal(0)).quantize(CENTS)


# Where an open opportunity counts, exactly once: its close date passed (Slipped), it has
# none, it closes in one of the forecast's months (from today on), or in another month.
SLIPPED, NO_CLOSE_DATE, OTHER_MONTHS, IN_MONTHS = (
    "slipped",
    "no_close_date",
    "other_months",
    "month",
)
BUCKETS = (SLIPPED, NO_CLOSE_DATE, OTHER_MONTHS)


def _open_sums(qs, first, after_last, key):
    today = timezone.localdate()
    # A month of the forecast holds its opportunities that have not slipped (this month's
    # from today on); the rest fall in a bucket, so the sums add up to the open pipeline.
    in_months = Q(expected_close_on__gte=max(first, today), expected_close_on__lt=after_last)
    return (
        qs.filter(stage=Stage.OPPORTUNITY)
        .annotate(
            bucket=Case(
                When(expected_close_on__isnull=True, then=Value(NO_CLOSE_DATE)),
                When(close_date_slipped_q(today), then=Value(SLIPPED)),
                When(in_months, then=Value(IN_MONTHS)),
                default=Value(OTHER_MONTHS),
                output_field=CharField(),
            ),
            # A date's month as a date: no time zone to shift it across a month's edge.
            month=Case(
                When(
                    in_months,
                    then=TruncMonth("expected_close_on", output_field=DateField()),
                ),
                default=None,
                output_field=DateField(),
            ),
        )
        .values(key, "bucket", "month")
        .annotate(
            count=Count("id"),
            value=Coalesce(Sum("deal_value"), Value(Decimal(0)), output_field=MONEY),
            weighted=Coalesce(Sum(weighted_value()), Value(Decimal(0)), output_field=MONEY),
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


OPEN = ("count", "value", "weighted")
WON = ("won", "won_value")


def _empty():
    return {"count": 0, "value": Decimal(0), "weighted": Decimal(0), "won": 0, "won_value": 0}


def _grouped(qs, months, key):
    """{group: {slot: sums}}, a slot being a bucket or a month's YYYY-MM: two grouped
    queries, the open opportunities' and the won deals'."""
    first, after_last = months[0], add_months(months[-1], 1)
    groups = {}
    for row in _open_sums(qs, first, after_last, key):
        slot = _month_key(row["month"]) if row["bucket"] == IN_MONTHS else row["bucket"]
        cell = groups.setdefault(row[key], {}).setdefault(slot, _empty())
        for name in OPEN:
            cell[name] += row[name]
    for row in _won_sums(qs, first, after_last, key):
        cell = groups.setdefault(row[key], {}).setdefault(_month_key(row["month"]), _empty())
        for name in WON:
            cell[name] += row[name]
    return groups


def _cell(cell, names):
    cell = cell or _empty()
    return {name: _money(cell[name]) if "value" in name else cell[name] for name in names}


def _row(slots, months):
    """One rep's, team's or everyone's forecast: the buckets, each month, and the total of
    them all (every open opportunity once; won in the months)."""
    row = {bucket: _cell(slots.get(bucket), OPEN) for bucket in BUCKETS}
    row["months"] = [
        {
            "month": m.strftime("%Y-%m"),
            "start": m,
            **_cell(slots.get(m.strftime("%Y-%m")), OPEN + WON),
        }
        for m in months
    ]
    total = _empty()
    for cell in slots.values():
        for name in total:
            total[name] += cell[name]
    row["total"] = _cell(total, OPEN + WON)
    return row


def _sum_slots(groups):
    out = {}
    for slots in groups.values():
        for slot, cell in slots.items():
            into = out.setdefault(slot, _empty())
            for name in into:
                into[name] += cell[name]
    return out


def forecast(owners, months, *, per_team=False):
    """Per rep: every open opportunity counted once, with its count, value and value
    weighted by probability, in "slipped" (close date passed: Lead.close_date_slipped),
    "no_close_date", the month of its expected close among ``months`` (this month's from
    today on), or "other_months" (after the last month, or before the first when that is
    later than this month); and won to date (won in each month, by closed_at in the site's
    time zone). "total" adds them all up. The same for everyone (``totals``) and, with
    ``per_team``, per sales team (a rep in two teams counts in both). Money as Decimals
    with two places; four grouped queries at most."""
    qs = _owned(Lead.objects.all(), owners)
    by_rep = _grouped(qs.filter(owner__isnull=False), months, "owner")
    reps = User.objects.filter(pk__in=by_rep).order_by("username")
    result = {
        "months": [m.strftime("%Y-%m") for m in months],
        "reps": [
            {
                "owner": rep.pk,
                "username": rep.get_username(),
                "name": person(rep),
                **_row(by_rep[rep.pk], months),
            }
            for rep in reps
        ],
        "totals": _row(_sum_slots(by_rep), months),
    }
    if per_team:
        key = "owner__team_memberships__team"
        by_team = _grouped(qs.filter(**{f"{key}__isnull": False}), months, key)
        teams = Team.objects.filter(pk__in=by_team).order_by("name")
        result["teams"] = [
            {"team": team.pk, "name": team.name, **_row(by_team[team.pk], months)}
            for team in teams
        ]
    return result
