"""Managers' pages: the team, one rep's leads, bulk reassignment, availability, login
unlocks, disputes."""

import logging

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    Min,
    OuterRef,
    Q,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from leadflow import roles
from leadflow import services as leadflow_services
from leadflow.dates import today_bounds
from leadflow.errors import InvalidInput, LeadflowError
from leadflow.http import forbidden, report_refused, safe_next
from leadflow.names import person
from leadflow.permissions import role_required
from leads.models import (
    SALES_STAGES,
    Flag,
    Lead,
    Side,
    Stage,
)
from leads.services import bulk

from .. import services
from ..forms import (
    AvailabilityForm,
    BulkReassignForm,
    RulingForm,
)
from ..models import Dispute, DisputeRuling
from .helpers import QUEUE_LIMIT, attach_flags, choices, rep_choices

User = get_user_model()
logger = logging.getLogger(__name__)


REP_LEADS_PER_PAGE = 100


# --- managers: team, reassignment, availability, disputes ----------------------------


manager_required = role_required(
    roles.is_manager, gettext_lazy("Only managers can see this page.")
)


def _sales_people():
    """Reps to show on the team page: active ones, and inactive ones still holding leads
    (their leads need a new owner)."""
    holds_leads = Exists(Lead.objects.filter(owner=OuterRef("pk"), stage__in=SALES_STAGES))
    return User.objects.filter(groups__name=roles.SALES).filter(Q(is_active=True) | holds_leads)


@manager_required
def team(request):
    """Every rep's open leads and due follow-ups, counted in one grouped query."""
    now, end_of_today = today_bounds()
    lead = "open_lead"
    reps = list(
        _sales_people()
        .annotate(
            # Join only the rep's leads with sales (the (owner, stage) index), not all of them.
            open_lead=FilteredRelation(
                "owned_leads", condition=Q(owned_leads__stage__in=SALES_STAGES)
            ),
        )
        .annotate(
            available=Coalesce("profile__is_available", True),
            open_total=Count(lead),
            awaiting=Count(lead, filter=Q(open_lead__stage=Stage.HANDED_OFF)),
            response_overdue=Count(
                lead,
                filter=Q(open_lead__stage=Stage.HANDED_OFF, open_lead__response_due_at__lt=now),
            ),
            accepted=Count(lead, filter=Q(open_lead__stage=Stage.ACCEPTED)),
            contacted=Count(lead, filter=Q(open_lead__stage=Stage.CONTACTED)),
            opportunity=Count(lead, filter=Q(open_lead__stage=Stage.OPPORTUNITY)),
            pipeline=Sum("open_lead__deal_value", filter=Q(open_lead__stage=Stage.OPPORTUNITY)),
            follow_up_overdue=Count(lead, filter=Q(open_lead__next_follow_up_at__lt=now)),
            follow_up_today=Count(
                lead,
                filter=Q(
                    open_lead__next_follow_up_at__gte=now,
                    open_lead__next_follow_up_at__lt=end_of_today,
                ),
            ),
        )
        .order_by("username")
    )
    # Counted apart, grouped by rep: as a subquery of the grouped query above it would sit
    # in its GROUP BY and run once per joined lead (minutes at a million leads).
    open_flags = dict(
        Flag.objects.filter(
            responsible__in=[rep.pk for rep in reps], resolved_at__isnull=True, side=Side.SALES
        )
        .order_by()
        .values_list("responsible")
        .annotate(n=Count("pk"))
    )
    for rep in reps:
        rep.open_flags = open_flags.get(rep.pk, 0)
    in_queue = Q(stage=Stage.HANDED_OFF, owner__isnull=True)
    scoped = Lead.objects.for_user(request.user)
    totals = scoped.with_sales().aggregate(
        open_total=Count("pk"),
        awaiting=Count("pk", filter=Q(stage=Stage.HANDED_OFF, owner__isnull=False)),
        response_overdue=Count(
            "pk", filter=Q(stage=Stage.HANDED_OFF, owner__isnull=False, response_due_at__lt=now)
        ),
        accepted=Count("pk", filter=Q(stage=Stage.ACCEPTED)),
        contacted=Count("pk", filter=Q(stage=Stage.CONTACTED)),
        opportunity=Count("pk", filter=Q(stage=Stage.OPPORTUNITY)),
        pipeline=Sum("deal_value", filter=Q(stage=Stage.OPPORTUNITY)),
        follow_up_overdue=Count("pk", filter=Q(next_follow_up_at__lt=now)),
        follow_up_today=Count(
            "pk", filter=Q(next_follow_up_at__gte=now, next_follow_up_at__lt=end_of_today)
        ),
        queue=Count("pk", filter=in_queue),
        queue_oldest=Min("last_handed_off_at", filter=in_queue),
    )
    queue = list(scoped.unassigned_queue().order_by("last_handed_off_at", "id")[:QUEUE_LIMIT])
    context = {
        "reps": reps,
        "assignable_reps": [r for r in reps if r.is_active],
        "totals": totals,
        "queue": queue,
        "open_disputes": Dispute.objects.filter(ruled_at__isnull=True).count(),
        "now": now,
        "here": request.get_full_path(),
    }
    return render(request, "sales/team.html", context)


@manager_required
def rep_leads(request, user_id):
    """One rep's open leads, to reassign some or all of them."""
    rep = get_object_or_404(
        User.objects.filter(groups__name=roles.SALES).annotate(
            available=Coalesce("profile__is_available", True)
        ),
        pk=user_id,
    )
    leads = (
        Lead.objects.for_user(request.user)
        .filter(owner=rep, stage__in=SALES_STAGES)
        .select_related("campaign")
        .order_by(F("next_follow_up_at").asc(nulls_last=True), "last_handed_off_at", "id")
    )
    page = Paginator(leads, REP_LEADS_PER_PAGE).get_page(request.GET.get("page"))
    attach_flags(page.object_list)
    context = {
        "rep": rep,
        "page": page,
        "leads": page.object_list,
        "reps": [r for r in rep_choices() if r.pk != rep.pk],
        "now": timezone.now(),
        "here": request.get_full_path(),
    }
    return render(request, "sales/rep_leads.html", context)


@login_required
@require_POST
def bulk_reassign(request):
    """Reassign many leads to one rep; each lead in its own transaction, so one refusal does
    not undo the others, and every refusal is reported."""
    back = safe_next(request, reverse("sales:team"))
    if not roles.is_manager(request.user):
        return forbidden(request, _("Only managers can reassign leads."))
    form = BulkReassignForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    ids = list(
        Lead.objects.for_user(request.user)
        .filter(pk__in=data["lead_ids"])
        .values_list("pk", flat=True)
    )
    done, refused = bulk(
        services.lead_reassign, ids, by=request.user, to_user=data["to_user"], note=data["note"]
    )
    if done:
        messages.success(
            request,
            ngettext(
                "%(n)s lead reassigned to %(rep)s.",
                "%(n)s leads reassigned to %(rep)s.",
                len(done),
            )
            % {"n": len(done), "rep": person(data["to_user"])},
        )
    report_refused(request, refused, len(data["lead_ids"]) - len(ids))
    return redirect(back)


@login_required
@require_POST
def rep_availability(request, user_id):
    back = safe_next(request, reverse("sales:team"))
    if not roles.is_manager(request.user):
        return forbidden(request, _("Only managers can change availability."))
    rep = get_object_or_404(User.objects.filter(groups__name=roles.SALES), pk=user_id)
    form = AvailabilityForm(request.POST)
    form.is_valid()  # a BooleanField cannot be invalid: absent means unavailable
    available = form.cleaned_data.get("available", False)
    try:
        services.rep_set_availability(rep=rep, by=request.user, available=available)
    except LeadflowError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if available:
        message = _("%(rep)s is available again for new leads.")
    else:
        message = _("%(rep)s is unavailable: round-robin skips them.")
    messages.success(request, message % {"rep": person(rep)})
    return redirect(back)


@login_required
@require_POST
def login_unlock(request, user_id):
    """A manager lets a user locked out of logging in (too many wrong passwords) try again
    at once, from every address."""
    back = safe_next(request, reverse("sales:team"))
    if not roles.is_manager(request.user):
        return forbidden(request, _("Only managers can unlock a login."))
    user = get_object_or_404(User, pk=user_id)
    try:
        leadflow_services.login_unlock(by=request.user, user=user)
    except LeadflowError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    except Exception:  # noqa: BLE001 - the cache (leadflow/throttle.py) is away
        logger.exception("login unlock failed for user %s", user.pk)
        messages.error(request, _("The unlock did not work: try again in a minute."))
        return redirect(back)
    messages.success(request, _("%(user)s can log in again.") % {"user": person(user)})
    return redirect(back)


@manager_required
def disputes(request):
    """The managers' queue of disputed rejections, oldest first, and recent rulings."""
    related = ("lead", "lead__campaign", "raised_by", "handoff", "handoff__to_user")
    open_disputes = list(
        Dispute.objects.filter(ruled_at__isnull=True)
        .select_related(*related)
        .order_by("raised_at", "id")[:100]
    )
    ruled = list(
        Dispute.objects.filter(ruled_at__isnull=False)
        .select_related(*related, "ruled_by")
        .order_by("-ruled_at", "-id")[:20]
    )
    context = {
        "open_disputes": open_disputes,
        "ruled": ruled,
        "reps": rep_choices() if open_disputes else [],
        "sales_choices": choices(),
        "here": request.get_full_path(),
    }
    return render(request, "sales/dispute_list.html", context)


@login_required
def dispute_detail(request, pk):
    """A dispute and its ruling, read-only: for the managers and the people it concerns
    (who raised it, the rep who rejected). It opens even once the lead has moved on and
    they may no longer see the lead; to anyone else it is a 404."""
    dispute = get_object_or_404(
        Dispute.objects.select_related(
            "lead", "lead__campaign", "raised_by", "ruled_by", "handoff", "handoff__to_user"
        ),
        pk=pk,
    )
    if not roles.is_manager(request.user) and request.user not in dispute.concerns():
        raise Http404
    lead_visible = Lead.objects.for_user(request.user).filter(pk=dispute.lead_id).exists()
    context = {"dispute": dispute, "lead": dispute.lead, "lead_visible": lead_visible}
    return render(request, "sales/dispute_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@manager_required
def dispute_rule(request, pk):
    """Uphold or overturn one disputed rejection (full-page form on GET or a refused post)."""
    dispute = get_object_or_404(
        Dispute.objects.select_related("lead", "raised_by", "handoff__to_user"), pk=pk
    )
    back = safe_next(request, reverse("sales:disputes"))
    form = RulingForm(request.POST if request.method == "POST" else None)
    if request.method == "GET" and dispute.ruled_at is not None:
        messages.info(request, _("This dispute has already been ruled on."))
        return redirect(dispute.lead.get_absolute_url())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.dispute_rule(
                dispute=dispute,
                by=request.user,
                ruling=data["ruling"],
                to_user=data["to_user"],
                note=data["note"],
            )
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except LeadflowError as exc:
            messages.error(request, exc.message)
            return redirect(back)
        else:
            if data["ruling"] == DisputeRuling.OVERTURNED:
                message = _("Rejection overturned: %(lead)s is handed to %(rep)s.") % {
                    "lead": dispute.lead,
                    "rep": person(data["to_user"]),
                }
            else:
                message = _("Rejection upheld: %(lead)s stays with marketing.") % {
                    "lead": dispute.lead
                }
            messages.success(request, message)
            return redirect(back)
    context = {
        "lead": dispute.lead,
        "dispute": dispute,
        "form": form,
        "title": _("Rule on a disputed rejection"),
        "action_url": reverse("sales:dispute_rule", args=[dispute.pk]),
        "next": back,
    }
    return render(request, "sales/lead_action_form.html", context)
