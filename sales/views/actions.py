"""Sales' actions on one lead (claim, accept, reject, log, opportunity, win, lose, reopen,
reassign): the quick forms of the inbox and the lead page post here. What is offered comes
from the lifecycle table (leads/lifecycle.py); the services decide."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from leadflow import roles
from leadflow.errors import ActionForbidden, InvalidInput, LeadflowError
from leadflow.http import forbidden, safe_next
from leadflow.names import person
from leads import lifecycle
from leads.models import PIPELINE_PROBABILITY, Lead, Stage

from .. import services
from ..forms import (
    ActivityForm,
    LoseForm,
    NoteForm,
    OpportunityEditForm,
    OpportunityForm,
    ReassignForm,
    RejectForm,
    ReopenForm,
    SnoozeForm,
    TaskForm,
    WinForm,
)
from ..models import Activity, ActivityKind, Dispute, Handoff
from .helpers import choices, rep_choices


def wants_json_answer(request):
    return "application/json" in request.headers.get("Accept", "") or (
        request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )


def form_error_lines(form):
    return [
        (f"{form.fields[name].label}: " if name in form.fields else "") + " ".join(errors)
        for name, errors in form.errors.items()
    ]


def sales_actions(user, lead):
    """The sales actions the page offers this user on this lead now, read from the
    lifecycle table (and, for snooze and tasks, from who holds the open lead). The
    services still decide: this only hides buttons that could not succeed."""
    actions = lifecycle.available(user, lead) & ACTIONS.keys()
    if lead.is_open and (roles.is_manager(user) or lead.owner_id == user.pk):
        actions.add("task")
        if lead.next_follow_up_at is not None and lead.is_with_sales:
            actions.add("snooze")
    return actions


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
        "opportunity_probability": PIPELINE_PROBABILITY[Stage.OPPORTUNITY],
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
        context["sales_reps"] = rep_choices()
    return context


# --- actions on one lead -------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    call: object  # (request, lead, cleaned_data) -> None
    success: str
    form_class: type | None = None
    title: str = ""
    manager_only: bool = False
    initial: object = None  # (lead, request) -> the form's initial values
    # Said instead of ``success`` when the lead was awaiting its rep's response (handed
    # off) before the action: logging contact then also accepts it.
    success_from_handoff: str = ""


def upcoming_follow_up(lead):
    """The lead's scheduled follow-up while it is still ahead, else None: the log forms show
    it, so that logging an activity keeps it unless the rep changes or clears it."""
    at = lead.next_follow_up_at
    return at if at and at > timezone.now() else None


def correction_initial(lead, request):
    """``?corrects=<id>`` on the log form: a correction, starting from the activity of this
    lead it replaces (activities are never edited: the correction is a new one)."""
    try:
        corrects = int(request.GET.get("corrects", ""))
    except ValueError:
        return {}
    activity = Activity.objects.filter(lead=lead, pk=corrects).prefetch_related("objections")
    activity = activity.first()
    if activity is None:
        return {}
    return {
        "corrects": activity.pk,
        "kind": activity.kind,
        "outcome": activity.outcome,
        "objections": activity.objection_tags,
        "notes": activity.notes,
        "occurred_at": timezone.localtime(activity.occurred_at),
    }


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
        next_follow_up_at=data.get("next_follow_up_at"),
        corrects=data["corrects"],
    )


def _note(request, lead, data):
    services.activity_log(lead=lead, by=request.user, kind=ActivityKind.NOTE, notes=data["notes"])


def _opportunity(request, lead, data):
    services.lead_to_opportunity(
        lead=lead,
        by=request.user,
        value=data["value"],
        expected_close_on=data["expected_close_on"],
        probability=data["probability"],
        note=data["note"],
    )


def _edit_opportunity(request, lead, data):
    services.opportunity_update(
        lead=lead,
        by=request.user,
        value=data["value"],
        expected_close_on=data["expected_close_on"],
        probability=data["probability"],
    )


def _win(request, lead, data):
    services.lead_win(lead=lead, by=request.user, value=data["value"], note=data["note"])


def _lose(request, lead, data):
    services.lead_lose(lead=lead, by=request.user, reason=data["reason"], note=data["note"])


def _reopen(request, lead, data):
    services.lead_reopen(lead=lead, by=request.user, note=data["note"])


def _reassign(request, lead, data):
    services.lead_reassign(lead=lead, by=request.user, to_user=data["to_user"], note=data["note"])


def _snooze(request, lead, data):
    services.follow_up_snooze(
        lead=lead, by=request.user, until=data["until"], reason=data["reason"]
    )


def _task(request, lead, data):
    services.task_add(
        lead=lead, by=request.user, kind=data["kind"], title=data["title"], due_at=data["due_at"]
    )


ACTIONS = {
    "claim": Action(_claim, gettext_lazy("Claimed %(lead)s: accept or reject it now.")),
    "accept": Action(_accept, gettext_lazy("Accepted %(lead)s.")),
    "reject": Action(
        _reject,
        gettext_lazy("Rejected %(lead)s: it is back with marketing."),
        RejectForm,
        gettext_lazy("Reject a lead"),
    ),
    "log": Action(
        _log,
        gettext_lazy("Contact logged on %(lead)s."),
        ActivityForm,
        gettext_lazy("Log contact"),
        initial=lambda lead, request: {
            "next_follow_up_at": upcoming_follow_up(lead),
            **correction_initial(lead, request),
        },
        success_from_handoff=gettext_lazy(
            "Contact logged on %(lead)s: logging it accepted the lead."
        ),
    ),
    "note": Action(
        _note,
        gettext_lazy("Note added to %(lead)s (a note is not contact)."),
        NoteForm,
        gettext_lazy("Add a note"),
    ),
    "opportunity": Action(
        _opportunity,
        gettext_lazy("%(lead)s is now an opportunity."),
        OpportunityForm,
        gettext_lazy("Move to opportunity"),
        initial=lambda lead, request: {"value": lead.deal_value},
    ),
    "edit_opportunity": Action(
        _edit_opportunity,
        gettext_lazy("Opportunity %(lead)s saved."),
        OpportunityEditForm,
        gettext_lazy("Edit the opportunity"),
        initial=lambda lead, request: {
            "value": lead.deal_value,
            "expected_close_on": lead.expected_close_on,
            "probability": lead.probability,
        },
    ),
    "win": Action(
        _win,
        gettext_lazy("Won: %(lead)s."),
        WinForm,
        gettext_lazy("Mark as won"),
        initial=lambda lead, request: {"value": lead.deal_value},
    ),
    "lose": Action(_lose, gettext_lazy("Lost: %(lead)s."), LoseForm, gettext_lazy("Mark as lost")),
    "snooze": Action(
        _snooze,
        gettext_lazy("Follow-up on %(lead)s snoozed."),
        SnoozeForm,
        gettext_lazy("Snooze the follow-up"),
    ),
    "task": Action(
        _task, gettext_lazy("Task added on %(lead)s."), TaskForm, gettext_lazy("Add a task")
    ),
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


def _claimed_by_another(pk, user, action):
    """A stale page offered ``action`` on a queued lead that another rep has claimed since
    (the lead's latest handoff went to the queue and someone else took it): that race was
    lost to a claim, not to a reassign."""
    transition = lifecycle.TRANSITIONS.get(action)
    if transition is None or transition.queue == lifecycle.OFF_QUEUE:
        return False
    latest = Handoff.objects.filter(lead_id=pk).only("claimed_at", "to_user_id").last()
    return latest is not None and latest.claimed_at is not None and latest.to_user_id != user.pk


def _lead_gone(request, pk, action):
    """A lead out of the user's scope is a 404 whatever its history, naming no one; a form
    posted from a stale page (the lead was reassigned meanwhile) gets what was typed back,
    to copy, and nothing about the lead. A claim (or an answer) on a queued lead another
    rep claimed first says so: the rep saw it in the queue, and nothing more is told."""
    typed = (
        [request.POST.get(name, "").strip() for name in ("notes", "note", "reason")]
        if request.method == "POST"
        else []
    )
    typed = [text for text in typed if text]
    claimed = _claimed_by_another(pk, request.user, action)
    if claimed:
        message = lifecycle.CLAIMED_BY_ANOTHER
    else:
        message = _("This lead is no longer yours: it was reassigned or closed meanwhile.")
    if wants_json_answer(request):
        return JsonResponse({"detail": message}, status=404)
    if not typed and not (claimed and request.method == "POST"):
        raise Http404
    return render(
        request, "sales/lead_gone.html", {"message": message, "typed": typed}, status=404
    )


@login_required
@require_http_methods(["GET", "POST"])
def lead_action(request, pk, action):
    """One sales action on one lead. Forms post here from the inbox and the lead page with
    a ``next`` to return to; GET (or a refused form) shows the full-page form."""
    spec = ACTIONS[action]
    user = request.user
    if not roles.can_work_sales(user):
        return forbidden(request, _("Only salespeople and managers can do this."))
    # The lead as this request reads it: out of the user's scope now, it is a 404 whatever
    # its history (who claimed it, whether it was once theirs), so an action URL says nothing
    # of another rep's lead. A race is lost only by a user who could act on this copy: the
    # service locks the lead, keeps this copy as ``as_seen`` and answers someone else's
    # commit meanwhile with a message (lifecycle.someone_else_acted).
    lead = Lead.objects.for_user(user).select_related("owner", "campaign").filter(pk=pk).first()
    if lead is None:
        return _lead_gone(request, pk, action)
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
            initial=spec.initial(lead, request) if spec.initial else None,
        )
        if not lead.is_open:
            # Won and lost leads keep no next follow-up (SPEC §3): the form asks for none.
            for name in ("next_follow_up_at", "follow_up_quick"):
                form.fields.pop(name, None)

    # Asked by the page's script (static/js/inplace.js): answer JSON, not a redirect.
    wants_json = wants_json_answer(request)
    status = 200
    if request.method == "GET":
        if action not in sales_actions(user, lead):
            messages.info(request, _("That action is not available for this lead now."))
            return redirect(lead.get_absolute_url())
    elif form is None or form.is_valid():
        stage_before = lead.stage
        try:
            spec.call(request, lead, form.cleaned_data if form is not None else {})
        except InvalidInput as exc:
            if wants_json:
                return JsonResponse({"detail": exc.message, "field": exc.field}, status=400)
            if form is None:
                messages.error(request, exc.message)
                return redirect(back)
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except ActionForbidden as exc:
            if wants_json:
                return JsonResponse({"detail": exc.message}, status=403)
            return forbidden(request, exc.message)
        except LeadflowError as exc:
            if wants_json:
                return JsonResponse({"detail": exc.message}, status=409)
            if form is None:
                # Someone else may have just taken the lead: go back only if still visible.
                messages.error(request, exc.message)
                return redirect(_back_after(request, lead, back))
            # A stale page (someone took or moved the lead meanwhile): the refusal re-renders
            # the form with what was typed (the call's notes) and says why, instead of a
            # redirect that throws them away. The user saw this lead on their page.
            form.add_error(None, exc.message)
            status = 409
        else:
            lead.refresh_from_db(fields=["owner", "stage"])
            owner = person(lead.owner)
            success = spec.success
            if spec.success_from_handoff and stage_before == Stage.HANDED_OFF:
                success = spec.success_from_handoff
            message = success % {"lead": lead, "owner": owner}
            if wants_json:
                return JsonResponse({"detail": message, "ok": True})
            messages.success(request, message)
            return redirect(_back_after(request, lead, back))
    elif wants_json:
        detail = " ".join(form_error_lines(form))
        return JsonResponse({"detail": detail, "errors": form.errors}, status=400)
    context = {
        "lead": lead,
        "form": form,
        "title": spec.title,
        "action_url": reverse(f"sales:{action}", args=[lead.pk]),
        "next": back,
    }
    return render(request, "sales/lead_action_form.html", context, status=status)
