"""The handoff dashboard's numbers (SPEC §5), computed in the database.

A *cohort* is the leads created in a period (local days, both ends inclusive), narrowed by
first-touch campaign, channel and current owner. Every number below is a conditional
aggregate over that cohort; the query count is fixed whatever the number of leads.
The ball-dropped rules live here as Q objects so the lead list can filter on exactly the
leads a dashboard count stands for.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel
from leadflow import roles
from sales.models import Activity, Dispute, Handoff, Objection

from .filters import EARLIEST_DAY, LATEST_DAY, start_of_day
from .models import Flag, FlagKind, Lead, Side, Stage
from .sla import global_policy

User = get_user_model()
HOUR = dt.timedelta(hours=1)

# --- where the ball dropped (SPEC §5): the first matching rule wins ------------------

SALES_DELAY_FLAGS = (FlagKind.RESPONSE_OVERDUE, FlagKind.FIRST_CONTACT_OVERDUE)


def _sales_delay_flag_raised():
    return Exists(
        Flag.objects.filter(lead=OuterRef("pk"), kind__in=[k.value for k in SALES_DELAY_FLAGS])
    )


# The acceptance rate's numerator: accepted among the handed-off leads. A sales-generated
# lead starts accepted without a handoff; counting it would push the rate over 100 %
# (SPEC §6: rates are fractions).
ACCEPTED_HANDED = Q(accepted_at__isnull=False, handed_off_at__isnull=False)

# Handed off and not won: the leads the rules classify.
DROPPABLE = Q(handed_off_at__isnull=False) & ~Q(stage=Stage.WON)
# (1) rejected and never accepted afterwards -> marketing (lead quality).
RULE_MARKETING = Q(rejected_at__isnull=False) & (
    Q(accepted_at__isnull=True) | Q(accepted_at__lt=F("rejected_at"))
)
# (3) lost after contact -> the market.
RULE_MARKET = Q(stage=Stage.LOST, first_contact_at__isnull=False)


def dropped_q(category):
    """The Q (on Lead) of one ball-dropped category: marketing, sales, market, in_progress."""
    sales = Q(sales_delay=True) | Q(stage=Stage.LOST, first_contact_at__isnull=True)
    if category == "marketing":
        return DROPPABLE & RULE_MARKETING
    if category == "sales":
        return DROPPABLE & ~RULE_MARKETING & sales
    if category == "market":
        return DROPPABLE & ~RULE_MARKETING & ~sales & RULE_MARKET
    if category == "in_progress":
        return DROPPABLE & ~RULE_MARKETING & ~sales & ~RULE_MARKET
    raise ValueError(category)


DROPPED_CATEGORIES = {
    "marketing": _("Marketing (lead quality)"),
    "sales": _("Sales (follow-up)"),
    "market": _("Market (lost after contact)"),
    "in_progress": _("In progress"),
}


def with_sales_delay(qs):
    """Annotate ``sales_delay``: a response or first-contact flag was ever raised."""
    return qs.alias(sales_delay=_sales_delay_flag_raised())


# --- filters ---------------------------------------------------------------------


class DashboardFilterForm(forms.Form):
    """Period by lead creation date (default the last 90 days), first-touch campaign,
    channel and salesperson (current owner); shareable as GET parameters."""

    DEFAULT_DAYS = 90

    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    end = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    campaign = forms.ModelChoiceField(
        label=_("Campaign"), queryset=Campaign.objects.none(), required=False
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("All channels")), *Channel.choices], required=False
    )
    owner = forms.ModelChoiceField(
        label=_("Salesperson"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = Campaign.objects.order_by("name")
        self.fields["campaign"].empty_label = _("All campaigns")
        self.fields["owner"].queryset = (
            User.objects.filter(groups__name=roles.SALES).order_by("username").distinct()
        )
        self.fields["owner"].empty_label = _("All salespeople")
        self.fields["owner"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        if not self.is_bound:
            # Show the default period the page reports on, not two empty inputs.
            today = timezone.localdate()
            self.initial.setdefault("start", today - dt.timedelta(days=self.DEFAULT_DAYS - 1))
            self.initial.setdefault("end", today)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", f"{css} {css}-sm")

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):
            # Year 1 or the day after 9999-12-31 cannot be expressed in UTC: a 500, not a period.
            if data.get(name) and not EARLIEST_DAY <= data[name] <= LATEST_DAY:
                self.add_error(name, _("Enter a date between 1900 and 9998."))
                return data
        end = data.get("end") or timezone.localdate()
        start = data.get("start") or end - dt.timedelta(days=self.DEFAULT_DAYS - 1)
        if end < start:
            self.add_error("end", _("The end date cannot be before the start date."))
        elif (end - start).days > 3660:
            self.add_error("start", _("Choose a period of at most ten years."))
        data["start"], data["end"] = start, end
        return data

    def filters(self):
        if self.is_valid():
            return Filters(
                start=self.cleaned_data["start"],
                end=self.cleaned_data["end"],
                campaign=self.cleaned_data.get("campaign"),
                channel=self.cleaned_data.get("channel") or "",
                owner=self.cleaned_data.get("owner"),
            )
        return Filters.default()


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
        return cls(start=end - dt.timedelta(days=DashboardFilterForm.DEFAULT_DAYS - 1), end=end)

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

    def lead_list_query(self):
        """The lead list parameters selecting this cohort (for drill-down links)."""
        parts = [f"created_from={self.start.isoformat()}", f"created_to={self.end.isoformat()}"]
        if self.campaign is not None:
            parts.append(f"campaign={self.campaign.pk}")
        if self.channel:
            parts.append(f"channel={self.channel}")
        if self.owner is not None:
            parts.append(f"owner={self.owner.pk}")
        return "&".join(parts)


# --- aggregates --------------------------------------------------------------------


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


def _rate(numerator, denominator):
    return (numerator / denominator) if denominator else None


def funnel(filters, sla_hours=None):
    """The funnel of SPEC §5/§6 for a cohort: counts, won value, rates, median and where the
    ball dropped. Three queries."""
    cohort = filters.cohort()
    sla_hours = sla_hours if sla_hours is not None else global_policy().first_contact_hours
    in_sla = Q(
        handed_off_at__isnull=False,
        first_contact_at__isnull=False,
        first_contact_at__lte=F("handed_off_at") + dt.timedelta(hours=sla_hours),
    )
    annotated = with_sales_delay(cohort)
    data = annotated.aggregate(
        generated=Count("id"),
        mql=Count("id", filter=Q(mql_at__isnull=False)),
        handed_off=Count("id", filter=Q(handed_off_at__isnull=False)),
        accepted=Count("id", filter=Q(accepted_at__isnull=False)),
        accepted_handed=Count("id", filter=ACCEPTED_HANDED),
        contacted=Count("id", filter=Q(first_contact_at__isnull=False)),
        opportunity=Count("id", filter=Q(opportunity_at__isnull=False)),
        won=Count("id", filter=Q(stage=Stage.WON)),
        lost=Count("id", filter=Q(stage=Stage.LOST)),
        won_value=Coalesce(Sum("deal_value", filter=Q(stage=Stage.WON)), Value(Decimal("0.00"))),
        contacted_in_sla=Count("id", filter=in_sla),
        **{f"dropped_{c}": Count("id", filter=dropped_q(c)) for c in DROPPED_CATEGORIES},
    )
    result = {
        "generated": data["generated"],
        "mql": data["mql"],
        "handed_off": data["handed_off"],
        "accepted": data["accepted"],
        "accepted_handed": data["accepted_handed"],
        "contacted": data["contacted"],
        "opportunity": data["opportunity"],
        "won": data["won"],
        "lost": data["lost"],
        "won_value": Decimal(data["won_value"]).quantize(Decimal("0.01")),
        "acceptance_rate": _rate(data["accepted_handed"], data["handed_off"]),
        "contact_in_sla_rate": _rate(data["contacted_in_sla"], data["handed_off"]),
        "median_hours_to_first_contact": median_hours_to_first_contact(cohort),
        "win_rate": _rate(data["won"], data["accepted"]),
        "ball_dropped": {c: data[f"dropped_{c}"] for c in DROPPED_CATEGORIES},
    }
    result["contacted_in_sla"] = data["contacted_in_sla"]
    return result


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


def funnel_json(filters):
    """Exactly the JSON shape of SPEC §6 (rates 0-1 or null, money as a decimal string)."""
    data = funnel(filters)
    out = {key: data[key] for key in FUNNEL_KEYS}
    out["won_value"] = str(data["won_value"])
    median = data["median_hours_to_first_contact"]
    out["median_hours_to_first_contact"] = None if median is None else round(median, 2)
    return out


def funnel_steps(data):
    steps = [
        ("generated", _("Generated")),
        ("mql", _("MQL")),
        ("handed_off", _("Handed off")),
        ("accepted", _("Accepted")),
        ("contacted", _("Contacted")),
        ("opportunity", _("Opportunity")),
        ("won", _("Won")),
    ]
    out, previous = [], None
    for key, label in steps:
        value = data[key]
        conversion = _rate(value, previous) if previous is not None else None
        step = {"key": key, "label": label, "count": value, "conversion": conversion}
        if key == "accepted":
            # Of the handed-off leads; sales-generated leads start accepted without one.
            step["conversion"] = data["acceptance_rate"]
            step["sales_generated"] = value - data["accepted_handed"]
        out.append(step)
        previous = value
    return out


# --- scorecards ----------------------------------------------------------------------


MARKETING_COUNTS = (
    "generated",
    "mql",
    "handed_off",
    "accepted",
    "accepted_handed",
    "rejected",
    "won",
)


def marketing_scorecard(filters):
    """Per first-touch campaign: generated, mql, handed off, acceptance, rejection reasons,
    spend, cost per lead, sourced revenue, marketing flags; channels are sums of campaigns."""
    cohort = filters.cohort()
    rows = {
        row["campaign"]: row
        for row in cohort.values("campaign").annotate(
            generated=Count("id"),
            mql=Count("id", filter=Q(mql_at__isnull=False)),
            handed_off=Count("id", filter=Q(handed_off_at__isnull=False)),
            accepted=Count("id", filter=Q(accepted_at__isnull=False)),
            accepted_handed=Count("id", filter=ACCEPTED_HANDED),
            rejected=Count("id", filter=Q(rejected_at__isnull=False)),
            won=Count("id", filter=Q(stage=Stage.WON)),
            won_value=Coalesce(Sum("deal_value", filter=Q(stage=Stage.WON)), Value(Decimal("0"))),
        )
    }
    reasons = {}
    for row in (
        Handoff.objects.filter(outcome="rejected", lead__in=cohort.values("pk"))
        .values("lead__campaign", "rejection_reason")
        .annotate(n=Count("id"))
        .order_by()
    ):
        reasons.setdefault(row["lead__campaign"], {})[row["rejection_reason"]] = row["n"]
    flags = {}
    for row in (
        Flag.objects.filter(side=Side.MARKETING, lead__in=cohort.values("pk"))
        .values("lead__campaign")
        .annotate(raised=Count("id"), open=Count("id", filter=Q(resolved_at__isnull=True)))
        .order_by()
    ):
        flags[row["lead__campaign"]] = row
    return assemble_marketing(filters, rows, reasons, flags)


def assemble_marketing(filters, rows, reasons, flags):
    """The scorecard tables from per-campaign numbers (shared by the raw and the
    pre-aggregated paths): rows[campaign_id] has MARKETING_COUNTS and won_value,
    reasons[campaign_id] = {reason: n}, flags[campaign_id] = {"raised", "open"}."""
    campaigns = list(filters.campaigns().order_by("name"))
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
                "acceptance_rate": _rate(row["accepted_handed"], row["handed_off"]),
                "rejection_reasons": reasons.get(campaign.pk, {}),
                "spend": campaign.spend,
                "cost_per_lead": _rate(campaign.spend, row["generated"]),
                "cost_per_won": _rate(campaign.spend, row["won"]),
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
        agg["acceptance_rate"] = _rate(agg["accepted_handed"], agg["handed_off"])
        agg["cost_per_lead"] = _rate(agg["spend"], agg["generated"])
        agg["cost_per_won"] = _rate(agg["spend"], agg["won"])
    totals = {"spend": sum((c.spend for c in campaigns), Decimal("0"))}
    return {
        "campaigns": table,
        "channels": sorted(channels.values(), key=lambda c: -c["generated"]),
        "spend": totals["spend"],
    }


def costs(filters, funnel_data, marketing):
    """Cost per lead = spend of the campaigns in the filter / generated; per won deal = / won."""
    spend = marketing["spend"]
    return {
        "spend": spend,
        "cost_per_lead": _rate(spend, funnel_data["generated"]),
        "cost_per_won": _rate(spend, funnel_data["won"]),
    }


def sales_scorecard(filters, sla_hours=None):
    """Per rep: leads received and accepted (handoffs to them), contacted within the SLA and
    median hours to first contact, follow-ups logged, win rate, won value (leads they own),
    open and raised sales flags, objections heard, rejections and false rejections."""
    cohort = filters.cohort()
    sla_hours = sla_hours if sla_hours is not None else global_policy().first_contact_hours
    cohort_ids = cohort.values("pk")
    received = {
        row["to_user"]: row
        for row in Handoff.objects.filter(lead__in=cohort_ids, to_user__isnull=False)
        .values("to_user")
        .annotate(
            received=Count("lead", distinct=True),
            accepted=Count("lead", filter=Q(outcome="accepted"), distinct=True),
            rejected=Count("id", filter=Q(outcome="rejected")),
        )
        .order_by()
    }
    in_sla = Q(
        handed_off_at__isnull=False,
        first_contact_at__lte=F("handed_off_at") + dt.timedelta(hours=sla_hours),
    )
    owned = {
        row["owner"]: row
        for row in cohort.filter(owner__isnull=False)
        .values("owner")
        .annotate(
            handed=Count("id", filter=Q(handed_off_at__isnull=False)),
            contacted_in_sla=Count("id", filter=in_sla),
            accepted=Count("id", filter=Q(accepted_at__isnull=False)),
            won=Count("id", filter=Q(stage=Stage.WON)),
            lost=Count("id", filter=Q(stage=Stage.LOST)),
            won_value=Coalesce(Sum("deal_value", filter=Q(stage=Stage.WON)), Value(Decimal("0"))),
        )
        .order_by()
    }
    follow_ups = dict(
        Activity.objects.filter(lead__in=cohort_ids)
        .values("user")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user", "n")
    )
    flags = {
        row["responsible"]: row
        for row in Flag.objects.filter(side=Side.SALES, lead__in=cohort_ids)
        .values("responsible")
        .annotate(raised=Count("id"), open=Count("id", filter=Q(resolved_at__isnull=True)))
        .order_by()
    }
    objections = {}
    for row in (
        Objection.objects.filter(lead__in=cohort_ids)
        .values("activity__user", "tag")
        .annotate(n=Count("id"))
        .order_by("-n", "tag")
    ):
        objections.setdefault(row["activity__user"], []).append((row["tag"], row["n"]))
    false_rejections = dict(
        false_rejection_handoffs(filters)
        .values("to_user")
        .annotate(n=Count("lead", distinct=True))
        .order_by()
        .values_list("to_user", "n")
    )
    overturned = dict(
        Dispute.objects.filter(ruling="overturned", lead__in=cohort_ids)
        .values("handoff__to_user")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("handoff__to_user", "n")
    )
    medians = median_hours_by_owner(cohort)
    return assemble_sales(
        filters,
        received=received,
        owned=owned,
        follow_ups=follow_ups,
        flags=flags,
        objections=objections,
        false_rejections=false_rejections,
        overturned=overturned,
        medians=medians,
    )


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
                "acceptance_rate": _rate(got.get("accepted", 0), got.get("received", 0)),
                "contacted_in_sla": own.get("contacted_in_sla", 0),
                "contact_in_sla_rate": _rate(own.get("contacted_in_sla", 0), own.get("handed", 0)),
                "median_hours_to_first_contact": medians.get(rep.pk),
                "follow_ups": follow_ups.get(rep.pk, 0),
                "won": own.get("won", 0),
                "lost": own.get("lost", 0),
                "win_rate": _rate(own.get("won", 0), own.get("accepted", 0)),
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
        filters.q("lead__"), outcome="rejected", to_user__isnull=False, lead__stage=Stage.WON
    )


def false_rejections(filters, limit=50):
    return list(
        false_rejection_handoffs(filters)
        .select_related("lead", "to_user", "lead__owner")
        .order_by("-lead__closed_at", "-id")[:limit]
    )


def reasons(filters):
    """Rejection reasons (from handoffs) and lost reasons, counted over the cohort."""
    cohort = filters.cohort()
    rejection = dict(
        Handoff.objects.filter(outcome="rejected", lead__in=cohort.values("pk"))
        .values("rejection_reason")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("rejection_reason", "n")
    )
    lost = dict(
        cohort.filter(stage=Stage.LOST)
        .values("lost_reason")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("lost_reason", "n")
    )
    return rejection, lost


def objections_by_campaign(filters, top=3):
    """What sales hears, per first-touch campaign: the most frequent objection tags."""
    out = {}
    for row in (
        Objection.objects.filter(lead__in=filters.cohort().values("pk"))
        .values("lead__campaign", "tag")
        .annotate(n=Count("id"))
        .order_by("lead__campaign", "-n", "tag")
    ):
        tags = out.setdefault(row["lead__campaign"], [])
        if len(tags) < top:
            tags.append((row["tag"], row["n"]))
    return out


def weekly_trend(filters, sla_hours=None):
    """Cohort by ISO week of creation (site time zone): marketing's generated / MQL / handed
    off and sales' accepted / contacted within SLA / won, one GROUP BY."""
    sla_hours = sla_hours if sla_hours is not None else global_policy().first_contact_hours
    in_sla = Q(
        handed_off_at__isnull=False,
        first_contact_at__lte=F("handed_off_at") + dt.timedelta(hours=sla_hours),
    )
    rows = (
        filters.cohort()
        .annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
        .values("week")
        .annotate(
            generated=Count("id"),
            mql=Count("id", filter=Q(mql_at__isnull=False)),
            handed_off=Count("id", filter=Q(handed_off_at__isnull=False)),
            accepted=Count("id", filter=Q(accepted_at__isnull=False)),
            accepted_handed=Count("id", filter=ACCEPTED_HANDED),
            contacted_in_sla=Count("id", filter=in_sla),
            won=Count("id", filter=Q(stage=Stage.WON)),
        )
        .order_by("week")
    )
    out = []
    for row in rows:
        week = row["week"]
        if isinstance(week, dt.datetime):
            week = timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
        out.append(
            {
                **row,
                "week": week,
                "acceptance_rate": _rate(row["accepted_handed"], row["handed_off"]),
                "contact_in_sla_rate": _rate(row["contacted_in_sla"], row["handed_off"]),
            }
        )
    return out
