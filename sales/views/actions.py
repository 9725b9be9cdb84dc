"""Sales' actions on one lead (claim, accept, reject, log, opportunity, win, lose, reopen,
reassign): the quick forms of the inbox and the lead page post here. What is offered comes
from the lifecycle table (leads/lifecycle.py); the services decide."""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseNotAllowed
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
    WinForm,
)
from ..models import Activity, ActivityKind, Dispute
from .helpers import choices, rep_choices


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
        next_follow_up_at=data["next_follow_up_at"],
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
    # The lead as this request reads it: out of the user's scope now, it is a 404 whatever
    # its history (who claimed it, whether it was once theirs), so an action URL says nothing
    # of another rep's lead. A race is lost only by a user who could act on this copy: the
    # service locks the lead, keeps this copy as ``as_seen`` and answers someone else's
    # commit meanwhile with a message (lifecycle.someone_else_acted).
    lead = Lead.objects.for_user(user).select_related("owner", "campaign").filter(pk=pk).first()
    if lead is None:
        raise Http404
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
            owner = person(lead.owner)
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
