"""The lead list's bulk actions: on the ticked rows, or on every lead that matches the
list's filters (confirmed on a page that says how many), and the page of a bulk job with
its progress and its report."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from leadflow import roles
from leadflow.csv_safe import SafeWriter
from leadflow.errors import LeadflowError
from leadflow.http import forbidden, report_refused, run_action, safe_next
from leadflow.names import person
from sales import routing

from .. import services as lead_services
from ..filters import describe, filter_form, matching_ids, matching_leads
from ..forms import BulkForm, HandOffForm
from ..models import BulkAction, DisqualifyReason, Lead
from . import services


def _errors(request, *forms):
    for bound in forms:
        for errors in bound.errors.values():
            for error in errors:
                messages.error(request, error)


@login_required
@require_POST
def lead_bulk(request):
    """Apply one marketing action to the ticked leads, or to all the leads matching the
    list's filters (``all_matching``: first a confirmation page with their number, then,
    once confirmed, the ids matching at that moment). Up to INLINE_MAX leads run in the
    request, each lead in its own transaction, so one refusal does not undo the others
    and the messages list what was refused and why; more become a background job."""
    back = safe_next(request, reverse("leads:list"))
    user = request.user
    if not roles.can_market(user):
        return forbidden(request, _("Only marketers and managers can do this."))
    form = BulkForm(request.POST)
    hand_off_form = HandOffForm(request.POST)
    is_hand_off = request.POST.get("action") == BulkAction.HAND_OFF
    if not form.is_valid() or (is_hand_off and not hand_off_form.is_valid()):
        if form.cleaned_data.get("all_matching") and set(form.errors) == {"reason"}:
            # "Select all N matching" lives only in this post: a missing reason is asked for
            # on the confirmation page, which keeps the selection, not on the list.
            data = {**form.cleaned_data, "reason": "", "confirmed": False}
            return _all_matching(request, data, {}, back, reason_errors=form.errors["reason"])
        if (
            form.is_valid()
            and form.cleaned_data["all_matching"]
            and set(hand_off_form.errors) == {"to_user"}
        ):
            # The same for a hand-off to "the chosen rep" without one (or a rep who is no
            # longer one): the confirmation asks for the salesperson.
            data = {**form.cleaned_data, "confirmed": False}
            params = {"mode": lead_services.HAND_OFF_REP}
            return _all_matching(
                request, data, params, back, rep_errors=hand_off_form.errors["to_user"]
            )
        _errors(request, form, *([hand_off_form] if is_hand_off else []))
        return redirect(back)
    data = form.cleaned_data
    if data["action"] == BulkForm.EXPORT:
        return _export(request, data, back)
    try:
        params = services.bulk_params(
            action=data["action"],
            reason=data["reason"],
            **(
                {
                    "mode": hand_off_form.cleaned_data["mode"],
                    "to_user": hand_off_form.cleaned_data["to_user"],
                    "note": hand_off_form.cleaned_data["note"],
                }
                if is_hand_off
                else {}
            ),
        )
    except LeadflowError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if data["all_matching"]:
        return _all_matching(request, data, params, back)
    # Only leads this user can see: ids outside the scope are silently not found.
    ids = list(
        Lead.objects.for_user(user).filter(pk__in=data["lead_ids"]).values_list("pk", flat=True)
    )
    _apply_now(request, data["action"], params, ids, missing=len(data["lead_ids"]) - len(ids))
    return redirect(back)


def _export(request, data, back):
    """The export of the ticked rows (by id) or of every lead matching the filters (bad
    filters are a message on the list, as for the other actions, not the export's 400)."""
    if data["all_matching"]:
        query = data["filter"]
        if _valid_filters(request, query) is None:
            return redirect(back)
    else:
        query = urlencode([("id", pk) for pk in data["lead_ids"]])
    return redirect(reverse("leads:export") + (f"?{query}" if query else ""))


def _apply_now(request, action, params, ids, missing=0):
    done, refused = services.bulk_apply(
        by=request.user, action=action, params=params, lead_ids=ids
    )
    if done:
        messages.success(
            request,
            ngettext("%(n)s lead updated.", "%(n)s leads updated.", len(done)) % {"n": len(done)},
        )
    report_refused(request, refused, missing)


def _target(params, upcoming=False):
    """Whom a bulk hand-off goes to, in words (the confirmation and the job's page). Only
    ``upcoming`` (the confirmation) says that rules with none active mean the queue: the
    job's page describes what was asked, whatever the rules are now."""
    mode = params.get("mode")
    if mode == lead_services.HAND_OFF_REP:
        rep = get_user_model().objects.filter(pk=params.get("to_user")).first()
        return person(rep) if rep else "—"
    if mode == lead_services.HAND_OFF_AUTO:
        if upcoming and not routing.any_active_rule():
            return _("the unassigned sales queue: no assignment rule is active")
        return _("whoever the assignment rules pick")
    if mode == lead_services.HAND_OFF_ROUND_ROBIN:
        return _("the next salesperson in turn (round-robin)")
    return _("the unassigned sales queue")


def _valid_filters(request, query):
    """The bound, valid filter form of a bulk post's ``filter`` (the list's query), or
    None once the reason is a message for the list (an unknown or a bad filter)."""
    try:
        filters = filter_form(query, request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
        return None
    if not filters.is_valid():
        messages.error(request, " ".join(filters.error_lines()))
        return None
    return filters


def _all_matching(request, data, params, back, reason_errors=(), rep_errors=()):
    user = request.user
    filters = _valid_filters(request, data["filter"])
    if filters is None:
        return redirect(back)
    action = data["action"]
    if not data["confirmed"]:
        count = matching_leads(filters, user).count()
        if not count:
            messages.error(request, _("No leads match these filters."))
            return redirect(back)
        return _confirmation(
            request, data, params, filters, back, count, reason_errors, rep_errors=rep_errors
        )
    # The set is fixed here, as the filters match now: a small one is run at once, a
    # larger one copied into a job (in the database, however many). Either must be the
    # number the confirmation showed: leads that arrived or changed meanwhile are shown
    # to the user, not swept in unseen.
    expected = data.get("expected")
    ids = matching_ids(filters, user, limit=services.INLINE_MAX + 1)
    if not ids:
        messages.error(request, _("No leads match these filters."))
        return redirect(back)
    if len(ids) <= services.INLINE_MAX:
        if expected is not None and len(ids) != expected:
            changed = services.SetChanged(len(ids), expected)
            return _confirmation(request, data, params, filters, back, len(ids), changed=changed)
        _apply_now(request, action, params, ids)
        return redirect(back)
    try:
        job = services.bulk_job_create(
            by=user,
            action=action,
            params=params,
            leads=matching_leads(filters, user),
            selection=data["filter"],
            expected_total=expected,
        )
    except services.SetChanged as changed:
        return _confirmation(request, data, params, filters, back, changed.total, changed=changed)
    messages.success(
        request,
        _("%(action)s: %(n)s leads, fixed as they matched now, one by one in the background.")
        % {"action": BulkAction(action).label, "n": number_format(job.total, force_grouping=True)},
    )
    return redirect(job.get_absolute_url())


def _confirmation(
    request, data, params, filters, back, count, reason_errors=(), changed=None, rep_errors=()
):
    """The page that says how many leads the action is for, carrying the list's post (the
    filters, the action) and that number; again with ``changed`` (SetChanged) when the
    set no longer had the number confirmed."""
    dropped = {
        "csrfmiddlewaretoken",
        "confirmed",
        "ids",
        "expected",
        *(("reason",) if reason_errors else ()),
        *(("to_user",) if rep_errors else ()),
    }
    carried = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in dropped
        for value in values
    ]
    action = data["action"]
    return render(
        request,
        "leads/bulk_confirm.html",
        {
            "count": count,
            "changed": changed.message if changed else "",
            "action_label": BulkAction(action).label,
            "action": action,
            # Asked for below instead when the rep is missing.
            "target": (
                _target(params, upcoming=True)
                if action == BulkAction.HAND_OFF and not rep_errors
                else ""
            ),
            "rep_errors": rep_errors,
            "reps": HandOffForm().fields["to_user"].queryset if rep_errors else (),
            "reason_label": dict(DisqualifyReason.choices).get(data["reason"]),
            "reason_errors": reason_errors,
            "reasons": DisqualifyReason.choices,
            "filters": describe(filters),
            "carried": [*carried, ("expected", count)],
            "back": back,
            "inline_max": services.INLINE_MAX,
        },
        status=409 if changed else 200,
    )


@login_required
def bulk_detail(request, pk):
    job = get_object_or_404(services.user_bulk_jobs(request.user), pk=pk)
    groups = services.skipped_by_reason(job) if job.skipped_count else []
    return render(
        request,
        "leads/bulk_detail.html",
        {
            "job": job,
            "groups": groups,
            "target": _target(job.params) if job.action == BulkAction.HAND_OFF else "",
            "reason_label": dict(DisqualifyReason.choices).get(job.params.get("reason")),
            "listed_per_reason": services.REPORT_LEADS_PER_REASON,
            "progress_label": job.progress_label() if job.busy else "",
            "list_url": reverse("leads:list") + (f"?{job.selection}" if job.selection else ""),
        },
    )


@login_required
def bulk_progress(request, pk):
    """The job's progress for static/js/import.js (the import page's script)."""
    job = get_object_or_404(services.user_bulk_jobs(request.user), pk=pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "progress": job.progress,
            "progress_label": job.progress_label(),
            "total": job.total,
            "processed": job.processed,
            "moved": job.moved_count,
            "skipped": job.skipped_count,
            # The page's two cards as it words them (its language's number format and
            # plural), so they follow the bar while the job runs.
            "cards": {
                "moved": [
                    number_format(job.moved_count, force_grouping=True),
                    ngettext("lead moved", "leads moved", job.moved_count),
                ],
                "skipped": [
                    number_format(job.skipped_count, force_grouping=True),
                    ngettext("lead skipped", "leads skipped", job.skipped_count),
                ],
            },
            "stalled": job.is_stalled,
        }
    )


@login_required
@require_POST
def bulk_retry(request, pk):
    job = get_object_or_404(services.user_bulk_jobs(request.user), pk=pk)
    return run_action(
        request,
        lambda: services.bulk_job_retry(job=job, by=request.user),
        success=_("Bulk action resumed."),
        back=job.get_absolute_url(),
    )


class _Echo:
    def write(self, value):
        return value


@login_required
def bulk_report_csv(request, pk):
    """Every lead of the job with its outcome and, when skipped, the reason."""
    job = get_object_or_404(services.user_bulk_jobs(request.user), pk=pk)
    writer = SafeWriter(_Echo())
    rows = job.leads.order_by("lead_id").values_list("lead_id", "outcome", "reason")

    def lines():
        yield writer.writerow(["lead_id", "outcome", "reason"])
        for lead_id, outcome, reason in rows.iterator(chunk_size=2000):
            yield writer.writerow([lead_id, outcome, reason])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bulk-{job.pk}-report.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
