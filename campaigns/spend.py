"""A campaign's spend in a period, defined once (SPEC §2, §5).

spend(campaign, [start, end]) = Σ entry.amount × (days of the entry inside the period) /
(days of the entry), over local days, both ends inclusive, rounded to the cent per campaign.
The spend of several campaigns (a channel, a filter, the dashboard) is the sum of their
rounded spends, so a total always equals the sum of the rows shown beneath it. Lifetime
spend (no period) is the sum of the amounts: every entry lies wholly inside "all time".

Every page reads these functions: the dashboard's marketing scorecard and cost per lead,
the campaign page, the campaign list, /api/v1/funnel/ and the CSVs. One aggregate query,
grouped by campaign, computed in the database.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, F, Func, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import SpendEntry

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class ProratedAmount(Func):
    """amount × (days of [start, end] inside [period_start, period_end]) / (days of
    [start, end]), for an entry known to overlap the period. PostgreSQL subtracts dates to
    whole days and divides numerics exactly enough; SQLite counts days with julianday and
    divides in floating point (rounded to the cent afterwards, like PostgreSQL's)."""

    output_field = DecimalField(max_digits=30, decimal_places=10)

    def __init__(self, period_start, period_end, **extra):
        super().__init__(
            F("amount"),
            F("start"),
            F("end"),
            Value(period_start),
            Value(period_end),
            **extra,
        )

    def as_sql(self, compiler, connection, **extra_context):
        compiled = [compiler.compile(e) for e in self.source_expressions]
        amount, start, end, p_start, p_end = (sql for sql, _params in compiled)
        start_params, end_params = list(compiled[3][1]), list(compiled[4][1])
        if connection.vendor == "sqlite":
            inside = f"(julianday(MIN({end}, {p_end})) - julianday(MAX({start}, {p_start})) + 1)"
            length = f"(julianday({end}) - julianday({start}) + 1)"
            text = f"(CAST({amount} AS REAL) * {inside} / {length})"
        else:
            inside = f"(LEAST({end}, {p_end}::date) - GREATEST({start}, {p_start}::date) + 1)"
            length = f"({end} - {start} + 1)"
            text = f"({amount} * {inside} / {length})"
        # Only the two period dates carry a parameter, and the text names the end first.
        return text, [*end_params, *start_params]


def _cents(value):
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def spend_by_campaign(start, end, campaigns=None):
    """{campaign id: spend in [start, end]} (Decimals to the cent) for the campaigns with
    entries overlapping the period; ``campaigns``: a Campaign queryset (or ids) to narrow
    to. One query."""
    entries = SpendEntry.objects.filter(start__lte=end, end__gte=start)
    if campaigns is not None:
        entries = entries.filter(campaign__in=campaigns)
    rows = (
        entries.values("campaign")
        .annotate(spend=Sum(ProratedAmount(start, end)))
        .values_list("campaign", "spend")
        .order_by()
    )
    return {campaign: _cents(spend) for campaign, spend in rows}


def total(spends):
    """The spend of several campaigns: the sum of their rounded spends."""
    return sum(spends, ZERO)


def lifetime_spend():
    """The expression of a campaign's lifetime spend (the sum of its entries' amounts, 0
    without entries), for annotating a Campaign queryset to sort and page on."""
    per_campaign = (
        SpendEntry.objects.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(
        Subquery(per_campaign, output_field=DecimalField(max_digits=14, decimal_places=2)),
        Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def lifetime_by_campaign(campaign_ids):
    """{campaign id: lifetime spend} for the given campaigns (one query)."""
    rows = (
        SpendEntry.objects.filter(campaign__in=list(campaign_ids))
        .values("campaign")
        .annotate(total=Sum("amount"))
        .values_list("campaign", "total")
        .order_by()
    )
    return {campaign: _cents(amount) for campaign, amount in rows}


def lifetime_spend_of(campaign):
    """One campaign's lifetime spend (the API's ``spend``)."""
    return _cents(campaign.spend_entries.aggregate(total=Sum("amount"))["total"])
