"""Every number of the handoff dashboard (SPEC §5), defined once.

A *cohort* is the leads created in a period (local days, both ends inclusive), narrowed by
first-touch campaign, channel and current owner (``Filters``). Each count is the Q below
that picks its leads out of a cohort; the statistics (stats.py) are built from these
expressions, and every page that shows a count (the dashboard and its CSVs, the campaign
list and page, the feedback page, /api/v1/funnel/) reads those statistics. Rates are
computed from the counts by ``rates``. An independent reference computation lives in the
tests (tests/reference.py), which hold the statistics to it.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from leadflow.dates import start_of_day
from sales.models import CONTACT_KINDS, live_q

from ..models import Flag, FlagKind, Lead, Origin, Stage
from ..models.lead import COURT_FIELDS, MARKETING_COURT_STAGES, SALES_STAGES
from ..sla.calendar import Minutes

DEFAULT_DAYS = 90  # the period every report shows when none is chosen

# --- the counts ------------------------------------------------------------------------

# The acceptance rate's numerator: accepted among the handed-off leads. A sales-generated
# lead starts accepted without a handoff; counting it would push the rate over 100 %
# (SPEC §6: rates are fractions).
ACCEPTED_HANDED = Q(accepted_at__isnull=False, handed_off_at__isnull=False)

# A lead counts once, by its ever-reached timestamps (SPEC §5); won and lost by its stage.
COUNTS = {
    "generated": None,  # every lead of the cohort
    "mql": Q(mql_at__isnull=False),
    "handed_off": Q(handed_off_at__isnull=False),
    "accepted": Q(accepted_at__isnull=False),
    "accepted_handed": ACCEPTED_HANDED,
    "contacted": Q(first_contact_at__isnull=False),
    "opportunity": Q(opportunity_at__isnull=False),
    "won": Q(stage=Stage.WON),
    "lost": Q(stage=Stage.LOST),
    "rejected": Q(rejected_at__isnull=False),
}


def count(name):
    """The aggregate of one count of ``COUNTS`` over leads."""
    q = COUNTS[name]
    return Count("id") if q is None else Count("id", filter=q)


def counts(*names):
    """``{name: aggregate}`` for ``.aggregate()`` / ``.annotate()`` over leads."""
    return {name: count(name) for name in names or COUNTS}


def won_value(q=None):
    """Sum of the deal values of the won leads (sourced revenue by first-touch campaign);
    ``q`` narrows the leads (WON_HANDED: revenue at risk's comparable leads)."""
    won = COUNTS["won"] if q is None else COUNTS["won"] & q
    return Coalesce(Sum("deal_value", filter=won), Value(Decimal("0.00")))


# Won among the handed-off leads: revenue at risk's comparable wins (revenue_at_risk).
WON_HANDED = Q(handed_off_at__isnull=False)


def contacted_in_sla_q(sla_minutes):
    """First contact (call, email or meeting) within the first-contact threshold of the
    first handoff, as that handoff took it (Lead.first_sla_contact_minutes; a lead handed
    off before handoffs kept their thresholds is judged by ``sla_minutes``, the policy's)."""
    threshold = Minutes(Coalesce(F("first_sla_contact_minutes"), Value(sla_minutes)))
    return Q(
        handed_off_at__isnull=False,
        first_contact_at__isnull=False,
        first_contact_at__lte=F("handed_off_at") + threshold,
    )


def responded_in_sla_q(response_minutes, prefix=""):
    """A handoff (on Handoff; ``prefix`` for tables that point at handoffs) accepted or
    rejected within its own response threshold (Handoff.response_minutes; one made before
    handoffs kept their thresholds is judged by ``response_minutes``, the policy's)."""
    threshold = Minutes(Coalesce(F(f"{prefix}response_minutes"), Value(response_minutes)))
    return Q(
        **{
            f"{prefix}responded_at__isnull": False,
            f"{prefix}responded_at__lte": F(f"{prefix}handed_at") + threshold,
        }
    )


# The joint SLA: a lead lost as unresponsive counts against sales when it had fewer than
# the policy's N attempts (SLAPolicy.unreached_attempts).
LOST_UNRESPONSIVE = Q(stage=Stage.LOST, lost_reason="unresponsive")


def lost_unresponsive_short_q(attempts):
    return LOST_UNRESPONSIVE & Q(attempts_before_connect__lt=attempts)


def rate(numerator, denominator):
    """A fraction 0–1, or None when there is nothing to divide by (SPEC §6)."""
    return (numerator / denominator) if denominator else None


def cost_per(spend, denominator):
    """Money per unit (cost per lead = spend / generated, per won deal = spend / won), to
    the cent; None when there is nothing to divide by."""
    if not denominator:
        return None
    return (Decimal(spend) / denominator).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def rates(sums):
    """The three rates of SPEC §5 from a row of counts."""
    return {
        "acceptance_rate": rate(sums["accepted_handed"], sums["handed_off"]),
        "contact_in_sla_rate": rate(sums["contacted_in_sla"], sums["handed_off"]),
        "win_rate": rate(sums["won"], sums["accepted"]),
    }


# --- where the ball dropped (SPEC §5): the first matching rule wins ------------------

SALES_DELAY_FLAGS = (FlagKind.RESPONSE_OVERDUE, FlagKind.FIRST_CONTACT_OVERDUE)

# Handed off and not won: the leads the rules classify.
DROPPABLE = Q(handed_off_at__isnull=False) & ~Q(stage=Stage.WON)
# (1) rejected and never accepted afterwards -> marketing (lead quality).
RULE_MARKETING = Q(rejected_at__isnull=False) & (
    Q(accepted_at__isnull=True) | Q(accepted_at__lt=F("rejected_at"))
)
# Lost without ever reaching the lead (no connect): the attempts decide whose it is.
LOST_UNREACHED = Q(stage=Stage.LOST, first_connect_at__isnull=True)


def lost_unreached_q(attempts):
    """Lost unreached after ``attempts`` (the policy's N) or more attempts: the market's."""
    return LOST_UNREACHED & Q(attempts_before_connect__gte=attempts)


def rule_market_q(attempts):
    """(3) lost after a connect, or lost unreached after N or more attempts -> the market
    (with its lost reason)."""
    return Q(stage=Stage.LOST, first_connect_at__isnull=False) | lost_unreached_q(attempts)


DROPPED_CATEGORIES = {
    "marketing": _("Marketing (lead quality)"),
    "sales": _("Sales (follow-up)"),
    "market": _("Market (lost after a connect, or unreachable)"),
    "in_progress": _("In progress"),
}


def dropped_q(category, attempts, *, own=False):
    """The Q (on Lead, annotated ``with_sales_delay``) of one ball-dropped category;
    ``attempts`` is the policy's N (SLAPolicy.unreached_attempts).

    ``own``: per rep (the salesperson filter), rule (2) counts only a delay of the lead's
    own rep: a breach counts against whoever held the lead when it happened (SPEC §4), so
    a lead that came to its rep late by a claim or a reassign is not their drop. A lost
    lead is lost by its rep (the owner it closed with), so the lost part reads the same."""
    # (2) a response or first-contact flag was ever raised (``own``: with the lead's rep
    # responsible), or lost without a connect after fewer than N attempts -> sales.
    delay = Q(own_sales_delay=True) if own else Q(sales_delay=True)
    sales = delay | (LOST_UNREACHED & Q(attempts_before_connect__lt=attempts))
    market = rule_market_q(attempts)
    if category == "marketing":
        return DROPPABLE & RULE_MARKETING
    if category == "sales":
        return DROPPABLE & ~RULE_MARKETING & sales
    if category == "market":
        return DROPPABLE & ~RULE_MARKETING & ~sales & market
    if category == "in_progress":
        return DROPPABLE & ~RULE_MARKETING & ~sales & ~market
    raise ValueError(category)


# The categories whose count depends on whose delay rule (2) reads (``own``).
OWN_DROPPED = ("sales", "market", "in_progress")


def dropped_column(category, *, own=False):
    """The CohortStats column counting ``category``; ``own``: per rep (stats.ball_dropped)."""
    return f"own_dropped_{category}" if own and category in OWN_DROPPED else f"dropped_{category}"


# --- revenue at risk (SPEC §5) ----------------------------------------------------------
#
# Each bucket's expected revenue lost: per channel of first touch, the bucket's leads x the
# win rate of comparable leads (handed-off leads of the same channel created in the 365
# days before the period starts: won / handed off) x their average won deal value (won
# value / won), summed over the channels and rounded to the cent. A channel without a
# comparable win risks nothing. Comparable leads are handed-off ones because every bucket
# holds only handed-off leads; a sales-generated win would otherwise lift the rate.

RISK_WINDOW_DAYS = 365
CENT = Decimal("0.01")


def risk_window(start):
    """The first and last creation day of the comparable leads of a period from ``start``."""
    return start - dt.timedelta(days=RISK_WINDOW_DAYS), start - dt.timedelta(days=1)


def expected_value_per_lead(comparable):
    """Win rate x average won deal value of comparable leads (a row with ``handed_off``,
    ``won_handed`` and ``won_value_handed``), unrounded; 0 without a comparable win."""
    won = comparable.get("won_handed") or 0
    handed = comparable.get("handed_off") or 0
    if not won or not handed:
        return Decimal(0)
    win_rate = Decimal(won) / Decimal(handed)
    average = Decimal(comparable["won_value_handed"]) / Decimal(won)
    return win_rate * average


def revenue_at_risk(leads_by_channel, value_by_channel):
    """{category: money}: ``leads_by_channel`` {channel: {category: leads}} priced by
    ``value_by_channel`` {channel: expected_value_per_lead}, rounded to the cent once per
    bucket, so a bucket equals the sum of its exact per-channel parts."""
    out = {}
    for category in DROPPED_CATEGORIES:
        total = sum(
            (
                Decimal(counts.get(category, 0)) * value_by_channel.get(channel, Decimal(0))
                for channel, counts in leads_by_channel.items()
            ),
            Decimal(0),
        )
        out[category] = total.quantize(CENT, rounding=ROUND_HALF_UP)
    return out


def with_sales_delay(qs):
    """Annotate ``sales_delay``: a response or first-contact flag was ever raised; and
    ``own_sales_delay``: one was raised with the lead's current rep responsible."""
    delays = Flag.objects.filter(
        lead=OuterRef("pk"), kind__in=[k.value for k in SALES_DELAY_FLAGS]
    )
    return qs.alias(
        sales_delay=Exists(delays),
        own_sales_delay=Exists(delays.filter(responsible=OuterRef("owner"))),
    )


# --- the funnel's shape ----------------------------------------------------------------

FUNNEL_KEYS = (
    "generated",
    "mql",
    "handed_off",
    "accepted",
    "contacted",
    "opportunity",
    "won",
    "lost",
    "won_value",
    "acceptance_rate",
    "contact_in_sla_rate",
    "median_hours_to_first_contact",
    "win_rate",
    "ball_dropped",
)

MARKETING_COUNTS = (
    "generated",
    "mql",
    "handed_off",
    "accepted",
    "accepted_handed",
    "rejected",
    "won",
)

FUNNEL_STEPS = (
    ("generated", _("Generated")),
    ("mql", _("MQL")),
    ("handed_off", _("Handed off")),
    ("accepted", _("Accepted")),
    ("contacted", _("Contacted")),
    ("opportunity", _("Opportunity")),
    ("won", _("Won")),
)


def funnel_steps(data):
    """The funnel's steps: count, share of generated and conversion from the step before.
    Accepted converts from handed off by the acceptance rate (SPEC §5), so it never
    exceeds 100 %; the sales-generated leads that start accepted are counted apart."""
    out, previous = [], None
    for key, label in FUNNEL_STEPS:
        value = data[key]
        step = {
            "key": key,
            "label": label,
            "count": value,
            "of_generated": rate(value, data["generated"]),
            "conversion": rate(value, previous) if previous is not None else None,
        }
        if key == "accepted":
            step["conversion"] = data["acceptance_rate"]
            step["sales_generated"] = value - data["accepted_handed"]
        out.append(step)
        previous = value
    return out


# --- the cohort ------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    campaign: object = None
    channel: str = ""
    owner: object = None

    @classmethod
    def default(cls):
        end = timezone.localdate()
        return cls(start=end - dt.timedelta(days=DEFAULT_DAYS - 1), end=end)

    def q(self, prefix=""):
        """The cohort as a Q on Lead (``prefix`` "lead__" for tables that point at leads)."""
        q = Q(
            **{
                f"{prefix}created_at__gte": start_of_day(self.start),
                f"{prefix}created_at__lt": start_of_day(self.end + dt.timedelta(days=1)),
            }
        )
        if self.campaign is not None:
            q &= Q(**{f"{prefix}campaign": self.campaign})
        if self.channel:
            q &= Q(**{f"{prefix}campaign__channel": self.channel})
        if self.owner is not None:
            q &= Q(**{f"{prefix}owner": self.owner})
        return q

    def cohort(self):
        return Lead.objects.filter(self.q())

    def campaigns(self):
        qs = Campaign.objects.all()
        if self.campaign is not None:
            qs = qs.filter(pk=self.campaign.pk)
        if self.channel:
            qs = qs.filter(channel=self.channel)
        return qs

    def _params(self, start, end):
        parts = [f"{start}={self.start.isoformat()}", f"{end}={self.end.isoformat()}"]
        if self.campaign is not None:
            parts.append(f"campaign={self.campaign.pk}")
        if self.channel:
            parts.append(f"channel={self.channel}")
        if self.owner is not None:
            parts.append(f"owner={self.owner.pk}")
        return "&".join(parts)

    def query(self):
        """The dashboard's GET parameters for this cohort."""
        return self._params("start", "end")

    def lead_list_query(self):
        """The lead list parameters selecting this cohort (for drill-down links)."""
        return self._params("created_from", "created_to")


# --- speed to lead, court time, attempts, honesty (SPEC §5) ---------------------------
#
# Speed to lead is measured over the *inquiries*: the leads marketing brought in. A
# sales-generated lead starts accepted with its rep, who logged it; there was no inquiry
# to answer. Every duration is in minutes, from the lead's own timestamps, which already
# count a contact logged late at its logged_at (sales.models.Activity.counts_at).

INQUIRY = Q(origin=Origin.MARKETING)
ATTEMPTED = INQUIRY & Q(first_contact_at__isnull=False)
CONNECTED = INQUIRY & Q(first_connect_at__isnull=False)

# The bands of speed to lead: (name, upper bound in minutes, label); each band holds the
# leads above the bound before it, up to and including its own; the last has none.
SPEED_BANDS = (
    ("within_5_min", 5, _("≤ 5 min")),
    ("within_1_h", 60, _("≤ 1 h")),
    ("within_24_h", 1440, _("≤ 24 h")),
    ("over_24_h", None, _("> 24 h")),
)
NEVER = ("never", _("Never"))

# The two reaches speed to lead is measured to: {name: (the lead's timestamp, label)}.
SPEED_REACHES = {
    "attempt": ("first_contact_at", _("First attempt")),
    "connect": ("first_connect_at", _("First connect")),
}


def reached_q(reach):
    """The inquiries that reached ``reach`` ("attempt" or "connect")."""
    return ATTEMPTED if reach == "attempt" else CONNECTED


def speed_band_q(reach, band):
    """The inquiries whose creation -> ``reach`` took the minutes of ``band`` (a name of
    SPEED_BANDS, or "never": an inquiry that has not reached it)."""
    field = SPEED_REACHES[reach][0]
    if band == NEVER[0]:
        return INQUIRY & Q(**{f"{field}__isnull": True})
    bounds = {name: limit for name, limit, _label in SPEED_BANDS}
    names = [name for name, _limit, _label in SPEED_BANDS]
    q = reached_q(reach)
    before = names.index(band) - 1
    if before >= 0:
        q &= Q(**{f"{field}__gt": F("created_at") + Minutes(Value(bounds[names[before]]))})
    if bounds[band] is not None:
        q &= Q(**{f"{field}__lte": F("created_at") + Minutes(Value(bounds[band]))})
    return q


SPEED_BAND_NAMES = (*(name for name, _limit, _label in SPEED_BANDS), NEVER[0])


def speed_column(reach, band):
    """The CohortStats column counting one band of one reach."""
    return f"speed_{reach}_{band}"


SPEED_COLUMNS = {
    speed_column(reach, band): (reach, band)
    for reach in SPEED_REACHES
    for band in SPEED_BAND_NAMES
}

# The durations the percentiles of speed to lead are taken of: {name: (later, earlier)},
# each over the leads that ``reach`` picks (the reached inquiries). Marketing's share runs
# from the inquiry to the first handoff, sales' share from the first handoff to the reach,
# over the same leads, so the two shares tell where the delay sits.
SPEED_SPANS = {
    "attempt": {
        "total": ("first_contact_at", "created_at"),
        "marketing_share": ("handed_off_at", "created_at"),
        "sales_share": ("first_contact_at", "handed_off_at"),
    },
    "connect": {
        "total": ("first_connect_at", "created_at"),
        "marketing_share": ("handed_off_at", "created_at"),
        "sales_share": ("first_connect_at", "handed_off_at"),
    },
}
PERCENTILES = (("median", 0.5), ("p90", 0.9))


# Court time: a side's active minutes on a lead, the stretch it holds now counted up to
# now (Lead.court_time); marketing's over the inquiries, sales' over the handed-off leads.
COURT_SIDES = {
    "marketing": (MARKETING_COURT_STAGES, INQUIRY),
    "sales": (SALES_STAGES, Q(handed_off_at__isnull=False)),
}


class WholeMinutes(Func):
    """Whole minutes of a duration, rounded down (leads.models.lead.stretch_minutes). On
    PostgreSQL from DATE_PART's double, not EXTRACT's numeric: the same whole minutes, and
    cheaper for the court-time percentiles, which compute them for every lead of a cohort."""

    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="FLOOR(DATE_PART('epoch', %(expressions)s) / 60)::integer",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite subtracts datetimes to whole microseconds (django_timestamp_diff).
        return super().as_sql(
            compiler, connection, template="((%(expressions)s) / 60000000)", **extra_context
        )


class Microseconds(Func):
    """Whole microseconds from the second datetime to the first, as an integer (an exact
    EXTRACT on PostgreSQL; SQLite's Django subtraction gives microseconds)."""

    output_field = BigIntegerField()
    arg_joiner = " - "
    template = "(EXTRACT(EPOCH FROM (%(expressions)s)) * 1000000)::bigint"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="django_timestamp_diff(%(expressions)s)",
            arg_joiner=", ",
            **extra_context,
        )


def flag(q):
    """A condition as a boolean column (None where SQL compares with NULL)."""
    return ExpressionWrapper(q, output_field=BooleanField())


def court_minutes(side, now):
    """The expression of ``side``'s active court minutes on a lead as of ``now``."""
    stages, _population = COURT_SIDES[side]
    stored = F(COURT_FIELDS[side])
    running = WholeMinutes(
        ExpressionWrapper(Value(now) - F("court_since"), output_field=DurationField())
    )
    return Case(
        When(
            Q(stage__in=[s.value for s in stages], court_since__isnull=False, court_since__lt=now),
            then=stored + running,
        ),
        default=stored,
        output_field=IntegerField(),
    )


def holding_q(side):
    """The leads ``side`` holds right now."""
    return Q(stage__in=[s.value for s in COURT_SIDES[side][0]])


def unreached_q(attempts):
    """Attempted and still not connected after ``attempts`` (the policy's N) or more."""
    return ATTEMPTED & Q(first_connect_at__isnull=True, attempts_before_connect__gte=attempts)


# Honesty: of a rep's contacts (calls, emails, meetings no correction replaced), those
# logged more than the grace period after they happened (Activity.logged_late).
def contact_q(prefix=""):
    return Q(**{f"{prefix}kind__in": [k.value for k in CONTACT_KINDS]}) & live_q(prefix)


def late_contact_q(prefix=""):
    return contact_q(prefix) & Q(**{f"{prefix}logged_late": True})
