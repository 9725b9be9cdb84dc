"""The sales workspace: a rep's inbox, the actions on one lead, and the managers' team
overview, reassignment and dispute queue.

Every lead comes from ``Lead.objects.for_user`` (another rep's lead is a 404) and every
change goes through ``sales.services``; a refusal becomes a message or a form error.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from leadflow import roles
from leadflow.errors import ActionForbidden, InvalidInput, LeadflowError
from leadflow.http import forbidden, safe_next
from leadflow.permissions import role_required
from leads import lifecycle
from leads.models import (
    SALES_STAGES,
    WORKING_STAGES,
    Flag,
    Lead,
    LostReason,
    RejectionReason,
    Side,
    Stage,
)
from leads.services import bulk

from . import services
from .forms import (
    ActivityForm,
    AvailabilityForm,
    BulkReassignForm,
    LoseForm,
    OpportunityForm,
    ReassignForm,
    RejectForm,
    ReopenForm,
    RulingForm,
    WinForm,
)
from .models import ActivityKind, ActivityOutcome, Dispute, DisputeRuling, Handoff, ObjectionTag

User = get_user_model()

# Each inbox section shows this many rows and links to the full list beyond.
SECTION_LIMIT = 50
QUEUE_LIMIT = 25
REP_LEADS_PER_PAGE = 100


# --- helpers -------------------------------------------------------------------------


def _today_bounds():
    """(now, the start of tomorrow in the site's time zone): "due today" ends at midnight."""
    now = timezone.now()
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    return now, timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min))


def _reps():
    """Active reps for the "hand to" selects: one query, rendered by hand in templates."""
    return list(
        roles.active_reps()
        .annotate(available=Coalesce("profile__is_available", True))
        .order_by("username")
    )


def _attach_flags(*lead_lists):
    Flag.objects.attach_open(lead for leads in lead_lists for lead in leads)


def choices():
    """Choice lists for the hand-rendered quick forms (no per-row form objects)."""
    return {
        "rejection_reasons": RejectionReason.choices,
        "lost_reasons": LostReason.choices,
        "activity_kinds": ActivityKind.choices,
        "activity_outcomes": ActivityOutcome.choices,
        "objection_tags": ObjectionTag.choices,
        "rulings": DisputeRuling.choices,
    }


def sales_actions(user, lead):
    """The sales actions the page offers this user on this lead now, read from the
    lifecycle table. The services still decide: this only hides buttons that could not
    succeed."""
    return lifecycle.available(user, lead) & ACTIONS.keys()


def lead_action_context(request, lead):
    """Context for templates/sales/_lead_actions.html on the lead page (sales' actions)."""
    user = request.user
    if not roles.can_work_sales(user):
        return {}
    actions = sales_actions(user, lead)
    context = {
        "sales_actions": actions,
        "sales_choices": choices(),
        "upcoming_follow_up": upcoming_follow_up(lead),
    }
    open_dispute = None
    if roles.is_manager(user) and lead.disputed_at:
        open_dispute = (
            Dispute.objects.filter(lead=lead, ruled_at__isnull=True)
            .select_related("raised_by", "handoff__to_user")
            .first()
        )
        context["open_dispute"] = open_dispute
    if "reassign" in actions or open_dispute is not None:
        context["sales_reps"] = _reps()
    return context


def _claimed_by_someone_else(user, pk):
    """The message for a rep who lost a race for a queued lead (it is no longer theirs to
    see), or None. Only for a lead whose latest handoff was claimed from the queue."""
    if not roles.is_rep(user):
        return None
    handoff = (
        Handoff.objects.filter(lead_id=pk, lead__stage__in=SALES_STAGES)
        .select_related("to_user")
        .order_by("-handed_at", "-id")
        .first()
    )
    if handoff is None or handoff.claimed_at is None or handoff.to_user_id in (None, user.pk):
        return None
    return _("%(rep)s claimed this lead first.") % {"rep": handoff.to_user.get_username()}


def _no_longer_yours(user, pk):
    """The message for a rep acting on a page that went stale: a lead once handed to them
    that has since left their scope (reassigned, or rejected by them). Says nothing of
    where it went; for any other lead the caller answers 404."""
    if not roles.is_rep(user) or not Handoff.objects.filter(lead_id=pk, to_user=user).exists():
        return None
    return _(
        "This lead is no longer yours (it was reassigned or handed back), so nothing was done."
    )


# --- actions on one lead -------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    call: object  # (request, lead, cleaned_data) -> None
    success: str
    form_class: type | None = None
    title: str = ""
    # A rep may act on a queued lead; losing the race for it is a message, not a 404.
    queue: bool = False
    manager_only: bool = False
    initial: object = None  # (lead) -> the form's initial values


def upcoming_follow_up(lead):
    """The lead's scheduled follow-up while it is still ahead, else None: the log forms show
    it, so that logging an activity keeps it unless the rep changes or clears it."""
    at = lead.next_follow_up_at
    return at if at and at > timezone.now() else None


def _claim(request, lead, data):
    services.lead_claim(lead=lead, by=request.user)


def _accept(request, lead, data):
    services.lead_accept(lead=lead, by=request.user)


def _reject(request, lead, data):
    services.lead_reject(lead=lead, by=request.user, reason=data["reason"], note=data["note"])


def _log(request, lead, data):
    services.activity_log(
        lead=lead,
        by=request.user,
        kind=data["kind"],
        outcome=data["outcome"],
        objections=data["objections"],
        notes=data["notes"],
        occurred_at=data["occurred_at"],
        next_follow_up_at=data["next_follow_up_at"],
    )


def _opportunity(request, lead, data):
    services.lead_to_opportunity(
        lead=lead, by=request.user, value=data["value"], note=data["note"]
    )


def _win(request, lead, data):
    services.lead_win(lead=lead, by=request.user, value=data["value"], note=data["note"])


def _lose(request, lead, data):
    services.lead_lose(lead=lead, by=request.user, reason=data["reason"], note=data["note"])


def _reopen(request, lead, data):
    services.lead_reopen(lead=lead, by=request.user, note=data["note"])


def _reassign(request, lead, data):
    services.lead_reassign(lead=lead, by=request.user, to_user=data["to_user"], note=data["note"])


ACTIONS = {
    "claim": Action(
        _claim, gettext_lazy("Claimed %(lead)s: accept or reject it now."), queue=True
    ),
    "accept": Action(_accept, gettext_lazy("Accepted %(lead)s."), queue=True),
    "reject": Action(
        _reject,
        gettext_lazy("Rejected %(lead)s: it is back with marketing."),
        RejectForm,
        gettext_lazy("Reject a lead"),
        queue=True,
    ),
    "log": Action(
        _log,
        gettext_lazy("Follow-up logged on %(lead)s."),
        ActivityForm,
        gettext_lazy("Log a follow-up"),
        initial=lambda lead: {"next_follow_up_at": upcoming_follow_up(lead)},
    ),
    "opportunity": Action(
        _opportunity,
        gettext_lazy("%(lead)s is now an opportunity."),
        OpportunityForm,
        gettext_lazy("Move to opportunity"),
    ),
    "win": Action(_win, gettext_lazy("Won: %(lead)s."), WinForm, gettext_lazy("Mark as won")),
    "lose": Action(_lose, gettext_lazy("Lost: %(lead)s."), LoseForm, gettext_lazy("Mark as lost")),
    "reopen": Action(
        _reopen,
        gettext_lazy("Reopened %(lead)s."),
        ReopenForm,
        gettext_lazy("Reopen"),
        manager_only=True,
    ),
    "reassign": Action(
        _reassign,
        gettext_lazy("Reassigned %(lead)s to %(owner)s."),
        ReassignForm,
        gettext_lazy("Reassign to another salesperson"),
        manager_only=True,
    ),
}


def _back_after(request, lead, back):
    """Where to go after an action: ``back``, unless that is the page of a lead the user
    can no longer see (a rep who rejected it, or lost a race for it), then the inbox."""
    if back == lead.get_absolute_url() and not (
        Lead.objects.for_user(request.user).filter(pk=lead.pk).exists()
    ):
        return reverse("sales:inbox")
    return back


@login_required
@require_http_methods(["GET", "POST"])
def lead_action(request, pk, action):
    """One sales action on one lead. Forms post here from the inbox and the lead page with
    a ``next`` to return to; GET (or a refused form) shows the full-page form."""
    spec = ACTIONS[action]
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("Only salespeople and managers can do this."))
    lead = Lead.objects.for_user(user).select_related("owner", "campaign").filter(pk=pk).first()
    if lead is None:
        refusal = _claimed_by_someone_else(user, pk) if spec.queue else None
        refusal = refusal or _no_longer_yours(user, pk)
        if refusal is None:
            raise Http404
        messages.error(request, refusal)
        return redirect(safe_next(request, reverse("sales:inbox")))
    if spec.manager_only and not roles.is_manager(user):
        return forbidden(request, _("Only managers can do this."))
    back = safe_next(request, lead.get_absolute_url())

    if spec.form_class is None:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = None
    else:
        form = spec.form_class(
            request.POST if request.method == "POST" else None,
            initial=spec.initial(lead) if spec.initial else None,
        )

    if request.method == "GET":
        if action not in sales_actions(user, lead):
            messages.info(request, _("That action is not available for this lead now."))
            return redirect(lead.get_absolute_url())
    elif form is None or form.is_valid():
        try:
            spec.call(request, lead, form.cleaned_data if form is not None else {})
        except InvalidInput as exc:
            if form is None:
                messages.error(request, exc.message)
                return redirect(back)
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except ActionForbidden as exc:
            return forbidden(request, exc.message)
        except LeadflowError as exc:
            # Someone else may have just taken the lead: go back only if it is still visible.
            messages.error(request, exc.message)
            return redirect(_back_after(request, lead, back))
        else:
            lead.refresh_from_db(fields=["owner"])
            owner = lead.owner.get_full_name() or lead.owner.get_username() if lead.owner else ""
            messages.success(request, spec.success % {"lead": lead, "owner": owner})
            return redirect(_back_after(request, lead, back))

    context = {
        "lead": lead,
        "form": form,
        "title": spec.title,
        "action_url": reverse(f"sales:{action}", args=[lead.pk]),
        "next": back,
    }
    return render(request, "sales/lead_action_form.html", context)


# --- the rep's inbox -----------------------------------------------------------------


@login_required
def inbox(request):
    """A rep's home: what needs a response, what is due, what is in progress, and the
    unassigned queue. A fixed number of queries whatever the number of leads."""
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("The sales inbox is for salespeople and managers."))
    now, end_of_today = _today_bounds()
    scoped = Lead.objects.for_user(user)
    mine = scoped.filter(owner=user, stage__in=SALES_STAGES).select_related("campaign")
    awaiting = list(
        mine.filter(stage=Stage.HANDED_OFF).order_by(
            F("response_due_at").asc(nulls_last=True), "last_handed_off_at", "id"
        )[:SECTION_LIMIT]
    )
    # The most overdue first, then the ones still to come today, in one query: the rest of
    # today comes first in SQL so that a long overdue backlog cannot hide this afternoon's
    # call, and Python puts them in time order.
    due = list(
        mine.filter(next_follow_up_at__lt=end_of_today)
        .alias(
            later_today=Case(
                When(next_follow_up_at__gte=now, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("-later_today", "next_follow_up_at", "id")[: 2 * SECTION_LIMIT]
    )
    overdue = [lead for lead in due if lead.next_follow_up_at < now][:SECTION_LIMIT]
    due = overdue + [lead for lead in due if lead.next_follow_up_at >= now][:SECTION_LIMIT]
    # Disjoint from "due": a lead whose follow-up is due today is listed there only.
    later = Q(next_follow_up_at__isnull=True) | Q(next_follow_up_at__gte=end_of_today)
    working = list(
        mine.filter(later, stage__in=WORKING_STAGES).order_by(
            F("next_follow_up_at").asc(nulls_last=True), "-last_handed_off_at", "id"
        )[:SECTION_LIMIT]
    )
    queue = list(
        scoped.unassigned_queue()
        .select_related("campaign")
        .order_by("last_handed_off_at", "id")[:QUEUE_LIMIT]
    )
    is_mine = Q(owner=user, stage__in=SALES_STAGES)
    in_queue = Q(stage=Stage.HANDED_OFF, owner__isnull=True)
    counts = scoped.filter(is_mine | in_queue).aggregate(
        awaiting=Count("pk", filter=is_mine & Q(stage=Stage.HANDED_OFF)),
        response_overdue=Count(
            "pk", filter=is_mine & Q(stage=Stage.HANDED_OFF, response_due_at__lt=now)
        ),
        due=Count("pk", filter=is_mine & Q(next_follow_up_at__lt=end_of_today)),
        follow_up_overdue=Count("pk", filter=is_mine & Q(next_follow_up_at__lt=now)),
        working=Count("pk", filter=is_mine & Q(stage__in=WORKING_STAGES)),
        later=Count("pk", filter=is_mine & later & Q(stage__in=WORKING_STAGES)),
        queue=Count("pk", filter=in_queue),
    )
    _attach_flags(awaiting, due, working, queue)
    context = {
        "awaiting": awaiting,
        "due": due,
        "working": working,
        "queue": queue,
        "counts": counts,
        "now": now,
        "end_of_today": end_of_today,
        "section_limit": SECTION_LIMIT,
        "can_claim": roles.is_rep(user),
        "can_assign": roles.is_manager(user),
        "reps": _reps() if roles.is_manager(user) and queue else [],
        "sales_choices": choices(),
        "here": request.get_full_path(),
    }
    return render(request, "sales/inbox.html", context)


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
    now, end_of_today = _today_bounds()
    lead = "open_lead"
    open_flags = (
        Flag.objects.filter(responsible=OuterRef("pk"), resolved_at__isnull=True, side=Side.SALES)
        .order_by()
        .values("responsible")
        .annotate(n=Count("pk"))
        .values("n")
    )
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
            open_flags=Coalesce(Subquery(open_flags), 0),
        )
        .order_by("username")
    )
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
    _attach_flags(page.object_list)
    context = {
        "rep": rep,
        "page": page,
        "leads": page.object_list,
        "reps": [r for r in _reps() if r.pk != rep.pk],
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
            % {"n": len(done), "rep": data["to_user"].get_username()},
        )
    for lead_id, message in refused[:20]:
        messages.error(request, _("Lead #%(id)s: %(msg)s") % {"id": lead_id, "msg": message})
    if len(refused) > 20:
        more = len(refused) - 20
        messages.error(
            request,
            ngettext("…and %(n)s more refused.", "…and %(n)s more refused.", more) % {"n": more},
        )
    missing = len(data["lead_ids"]) - len(ids)
    if missing:
        messages.error(
            request,
            ngettext(
                "%(n)s selected lead was not found.",
                "%(n)s selected leads were not found.",
                missing,
            )
            % {"n": missing},
        )
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
    messages.success(request, message % {"rep": rep.get_username()})
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
        "reps": _reps() if open_disputes else [],
        "sales_choices": choices(),
        "here": request.get_full_path(),
    }
    return render(request, "sales/dispute_list.html", context)


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
                    "rep": data["to_user"].get_username(),
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
