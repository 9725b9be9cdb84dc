"""The reference computation of the dashboard's numbers (SPEC §5), straight from the raw
tables with its own conditional aggregates, independent of the statistics pipeline
(leads/reporting/stats.py) and of its named counts (leads/reporting/definitions.py). The
tests hold every page's numbers to it; benchmarks/dashboard.py times it as "orm-raw"."""

import datetime as dt
import math
import statistics
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone

from leads.models import Flag, FlagKind, Side, Stage
from leads.reporting.definitions import ACCEPTED_HANDED, FUNNEL_KEYS
from leads.reporting.definitions import rate as _rate
from leads.reporting.medians import (
    false_rejection_handoffs,
    median_hours_by_owner,
    median_hours_to_first_contact,
)
from leads.reporting.stats import assemble_marketing, assemble_sales
from leads.sla.calendar import Minutes, global_policy
from sales.models import Activity, Dispute, Handoff, Objection


def _ball_dropped(attempts):
    """Where the ball dropped (SPEC §5), written out rule by rule: each category's filter
    over leads annotated ``delayed`` (a response or first-contact flag was ever raised: under
    the salesperson filter, with the lead's own rep responsible; see ``_with_delay``)."""
    handed_not_won = Q(handed_off_at__isnull=False) & ~Q(stage=Stage.WON)
    rejected_unaccepted = Q(rejected_at__isnull=False) & (
        Q(accepted_at__isnull=True) | Q(accepted_at__lt=F("rejected_at"))
    )
    lost, unconnected = Q(stage=Stage.LOST), Q(first_connect_at__isnull=True)
    rule_1 = handed_not_won & rejected_unaccepted
    rule_2 = (
        handed_not_won
        & ~rejected_unaccepted
        & (Q(delayed=True) | (lost & unconnected & Q(attempts_before_connect__lt=attempts)))
    )
    rule_3 = (
        handed_not_won
        & ~rejected_unaccepted
        & ~Q(delayed=True)
        & lost
        & (~unconnected | Q(attempts_before_connect__gte=attempts))
    )
    rest = handed_not_won & ~rule_1 & ~rule_2 & ~rule_3
    return {"marketing": rule_1, "sales": rule_2, "market": rule_3, "in_progress": rest}


def _with_delay(leads, *, own):
    """Each lead with ``delayed``: a response or first-contact flag was ever raised; ``own``
    (per rep) only one raised while the lead's current rep was responsible (a breach stays
    with whoever held the lead, SPEC §4)."""
    delays = Flag.objects.filter(
        lead=OuterRef("pk"),
        kind__in=[FlagKind.RESPONSE_OVERDUE, FlagKind.FIRST_CONTACT_OVERDUE],
    )
    if own:
        delays = delays.filter(responsible=OuterRef("owner"))
    return leads.annotate(delayed=Exists(delays))


def _with_terms(leads):
    """Each lead with the first-contact threshold its first handoff stored (the contract of
    that handoff), as ``first_terms``."""
    first_handoff = (
        Handoff.objects.filter(lead=OuterRef("pk"))
        .order_by("handed_at", "id")
        .values("first_contact_minutes")[:1]
    )
    return leads.annotate(first_terms=Subquery(first_handoff))


def _in_sla(sla_minutes):
    """First contact within ``first_terms`` (``sla_minutes`` when the handoff stored none)."""
    threshold = Minutes(Coalesce(F("first_terms"), Value(sla_minutes)))
    return Q(
        handed_off_at__isnull=False,
        first_contact_at__isnull=False,
        first_contact_at__lte=F("handed_off_at") + threshold,
    )


def funnel(filters, sla_minutes=None, attempts=None):
    """The funnel of SPEC §5/§6 for a cohort: counts, won value, rates, median and where the
    ball dropped (``attempts``: the policy's unreached_attempts), and the cohort's open
    marketing flags."""
    cohort = filters.cohort()
    policy = global_policy()
    sla_minutes = sla_minutes if sla_minutes is not None else policy.first_contact_minutes
    attempts = attempts if attempts is not None else policy.unreached_attempts
    dropped = _ball_dropped(attempts)
    in_sla = _in_sla(sla_minutes)
    annotated = _with_terms(_with_delay(cohort, own=filters.owner is not None))
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
        rejected=Count("id", filter=Q(rejected_at__isnull=False)),
        won_value=Coalesce(Sum("deal_value", filter=Q(stage=Stage.WON)), Value(Decimal("0.00"))),
        contacted_in_sla=Count("id", filter=in_sla),
        **{f"dropped_{c}": Count("id", filter=q) for c, q in dropped.items()},
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
        "rejected": data["rejected"],
        "won_value": Decimal(data["won_value"]).quantize(Decimal("0.01")),
        "acceptance_rate": _rate(data["accepted_handed"], data["handed_off"]),
        "contact_in_sla_rate": _rate(data["contacted_in_sla"], data["handed_off"]),
        "median_hours_to_first_contact": median_hours_to_first_contact(cohort),
        "win_rate": _rate(data["won"], data["accepted"]),
        "ball_dropped": {c: data[f"dropped_{c}"] for c in dropped},
    }
    result["contacted_in_sla"] = data["contacted_in_sla"]
    result["marketing_flags_open"] = Flag.objects.filter(
        side=Side.MARKETING, resolved_at__isnull=True, lead__in=cohort.values("pk")
    ).count()
    return result


def funnel_json(filters):
    """Exactly the JSON shape of SPEC §6 (rates 0-1 or null, money as a decimal string)."""
    data = funnel(filters)
    out = {key: data[key] for key in FUNNEL_KEYS}
    out["won_value"] = str(data["won_value"])
    median = data["median_hours_to_first_contact"]
    out["median_hours_to_first_contact"] = None if median is None else round(median, 2)
    return out


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


def sales_scorecard(filters, sla_minutes=None):
    """Per rep: leads received and accepted (handoffs to them), contacted within the SLA and
    median hours to first contact, follow-ups logged, win rate, won value (leads they own),
    open and raised sales flags, objections heard, rejections and false rejections."""
    cohort = filters.cohort()
    sla_minutes = sla_minutes if sla_minutes is not None else global_policy().first_contact_minutes
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
    in_sla = _in_sla(sla_minutes)
    owned = {
        row["owner"]: row
        for row in _with_terms(cohort.filter(owner__isnull=False))
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
        Activity.objects.filter(lead__in=cohort_ids, correction__isnull=True)
        .values("user")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("user", "n")
    )
    # A breach counts against the rep responsible when it was raised, whoever owns the
    # lead now: under the salesperson filter, that rep's flags on the unfiltered cohort.
    flagged = Flag.objects.filter(side=Side.SALES, lead__in=replace(filters, owner=None).cohort())
    if filters.owner is not None:
        flagged = flagged.filter(responsible=filters.owner)
    flags = {
        row["responsible"]: row
        for row in flagged.values("responsible")
        .annotate(raised=Count("id"), open=Count("id", filter=Q(resolved_at__isnull=True)))
        .order_by()
    }
    objections = {}
    for row in (
        Objection.objects.filter(lead__in=cohort_ids, activity__correction__isnull=True)
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
        Objection.objects.filter(
            lead__in=filters.cohort().values("pk"), activity__correction__isnull=True
        )
        .values("lead__campaign", "tag")
        .annotate(n=Count("id"))
        .order_by("lead__campaign", "-n", "tag")
    ):
        tags = out.setdefault(row["lead__campaign"], [])
        if len(tags) < top:
            tags.append((row["tag"], row["n"]))
    return out


def weekly_trend(filters, sla_minutes=None):
    """Cohort by ISO week of creation (site time zone): marketing's generated / MQL / handed
    off and sales' accepted / contacted within SLA / won, one GROUP BY."""
    sla_minutes = sla_minutes if sla_minutes is not None else global_policy().first_contact_minutes
    in_sla = _in_sla(sla_minutes)
    rows = (
        _with_terms(filters.cohort())
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


# --- speed to lead, court time, attempts, honesty (SPEC §5) ---------------------------
#
# Written out from the rows in Python, apart from leads/reporting/definitions.py and
# percentiles.py: ``clock_from_rows`` takes plain rows, so the tests feed it the database's
# rows (``clock``) and, for the "done when", the export's and the API's.

MARKETING_HOLDS = {"new", "mql", "rejected"}
SALES_HOLDS = {"handed_off", "accepted", "contacted", "opportunity"}
CONTACTS = {"call", "email", "meeting"}
BANDS = (("within_5_min", 5), ("within_1_h", 60), ("within_24_h", 1440), ("over_24_h", None))


def percentile(values, fraction):
    """The continuous percentile (linear between the nearest ranks), as PostgreSQL's
    PERCENTILE_CONT; None of nothing."""
    values = sorted(values)
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    if fraction == 0.5:
        return float(statistics.median(values))
    return statistics.quantiles(values, n=10, method="inclusive")[round(fraction * 10) - 1]


def _minutes_between(later, earlier):
    return (later - earlier).total_seconds() / 60


def _spread(values):
    return {"median_minutes": percentile(values, 0.5), "p90_minutes": percentile(values, 0.9)}


def clock_from_rows(leads, activities, attempts, user_may_see=None):
    """The speed_to_lead, court_time, attempts and honesty of /api/v1/funnel/ (before
    rounding) from ``leads``: dicts of origin, created_at, handed_off_at, first_contact_at,
    first_connect_at, attempts_before_connect, marketing_minutes and sales_minutes (up to
    now), stage, campaign, owner, id; and ``activities``: dicts of user, kind, live,
    logged_late. ``user_may_see(lead)`` picks the held-longest leads (all without it)."""
    inquiries = [lead for lead in leads if lead["origin"] == "marketing"]
    speed = {"inquiries": len(inquiries)}
    for reach, field in (("attempt", "first_contact_at"), ("connect", "first_connect_at")):
        reached = [lead for lead in inquiries if lead[field] is not None]
        bands = {name: 0 for name, _limit in BANDS}
        for lead in reached:
            minutes = _minutes_between(lead[field], lead["created_at"])
            for name, limit in BANDS:
                if limit is None or minutes <= limit:
                    bands[name] += 1
                    break
        bands["never"] = len(inquiries) - len(reached)
        speed[reach] = {
            "reached": len(reached),
            "bands": bands,
            **_spread([_minutes_between(lead[field], lead["created_at"]) for lead in reached]),
            "marketing_share": _spread(
                [_minutes_between(lead["handed_off_at"], lead["created_at"]) for lead in reached]
            ),
            "sales_share": _spread(
                [_minutes_between(lead[field], lead["handed_off_at"]) for lead in reached]
            ),
        }
    handed = [lead for lead in leads if lead["handed_off_at"] is not None]
    court = {}
    for side, population, by, group_by, holds in (
        ("marketing", inquiries, "by_campaign", "campaign", MARKETING_HOLDS),
        ("sales", handed, "by_rep", "owner", SALES_HOLDS),
    ):
        minutes = f"{side}_minutes"
        groups = {}
        for lead in population:
            group = lead[group_by]
            if group is not None:
                groups.setdefault(group, []).append(lead[minutes])
        holding = sorted(
            (
                lead
                for lead in population
                if lead["stage"] in holds and (user_may_see is None or user_may_see(lead))
            ),
            key=lambda lead: (-lead[minutes], lead["created_at"], lead["id"]),
        )[:10]
        court[side] = {
            "median_minutes": percentile([lead[minutes] for lead in population], 0.5),
            by: {group: percentile(values, 0.5) for group, values in groups.items()},
            "held_longest": [{"lead": lead["id"], "minutes": lead[minutes]} for lead in holding],
        }
    attempted = [lead for lead in inquiries if lead["first_contact_at"] is not None]
    connected = [lead for lead in inquiries if lead["first_connect_at"] is not None]
    unreached = [
        lead
        for lead in attempted
        if lead["first_connect_at"] is None and lead["attempts_before_connect"] >= attempts
    ]
    contacts = [a for a in activities if a["live"] and a["kind"] in CONTACTS]
    by_rep = {}
    for activity in contacts:
        row = by_rep.setdefault(activity["user"], {"contacts": 0, "logged_late": 0})
        row["contacts"] += 1
        row["logged_late"] += bool(activity["logged_late"])
    late = sum(row["logged_late"] for row in by_rep.values())
    return {
        "speed_to_lead": speed,
        "court_time": court,
        "attempts": {
            "attempted": len(attempted),
            "connected": len(connected),
            "median_before_connect": percentile(
                [lead["attempts_before_connect"] for lead in connected], 0.5
            ),
            "unreached_after": attempts,
            "unreached": len(unreached),
            "unreached_share": _rate(len(unreached), len(attempted)),
        },
        "honesty": {
            "contacts": len(contacts),
            "logged_late": late,
            "late_share": _rate(late, len(contacts)),
            "by_rep": {
                rep: {**row, "late_share": _rate(row["logged_late"], row["contacts"])}
                for rep, row in by_rep.items()
            },
        },
    }


def clock(filters, now, attempts=None, user=None):
    """``clock_from_rows`` over the database's rows of the cohort, as of ``now``."""
    attempts = attempts if attempts is not None else global_policy().unreached_attempts
    leads = []
    for lead in filters.cohort():
        held = lead.court_time(now)
        leads.append(
            {
                "id": lead.pk,
                "origin": lead.origin,
                "created_at": lead.created_at,
                "handed_off_at": lead.handed_off_at,
                "first_contact_at": lead.first_contact_at,
                "first_connect_at": lead.first_connect_at,
                "attempts_before_connect": lead.attempts_before_connect,
                "marketing_minutes": held["marketing"],
                "sales_minutes": held["sales"],
                "stage": lead.stage,
                "campaign": lead.campaign_id,
                "owner": lead.owner_id,
            }
        )
    corrected = set(Activity.objects.exclude(corrects=None).values_list("corrects", flat=True))
    activities = [
        {
            "user": a.user_id,
            "kind": a.kind,
            "live": a.pk not in corrected,
            "logged_late": a.logged_late,
        }
        for a in Activity.objects.filter(lead__in=filters.cohort().values("pk"))
    ]
    visible = None
    if user is not None:
        from leads.models import Lead

        ids = set(Lead.objects.for_user(user).values_list("pk", flat=True))
        visible = lambda lead: lead["id"] in ids  # noqa: E731
    return clock_from_rows(leads, activities, attempts, visible)


# --- attribution (SPEC §5), straight from the touches ---------------------------------


def _largest_remainder(total, quotas):
    """Whole units of ``total`` for exact (Fraction) or float quotas that sum to it: the
    floors, then one more to the largest fractional parts, earlier touches first on ties."""
    floors = [math.floor(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), i))
    for i in order[: total - sum(floors)]:
        floors[i] += 1
    return floors


def _attribution_weights(model, lead, touches):
    """Each counted touch's share (summing to 1) under ``model``, written out from SPEC §5
    and issue 19: Fractions for the rational models, floats for time decay."""
    n = len(touches)
    if n == 1:
        return [Fraction(1)]
    if model == "first":
        return [Fraction(1)] + [Fraction(0)] * (n - 1)
    if model == "last":
        return [Fraction(0)] * (n - 1) + [Fraction(1)]
    if model == "linear":
        return [Fraction(1, n)] * n
    if model == "u_shaped":
        if n == 2:
            return [Fraction(1, 2)] * 2
        middle = Fraction(1, 5) / (n - 2)
        return [Fraction(2, 5)] + [middle] * (n - 2) + [Fraction(2, 5)]
    if model == "w_shaped":

        def touch_at(moment):
            earlier = [i for i, t in enumerate(touches) if t.occurred_at <= moment]
            return earlier[-1] if earlier else 0

        moments = [0]
        if lead.mql_at is not None:
            moments.append(touch_at(lead.mql_at))
        if lead.handed_off_at is not None:
            moments.append(touch_at(lead.handed_off_at))
        others = [i for i in range(n) if i not in moments]
        raw = [Fraction(0)] * n
        for i in moments:
            raw[i] += Fraction(3, 10)
        for i in others:
            raw[i] += Fraction(1, 10) / len(others)
        whole = sum(raw)
        return [w / whole for w in raw]
    if model == "time_decay":
        if lead.stage == Stage.WON:
            reference = lead.closed_at
        else:
            reference = max(t.occurred_at for t in touches)
        raw = [2 ** (-(reference - t.occurred_at) / dt.timedelta(days=7)) for t in touches]
        whole = sum(raw)
        return [w / whole for w in raw]
    raise ValueError(model)


def attribution_parts(model, lead):
    """[(campaign_id, credit in millionths, deal cents)] of one lead under ``model``."""
    touches = sorted(lead.touches.all(), key=lambda t: (t.occurred_at, t.id))
    if lead.stage in (Stage.WON, Stage.LOST):
        counted = [t for t in touches if t.occurred_at <= lead.closed_at] or touches[:1]
    else:
        counted = touches
    if not counted:
        return [
            (
                lead.campaign_id,
                1_000_000,
                int((lead.deal_value or 0) * 100),
            )
        ]
    shares = _attribution_weights(model, lead, counted)
    credit = _largest_remainder(1_000_000, [1_000_000 * s for s in shares])
    cents = int((lead.deal_value or 0) * 100)
    money = _largest_remainder(cents, [cents * s for s in shares])
    return [(t.campaign_id, c, m) for t, c, m in zip(counted, credit, money, strict=True)]


def attribution(filters, model):
    """{campaign id or None: (leads, pipeline, won revenue)} as Decimals (six places, two,
    two) for the cohort of ``filters``, every campaign with any credit."""
    out = {}
    for lead in filters.cohort().prefetch_related("touches"):
        for campaign_id, credit, cents in attribution_parts(model, lead):
            leads, pipeline, won = out.get(campaign_id, (0, 0, 0))
            out[campaign_id] = (
                leads + credit,
                pipeline + (cents if lead.opportunity_at is not None else 0),
                won + (cents if lead.stage == Stage.WON else 0),
            )
    return {
        campaign_id: (
            Decimal(leads) / 1_000_000,
            Decimal(pipeline) / 100,
            Decimal(won) / 100,
        )
        for campaign_id, (leads, pipeline, won) in out.items()
        if leads or pipeline or won
    }
