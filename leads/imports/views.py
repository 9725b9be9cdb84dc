"""CSV import pages: upload -> mapping -> validation report -> confirm -> progress -> summary."""

from itertools import islice

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from leadflow import roles
from leadflow.csv_safe import SafeWriter
from leadflow.errors import InvalidInput, LeadflowError
from leadflow.http import run_action
from leadflow.permissions import role_required

from ..models import (
    ACTIVE_IMPORT,
    MAX_PROBLEM_ROWS,
    ImportJob,
    ImportOutcome,
    ImportStatus,
    Lead,
)
from . import reader as csv_import
from . import services
from .forms import ImportConfirmForm, ImportMappingForm, ImportUploadForm


def user_imports(user):
    """Imports this user may see: their own; managers see all."""
    jobs = ImportJob.objects.select_related("created_by", "default_campaign")
    return jobs if roles.is_manager(user) else jobs.filter(created_by=user)


def with_visible_leads(user, rows, chunk_size=2000):
    """``(row, lead_id)`` for each import row, ``lead_id`` None when the row's lead is not
    in ``user``'s scope (``Lead.objects.for_user``): an import that touched another rep's
    lead says so without naming it, as the API's ``lead: null`` does. One query per
    ``chunk_size`` rows, so a long report keeps iterating in chunks."""
    rows = iter(rows)
    while chunk := list(islice(rows, chunk_size)):
        ids = {row.lead_id for row in chunk if row.lead_id is not None}
        visible = (
            set(Lead.objects.for_user(user).filter(pk__in=ids).values_list("pk", flat=True))
            if ids
            else set()
        )
        for row in chunk:
            yield row, row.lead_id if row.lead_id in visible else None


@role_required(
    roles.can_log_leads,
    gettext_lazy("Only marketers, salespeople and managers can import leads."),
)
def import_upload(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_create(
                by=request.user,
                filename=upload.name,
                raw=upload.read(),
                default_campaign=form.cleaned_data["default_campaign"],
                default_inquiry_type=form.cleaned_data["default_inquiry_type"],
            )
        except InvalidInput as exc:
            form.add_error("file", exc.message)
        else:
            return redirect("leads:import_mapping", pk=job.pk)
    recent = user_imports(request.user)[:10]
    return render(request, "leads/import_upload.html", {"form": form, "recent": recent})


@login_required
def import_mapping(request, pk):
    job = get_object_or_404(user_imports(request.user), pk=pk)
    if job.status not in (ImportStatus.MAPPING, ImportStatus.VALIDATED):
        return redirect(job.get_absolute_url())
    form = ImportMappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        try:
            services.import_set_mapping(
                job=job,
                by=request.user,
                mapping=form.mapping(),
                default_campaign=form.cleaned_data["default_campaign"],
                default_inquiry_type=form.cleaned_data["default_inquiry_type"],
            )
        except InvalidInput as exc:
            form.add_error(None, exc.message)
        except LeadflowError as exc:
            messages.error(request, exc.message)
            return redirect(job.get_absolute_url())
        else:
            return redirect(job.get_absolute_url())
    try:
        # The start of the file only: decoding all of a 50 MB upload took a second per GET.
        head = job.file_head(csv_import.PREVIEW_BYTES)
        preview = csv_import.preview_rows(
            head, job.encoding, job.delimiter, complete=job.size <= len(head)
        )
    except Exception:  # noqa: BLE001 - a preview must never break the page
        preview = []
    columns = [
        (field, [row[i] if i < len(row) else "" for row in preview])
        for i, field in enumerate(form.column_fields())
    ]
    return render(
        request, "leads/import_mapping.html", {"job": job, "form": form, "columns": columns}
    )


@login_required
def import_detail(request, pk):
    job = get_object_or_404(user_imports(request.user), pk=pk)
    problems = job.rows.filter(outcome=ImportOutcome.INVALID).order_by("line")[:MAX_PROBLEM_ROWS]
    busy = job.status in ACTIVE_IMPORT
    return render(
        request,
        "leads/import_detail.html",
        {
            "job": job,
            "problems": problems,
            "busy": busy,
            "progress_label": job.progress_label() if busy else "",
            "statuses": ImportStatus,
        },
    )


@login_required
def import_progress(request, pk):
    """The job's progress for static/js/import.js. ``progress`` is null while the number of
    rows is not known yet; ``progress_label`` is the line under the bar, localized here so
    the script shows the same words and number format as the page it updates."""
    job = get_object_or_404(user_imports(request.user), pk=pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.status_label(),
            "progress": job.progress,
            "progress_label": job.progress_label(),
            "total_rows": job.total_rows,
            "checked_rows": job.checked_rows,
            "processed_rows": job.processed_rows,
            "created": job.created_count,
            "touched": job.touched_count,
            "stalled": job.is_stalled,
        }
    )


@login_required
@require_POST
def import_confirm(request, pk):
    job = get_object_or_404(user_imports(request.user), pk=pk)
    form = ImportConfirmForm(request.POST)
    form.is_valid()
    return run_action(
        request,
        lambda: services.import_confirm(
            job=job, by=request.user, skip_invalid=form.cleaned_data.get("skip_invalid", False)
        ),
        success=_("Import started."),
        back=job.get_absolute_url(),
    )


@login_required
@require_POST
def import_retry(request, pk):
    job = get_object_or_404(user_imports(request.user), pk=pk)
    return run_action(
        request,
        lambda: services.import_retry(job=job, by=request.user),
        success=_("Import resumed."),
        back=job.get_absolute_url(),
    )


@login_required
def import_report_csv(request, pk):
    """Every imported line's outcome (created / added to an existing lead), the bad lines
    the check kept (skipped, with their reasons) and, when there were more than those
    MAX_PROBLEM_ROWS, how many more and the bad rows per reason: lines left empty."""
    job = get_object_or_404(user_imports(request.user), pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    writer = SafeWriter(response)
    writer.writerow(["line", "outcome", "email", "lead_id", "reason"])
    rows = job.rows.order_by("line").iterator(chunk_size=2000)
    for row, lead_id in with_visible_leads(request.user, rows):
        writer.writerow([row.line, row.outcome, row.email, lead_id or "", row.reason])
    if job.problems_not_listed:
        invalid = ImportOutcome.INVALID
        writer.writerow(["", invalid, "", "", job.problems_not_listed_text(grouping=False)])
        for _code, label, n in job.problem_count_rows():
            writer.writerow(["", invalid, "", "", f"{label}: {n}"])
    return response
