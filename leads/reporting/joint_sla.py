"""The joint SLA's monthly scorecard (SPEC §5): marketing's accepted leads against the
targets a manager set (per campaign or channel) and its rejection rate against the
maximum; sales' share of handoffs answered within their response time, share first
attempted within the first-contact time (the contact-in-SLA rate) and share of leads lost
as unresponsive only after the policy's N attempts, each against the pass mark. Months
by lead creation (site time zone), read from the statistics (stats.monthly)."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Channel

from ..models import DEFAULT_PASS_PERCENT, JointSLATerms, MarketingTarget
from ..sla.calendar import global_policy
from . import definitions as d
from . import stats

MONTHS = 12  # the page's months, the last complete one last
SUMS = (
    "accepted_handed",
    "handed_off",
    "rejected",
    "contacted_in_sla",
    "accepted",
    "won",
    "handoffs",
    "responded_in_sla",
    "lost_unresponsive",
    "lost_unresponsive_short",
)
# Sales' three measures: key -> label.
SALES_MEASURES = {
    "response": _("Handoffs answered within the response time"),
    "first_attempt": _("First attempted within the first-contact time"),
    "attempts": _("Lost as unresponsive only after the minimum attempts"),
}


def month_start(day):
    return day.replace(day=1)


def add_months(month, n):
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def last_complete_month(today=None):
    return add_months(month_start(today or timezone.localdate()), -1)


def in_force(rows, month, scope=lambda row: None):
    """{scope: the latest row whose month is on or before ``month``} of ``rows`` sorted
    by month: a later target replaces an earlier one from its month on."""
    out = {}
    for row in rows:
        if row.month <= month:
            out[scope(row)] = row
    return out


def _percent(value):
    return None if value is None else float(Decimal(value) / 100)


def _met(share, mark, *, at_most=False):
    """True or False; None when there is nothing to judge (no leads, or no mark)."""
    if share is None or mark is None:
        return None
    return share <= mark if at_most else share >= mark


def _share(n, of):
    return {"count": n, "of": of, "share": d.rate(n, of)}


def scorecard(*, last=None, months=MONTHS):
    """The months ``last`` (a first of the month; default the last complete month) and the
    ``months - 1`` before it, oldest first: each side's figures, targets and whether it
    missed. Four queries: the statistics, the targets, the terms and the policy."""
    last = last or last_complete_month()
    first = add_months(last, -(months - 1))
    end = add_months(last, 1) - dt.timedelta(days=1)
    by_month = {add_months(first, i): {} for i in range(months)}
    for row in stats.monthly(first, end, SUMS, by=("campaign", "campaign__channel")):
        key = (row.pop("campaign"), row.pop("campaign__channel"))
        by_month[row.pop("month")][key] = row
    targets = list(
        MarketingTarget.objects.filter(month__lte=last)
        .select_related("campaign")
        .order_by("month", "pk")
    )
    terms = list(JointSLATerms.objects.filter(month__lte=last).order_by("month"))
    policy = global_policy()
    return {
        "months": [_month(month, rows, targets, terms) for month, rows in by_month.items()],
        "policy": {
            "response_minutes": policy.response_minutes,
            "first_contact_minutes": policy.first_contact_minutes,
            "unreached_attempts": policy.unreached_attempts,
        },
    }


def _month(month, rows, targets, terms):
    total = dict.fromkeys(SUMS, 0)
    for row in rows.values():
        for name in SUMS:
            total[name] += row[name]
    term = in_force(terms, month).get(None)
    pass_mark = _percent(term.pass_percent if term else DEFAULT_PASS_PERCENT)
    max_rejection = _percent(term.max_rejection_percent) if term else None

    def scope(target):
        return (
            ("campaign", target.campaign_id) if target.campaign_id else ("channel", target.channel)
        )

    lines = []
    for target in sorted(
        in_force(targets, month, scope).values(),
        key=lambda t: (t.campaign is None, t.campaign.name if t.campaign else t.channel),
    ):
        accepted = sum(
            row["accepted_handed"]
            for (campaign, channel), row in rows.items()
            if (
                campaign == target.campaign_id if target.campaign_id else channel == target.channel
            )
        )
        lines.append(
            {
                "target": target,
                "label": target.campaign.name
                if target.campaign
                else Channel(target.channel).label,
                "kind": "campaign" if target.campaign_id else "channel",
                "accepted": accepted,
                "goal": target.accepted_leads,
                "met": accepted >= target.accepted_leads,
            }
        )
    goal = sum(line["goal"] for line in lines) if lines else None
    rejection_rate = d.rate(total["rejected"], total["handed_off"])
    marketing = {
        "targets": lines,
        "accepted": total["accepted_handed"],
        "goal": goal,
        "goal_met": None if goal is None else total["accepted_handed"] >= goal,
        "rejected": total["rejected"],
        "handed_off": total["handed_off"],
        "rejection_rate": rejection_rate,
        "max_rejection_rate": max_rejection,
        "rejection_met": _met(rejection_rate, max_rejection, at_most=True),
    }
    marketing["missed"] = any(line["met"] is False for line in lines) or (
        marketing["rejection_met"] is False
    )
    kept = total["lost_unresponsive"] - total["lost_unresponsive_short"]
    measures = {
        "response": _share(total["responded_in_sla"], total["handoffs"]),
        # The dashboard's contact-in-SLA rate, one definition (definitions.rates).
        "first_attempt": {
            "count": total["contacted_in_sla"],
            "of": total["handed_off"],
            "share": d.rates(total)["contact_in_sla_rate"],
        },
        "attempts": _share(kept, total["lost_unresponsive"]),
    }
    for key, measure in measures.items():
        measure["key"], measure["label"] = key, SALES_MEASURES[key]
        measure["met"] = _met(measure["share"], pass_mark)
    sales = {
        "measures": list(measures.values()),
        "pass_share": pass_mark,
        "missed": any(m["met"] is False for m in measures.values()),
    }
    return {"month": month, "marketing": marketing, "sales": sales}


def csv_rows(card):
    """The scorecard as CSV rows under CSV_HEADER: one per month, side and measure, rates
    to four places, counts whole."""

    def fmt(value):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.4f}"
        return value

    rows = []
    for m in card["months"]:
        month = m["month"].strftime("%Y-%m")
        mk, sl = m["marketing"], m["sales"]
        for line in mk["targets"]:
            key = (
                line["target"].campaign_id
                if line["kind"] == "campaign"
                else line["target"].channel
            )
            rows.append(
                [
                    month,
                    "marketing",
                    f"accepted_{line['kind']}",
                    key,
                    line["accepted"],
                    line["goal"],
                    fmt(line["met"]),
                ]
            )
        rows.append(
            [
                month,
                "marketing",
                "accepted_overall",
                "",
                mk["accepted"],
                fmt(mk["goal"]),
                fmt(mk["goal_met"]),
            ]
        )
        rows.append(
            [
                month,
                "marketing",
                "rejection_rate",
                "",
                fmt(mk["rejection_rate"]),
                fmt(mk["max_rejection_rate"]),
                fmt(mk["rejection_met"]),
            ]
        )
        for measure in sl["measures"]:
            rows.append(
                [
                    month,
                    "sales",
                    measure["key"],
                    "",
                    fmt(measure["share"]),
                    fmt(sl["pass_share"]),
                    fmt(measure["met"]),
                ]
            )
        rows.append([month, "marketing", "missed", "", fmt(mk["missed"]), "", ""])
        rows.append([month, "sales", "missed", "", fmt(sl["missed"]), "", ""])
    return rows


CSV_HEADER = ("month", "side", "measure", "scope", "actual", "target", "met")
