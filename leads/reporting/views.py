"""The handoff dashboard (/dashboard/): both sides' contribution to the funnel, where the
ball dropped, and every table as CSV."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from leadflow import roles
from leadflow.csv_safe import SafeWriter
from leadflow.permissions import role_required
from sales.models import ObjectionTag

from ..models import JointSLATerms, LostReason, MarketingTarget, RejectionReason
from . import attribution, definitions, joint_sla, stats
from . import services as reporting
from .forms import JointSLATermsForm, MarketingTargetForm, PeriodForm
from .medians import false_rejections, medians_with_owners

NOT_A_READER = gettext_lazy("The dashboard is for marketing, sales and managers.")


def _context(request):
    form = PeriodForm(request.GET or None)
    filters = form.filters()
    # Pre-aggregated statistics (stats.py), brought up to date first; a big backlog
    # (after an import, say) goes to the worker and the page says how old the figures are.
    current = stats.refresh(max_days=stats.INLINE_DAYS)
    medians = medians_with_owners(filters.cohort())
    data = stats.funnel(filters, medians=medians)
    marketing = stats.marketing_scorecard(filters)
    rejection, lost = stats.reasons(filters, data)
    base = reverse("leads:list") + "?" + filters.lead_list_query()
    # Revenue at risk: the comparable leads' value per channel, read once for every table.
    values = stats.comparable_values(filters.start)
    risk = stats.revenue_at_risk(filters, values)
    no_risk = dict.fromkeys(definitions.DROPPED_CATEGORIES, Decimal("0.00"))
    no_drops = dict.fromkeys(definitions.DROPPED_CATEGORIES, 0)
    for row in marketing["campaigns"]:
        row["revenue_at_risk"] = risk["by_campaign"].get(row["campaign"].pk, no_risk)
    for row in marketing["channels"]:
        row["revenue_at_risk"] = risk["by_channel"].get(row["channel"], no_risk)
    reps = stats.sales_scorecard(filters, medians=medians)
    by_rep = stats.ball_dropped_by_rep(filters, values)
    for row in reps:
        got = by_rep.get(row["rep"].pk, {})
        row["dropped"] = got.get("dropped", no_drops)
        row["revenue_at_risk"] = got.get("revenue_at_risk", no_risk)
    model = form.attribution_model()
    return {
        "form": form,
        "filters": filters,
        "funnel": data,
        "steps": definitions.funnel_steps(data),
        "dropped": [
            {
                "key": key,
                "label": label,
                "count": data["ball_dropped"][key],
                "revenue_at_risk": risk["overall"][key],
                "url": f"{base}&dropped={key}",
            }
            for key, label in definitions.DROPPED_CATEGORIES.items()
        ],
        "clock": stats.speed_and_court(filters, request.user, data),
        "marketing": marketing,
        "costs": stats.costs(filters, data, marketing),
        "reps": reps,
        "dropped_labels": definitions.DROPPED_CATEGORIES,
        "rejection_reasons": [
            (label, rejection.get(value, 0)) for value, label in RejectionReason.choices
        ],
        "lost_reasons": [(label, lost.get(value, 0)) for value, label in LostReason.choices],
        "objections": stats.objections_by_campaign(filters),
        "objection_labels": dict(ObjectionTag.choices),
        "reason_labels": dict(RejectionReason.choices),
        "false_rejections": false_rejections(filters, request.user),
        "weekly": stats.weekly_trend(filters),
        "attribution": stats.attribution(filters, model),
        "attribution_models": [(key, label) for key, (label, _e) in attribution.MODELS.items()],
        # The model selector keeps the other filters of the page.
        "attribution_keep": [
            (name, value)
            for name, values in request.GET.lists()
            if name in form.fields and name != "model"
            for value in values
        ],
        "stats_current": current,
        "stats_as_of": stats.refreshed_at(),
        "lead_list_base": base,
        "query": request.GET.urlencode(),
    }


@role_required(roles.can_read_reports, NOT_A_READER)
def dashboard(request):
    context = _context(request)
    context["chart_data"] = {
        "labels": [date_format(row["week"], "SHORT_DATE_FORMAT") for row in context["weekly"]],
        "marketing": {
            "generated": [row["generated"] for row in context["weekly"]],
            "mql": [row["mql"] for row in context["weekly"]],
            "handed_off": [row["handed_off"] for row in context["weekly"]],
        },
        "sales": {
            "accepted": [row["accepted"] for row in context["weekly"]],
            "contacted_in_sla": [row["contacted_in_sla"] for row in context["weekly"]],
            "won": [row["won"] for row in context["weekly"]],
        },
        "names": {
            "generated": _("Generated"),
            "mql": _("MQL"),
            "handed_off": _("Handed off"),
            "accepted": _("Accepted"),
            "contacted_in_sla": _("Contacted within SLA"),
            "won": _("Won"),
        },
    }
    return render(request, "leads/dashboard.html", context)


def _fmt(value):
    """A CSV cell: rates and other fractions (floats) to four places, money (Decimals) as
    a plain decimal with two, empty when undefined."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Decimal):
        return stats.money(value)
    return value


def _credit(value):
    """A credit (a Decimal share of leads) in a CSV: four places, like the rates."""
    return f"{value:.4f}"


def _attribution_rows(data):
    """The attribution table as CSV rows, then the totals with an empty campaign id."""
    return [
        [
            data["model"],
            row["campaign"].pk if row["campaign"] else "",
            str(row["name"]),
            _credit(row["leads"]),
            row["pipeline"],
            row["won_revenue"],
        ]
        for row in data["campaigns"]
    ] + [
        [
            data["model"],
            "",
            "total",
            _credit(data["totals"]["leads"]),
            data["totals"]["pipeline"],
            data["totals"]["won_revenue"],
        ]
    ]


def _speed_rows(speed):
    """Speed to lead as CSV rows: each reach's bands, then its times in minutes, under the
    same four columns (the times in the leads column, as the funnel table does)."""
    rows = []
    for reach, data in speed.items():
        rows += [
            [reach, band["key"], band["count"], _fmt(band["share"])] for band in data["bands"]
        ]
        rows += [
            [reach, "median_minutes", _fmt(data["median"]), ""],
            [reach, "p90_minutes", _fmt(data["p90"]), ""],
        ]
        for share in ("marketing_share", "sales_share"):
            rows += [
                [reach, f"{share}_median_minutes", _fmt(data[share]["median"]), ""],
                [reach, f"{share}_p90_minutes", _fmt(data[share]["p90"]), ""],
            ]
    return rows


def _court_rows(court):
    """Court time as CSV rows: each side's median over all its leads (an empty campaign or
    rep cell), then per campaign (marketing) or per rep (sales)."""
    marketing, sales = court["marketing"], court["sales"]
    return (
        [["marketing", "", _fmt(marketing["median"])]]
        + [["marketing", r["campaign"].name, _fmt(r["median"])] for r in marketing["by"]]
        + [["sales", "", _fmt(sales["median"])]]
        + [["sales", r["rep"].get_username(), _fmt(r["median"])] for r in sales["by"]]
    )


def _held_rows(court):
    """The leads each side holds longest now; speed_and_court picked them in the reader's
    scope, so a rep's CSV names only leads they may open."""
    return [
        [
            side,
            lead.pk,
            str(lead),
            lead.court_minutes,
            lead.owner.get_username() if lead.owner else "",
            lead.campaign.name if lead.campaign else "",
        ]
        for side in ("marketing", "sales")
        for lead in court[side]["held_longest"]
    ]


# Revenue at risk per ball-dropped bucket, the last columns of the scorecards' CSVs.
RISK_HEADER = tuple(f"revenue_at_risk_{c}" for c in definitions.DROPPED_CATEGORIES)


def _risk(row):
    return [_fmt(row["revenue_at_risk"][c]) for c in definitions.DROPPED_CATEGORIES]


def _tables(context):
    """name -> (header, rows) for every table on the page."""
    funnel = context["funnel"]
    clock = context["clock"]
    attempts, honesty = clock["attempts"], clock["honesty"]
    return {
        "funnel": (
            ["step", "leads", "conversion_from_previous"],
            [[s["key"], s["count"], _fmt(s["conversion"])] for s in context["steps"]]
            + [
                ["lost", funnel["lost"], ""],
                ["won_value", _fmt(funnel["won_value"]), ""],
                ["spend", _fmt(context["costs"]["spend"]), ""],
                ["cost_per_lead", _fmt(context["costs"]["cost_per_lead"]), ""],
                ["cost_per_won", _fmt(context["costs"]["cost_per_won"]), ""],
                ["acceptance_rate", _fmt(funnel["acceptance_rate"]), ""],
                ["contact_in_sla_rate", _fmt(funnel["contact_in_sla_rate"]), ""],
                [
                    "median_hours_to_first_contact",
                    _fmt(funnel["median_hours_to_first_contact"]),
                    "",
                ],
                ["win_rate", _fmt(funnel["win_rate"]), ""],
            ],
        ),
        "ball_dropped": (
            ["side", "leads", "revenue_at_risk"],
            [[d["key"], d["count"], _fmt(d["revenue_at_risk"])] for d in context["dropped"]],
        ),
        "campaigns": (
            [
                "campaign",
                "channel",
                "generated",
                "mql",
                "handed_off",
                "accepted",
                "acceptance_rate",
                "rejected",
                *[f"rejected_{r}" for r in RejectionReason.values],
                "won",
                "sourced_revenue",
                "spend",
                "cost_per_lead",
                "cost_per_won",
                "marketing_flags_raised",
                "marketing_flags_open",
                *RISK_HEADER,
            ],
            [
                [
                    r["campaign"].name,
                    r["channel"],
                    r["generated"],
                    r["mql"],
                    r["handed_off"],
                    r["accepted"],
                    _fmt(r["acceptance_rate"]),
                    r["rejected"],
                    *[r["rejection_reasons"].get(v, 0) for v in RejectionReason.values],
                    r["won"],
                    _fmt(r["won_value"]),
                    _fmt(r["spend"]),
                    _fmt(r["cost_per_lead"]),
                    _fmt(r["cost_per_won"]),
                    r["flags_raised"],
                    r["flags_open"],
                    *_risk(r),
                ]
                for r in context["marketing"]["campaigns"]
            ],
        ),
        "channels": (
            [
                "channel",
                "generated",
                "mql",
                "handed_off",
                "accepted",
                "acceptance_rate",
                "won",
                "sourced_revenue",
                "spend",
                "cost_per_lead",
                "cost_per_won",
                "marketing_flags_raised",
                "marketing_flags_open",
                *RISK_HEADER,
            ],
            [
                [
                    c["channel"],
                    c["generated"],
                    c["mql"],
                    c["handed_off"],
                    c["accepted"],
                    _fmt(c["acceptance_rate"]),
                    c["won"],
                    _fmt(c["won_value"]),
                    _fmt(c["spend"]),
                    _fmt(c["cost_per_lead"]),
                    _fmt(c["cost_per_won"]),
                    c["flags_raised"],
                    c["flags_open"],
                    *_risk(c),
                ]
                for c in context["marketing"]["channels"]
            ],
        ),
        "reps": (
            [
                "rep",
                "received",
                "accepted",
                "acceptance_rate",
                "contacted_in_sla",
                "contact_in_sla_rate",
                "median_hours_to_first_contact",
                "follow_ups",
                "won",
                "lost",
                "win_rate",
                "won_value",
                "sales_flags_open",
                "sales_flags_raised",
                "rejected",
                "false_rejections",
                "overturned_rejections",
                "rejection_accuracy",
                "top_objections",
                *(f"dropped_{c}" for c in definitions.DROPPED_CATEGORIES),
                *RISK_HEADER,
            ],
            [
                [
                    r["rep"].get_username(),
                    r["received"],
                    r["accepted"],
                    _fmt(r["acceptance_rate"]),
                    r["contacted_in_sla"],
                    _fmt(r["contact_in_sla_rate"]),
                    _fmt(r["median_hours_to_first_contact"]),
                    r["follow_ups"],
                    r["won"],
                    r["lost"],
                    _fmt(r["win_rate"]),
                    _fmt(r["won_value"]),
                    r["flags_open"],
                    r["flags_raised"],
                    r["rejected"],
                    r["false_rejections"],
                    r["overturned"],
                    _fmt(r["rejection_accuracy"]),
                    ";".join(f"{tag}:{n}" for tag, n in r["objections"]),
                    *(r["dropped"][c] for c in definitions.DROPPED_CATEGORIES),
                    *_risk(r),
                ]
                for r in context["reps"]
            ],
        ),
        "reasons": (
            ["kind", "reason", "count"],
            [["rejection", label, n] for label, n in context["rejection_reasons"]]
            + [["lost", label, n] for label, n in context["lost_reasons"]],
        ),
        "objections": (
            ["campaign_id", "tag", "count"],
            [
                [campaign_id or "", tag, n]
                for campaign_id, tags in context["objections"].items()
                for tag, n in tags
            ],
        ),
        "false_rejections": (
            ["lead_id", "lead", "rejected_by", "rejection_reason", "won_by", "deal_value"],
            [
                [
                    h.lead_id,
                    str(h.lead),
                    h.to_user.get_username(),
                    h.rejection_reason,
                    h.lead.owner.get_username() if h.lead.owner else "",
                    _fmt(h.lead.deal_value),
                ]
                for h in context["false_rejections"]
            ],
        ),
        "speed_to_lead": (["reach", "band", "leads", "share"], _speed_rows(clock["speed"])),
        "court_time": (
            ["side", "campaign_or_rep", "median_minutes"],
            _court_rows(clock["court"]),
        ),
        "held_longest": (
            ["side", "lead_id", "lead", "minutes", "owner", "campaign"],
            _held_rows(clock["court"]),
        ),
        "attempts": (
            ["measure", "value"],
            [
                ["attempted", attempts["attempted"]],
                ["connected", attempts["connected"]],
                ["median_before_connect", _fmt(attempts["median_before_connect"])],
                ["unreached_after", attempts["after"]],
                ["unreached", attempts["unreached"]],
                ["unreached_share", _fmt(attempts["unreached_share"])],
            ],
        ),
        "honesty": (
            ["rep", "contacts", "logged_late", "late_share"],
            [
                [r["rep"].get_username(), r["contacts"], r["late"], _fmt(r["late_share"])]
                for r in honesty["by_rep"]
            ]
            # Everyone's together last, with an empty rep cell like court_time's overall rows.
            + [["", honesty["contacts"], honesty["late"], _fmt(honesty["late_share"])]],
        ),
        "attribution": (
            ["model", "campaign_id", "campaign", "leads", "pipeline", "won_revenue"],
            _attribution_rows(context["attribution"]),
        ),
        "weekly": (
            ["week", "generated", "mql", "handed_off", "accepted", "contacted_in_sla", "won"],
            [
                [
                    r["week"].isoformat(),
                    r["generated"],
                    r["mql"],
                    r["handed_off"],
                    r["accepted"],
                    r["contacted_in_sla"],
                    r["won"],
                ]
                for r in context["weekly"]
            ],
        ),
    }


TABLES = (
    "funnel",
    "ball_dropped",
    "campaigns",
    "channels",
    "reps",
    "reasons",
    "objections",
    "false_rejections",
    "weekly",
    "speed_to_lead",
    "court_time",
    "held_longest",
    "attempts",
    "honesty",
    "attribution",
)


@role_required(roles.can_read_reports, NOT_A_READER)
def dashboard_csv(request, table):
    if table not in TABLES:
        raise Http404
    header, rows = _tables(_context(request))[table]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dashboard-{table}.csv"'
    writer = SafeWriter(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _api_form(request):
    """The period form of an API request after the permission checks of /api/v1/funnel/,
    or the JSON answer that refuses it (401, 403, or 400 for bad filters or model)."""
    if not request.user.is_authenticated:
        return JsonResponse(
            {"detail": _("Authentication credentials were not provided.")}, status=401
        )
    if not roles.can_read_reports(request.user):
        return JsonResponse(
            {"detail": _("You do not have permission to read the funnel.")}, status=403
        )
    form = PeriodForm(request.GET or None)
    if request.GET and not form.is_valid():
        detail = _("Invalid filters.")
        if "model" in form.errors:
            detail = _("Unknown attribution model: choose one of %(models)s.") % {
                "models": ", ".join(attribution.MODEL_NAMES)
            }
        return JsonResponse({"detail": detail, "errors": form.errors}, status=400)
    return form


def funnel_api(request):
    """GET /api/v1/funnel/: the dashboard's numbers as JSON (SPEC §6), with the
    attribution under ``model``."""
    form = _api_form(request)
    if isinstance(form, JsonResponse):
        return form
    stats.refresh(max_days=stats.INLINE_DAYS)
    return JsonResponse(stats.funnel_json(form.filters(), request.user, form.attribution_model()))


def attribution_api(request):
    """GET /api/v1/attribution/: attributed leads, pipeline and won revenue per campaign
    under ``model`` for the funnel's filters."""
    form = _api_form(request)
    if isinstance(form, JsonResponse):
        return form
    stats.refresh(max_days=stats.INLINE_DAYS)
    return JsonResponse(
        stats.attribution_json(stats.attribution(form.filters(), form.attribution_model()))
    )


# --- the joint SLA (SPEC §5) ----------------------------------------------------------------

NOT_A_MANAGER = gettext_lazy("Only managers set the joint SLA’s targets.")


def _joint_sla_page(request, target_form=None, terms_form=None, status=200):
    current = stats.refresh(max_days=stats.INLINE_DAYS)
    card = joint_sla.scorecard()
    context = {
        "card": card,
        "months": list(reversed(card["months"])),  # the latest first
        "may_set": roles.is_manager(request.user),
        "target_form": target_form or MarketingTargetForm(),
        "terms_form": terms_form or JointSLATermsForm(),
        "targets": MarketingTarget.objects.select_related("campaign", "set_by").order_by(
            "-month", "campaign__name", "channel"
        ),
        "terms": JointSLATerms.objects.select_related("set_by").order_by("-month"),
        "stats_current": current,
        "stats_as_of": stats.refreshed_at(),
    }
    return render(request, "leads/joint_sla.html", context, status=status)


@role_required(roles.can_read_reports, NOT_A_READER)
def joint_sla_page(request):
    """The monthly scorecard of both sides; a manager also sets the targets here."""
    return _joint_sla_page(request)


@login_required
@require_POST
@role_required(roles.is_manager, NOT_A_MANAGER)
def joint_sla_target(request):
    form = MarketingTargetForm(request.POST)
    if not form.is_valid():
        return _joint_sla_page(request, target_form=form, status=400)
    data = form.cleaned_data
    reporting.target_set(
        by=request.user,
        month=data["month"],
        accepted_leads=data["accepted_leads"],
        campaign=data["campaign"],
        channel=data["channel"] if data["campaign"] is None else "",
    )
    messages.success(request, _("Target saved."))
    return redirect("joint_sla")


@login_required
@require_POST
@role_required(roles.is_manager, NOT_A_MANAGER)
def joint_sla_terms(request):
    form = JointSLATermsForm(request.POST)
    if not form.is_valid():
        return _joint_sla_page(request, terms_form=form, status=400)
    data = form.cleaned_data
    reporting.terms_set(
        by=request.user,
        month=data["month"],
        max_rejection_percent=data["max_rejection_percent"],
        pass_percent=data["pass_percent"],
    )
    messages.success(request, _("Rejection rate and pass mark saved."))
    return redirect("joint_sla")


@role_required(roles.can_read_reports, NOT_A_READER)
def joint_sla_csv(request):
    stats.refresh(max_days=stats.INLINE_DAYS)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="joint-sla.csv"'
    writer = SafeWriter(response)
    writer.writerow(joint_sla.CSV_HEADER)
    writer.writerows(joint_sla.csv_rows(joint_sla.scorecard()))
    return response
