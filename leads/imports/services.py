"""CSV import of leads (SPEC §6) as a job: upload, column mapping, a row-numbered
validation report, confirmation, then committed batches in a Celery task that a
redelivery resumes. The leads themselves go in through leads.services.lead_import_batch."""

import logging
from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from leadflow import jobs, roles
from leadflow.bulk import bulk_insert
from leadflow.errors import ActionForbidden, InvalidInput, TransitionNotAllowed
from leadflow.i18n import lazy_text
from leadflow.jobs import enqueue
from leadflow.models import NotificationKind
from leadflow.notifications.notify import notify
from leadflow.outbox import DB_OUTAGE, retry_through_outage

from ..models import (
    ACTIVE_IMPORT,
    MAX_PROBLEM_ROWS,
    DateOrder,
    ImportFile,
    ImportJob,
    ImportOutcome,
    ImportProblem,
    ImportRow,
    ImportStatus,
    InquiryType,
    Lead,
    Origin,
    TouchSource,
)
from ..services import intake_origin, lead_import_batch, lead_intake, require_can_import
from ..sla.calendar import SLA
from . import reader as csv_import

logger = logging.getLogger(__name__)


@transaction.atomic
def import_create(*, by, filename, raw, default_campaign=None, default_inquiry_type=None):
    """Store an uploaded file and its header; the mapping is guessed from the header names."""
    require_can_import(by)
    if len(raw) > csv_import.MAX_BYTES:
        raise InvalidInput(_("The file is larger than 50 MB; split it."), field="file")
    try:
        shape = csv_import.read_header(raw)
    except csv_import.FileProblem as exc:
        raise InvalidInput(str(exc), field="file") from None
    job = ImportJob.objects.create(
        created_by=by,
        filename=filename[:255],
        size=len(raw),
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        header=shape.header,
        header_skip=shape.skip,
        own_export=csv_import.is_own_export(shape.header),
        mapping=csv_import.guess_mapping(shape.header),
        default_campaign=default_campaign,
        default_inquiry_type=default_inquiry_type or InquiryType.OTHER,
        status=ImportStatus.MAPPING,
    )
    ImportFile.objects.create(job=job, content=raw)
    return job


def _lock_job(job, by=None):
    locked = ImportJob.objects.select_for_update().get(pk=job.pk if hasattr(job, "pk") else job)
    if by is not None and locked.created_by_id != by.pk and not roles.is_manager(by):
        raise ActionForbidden(_("This import belongs to someone else."))
    return locked


@transaction.atomic
def import_set_mapping(*, job, by, mapping, default_campaign=None, default_inquiry_type=None):
    """Save the column mapping and start validating every row (a Celery job)."""
    job = _lock_job(job, by)
    if job.status not in (ImportStatus.MAPPING, ImportStatus.VALIDATED):
        raise TransitionNotAllowed(_("This import can no longer be changed."))
    targets = [t for t in mapping.values() if t]
    csv_import.check_mapping(
        targets,
        default_campaign=default_campaign,
        campaign_required=intake_origin(job.created_by) == Origin.MARKETING,
    )
    job.mapping = {k: v for k, v in mapping.items() if v}
    job.date_order = _date_order(job)
    job.default_campaign = default_campaign
    job.default_inquiry_type = default_inquiry_type or InquiryType.OTHER
    job.status = ImportStatus.VALIDATING
    job.checked_rows = job.valid_rows = job.invalid_rows = job.existing_matches = 0
    job.problem_counts = job.file_notes = {}
    _requeue(job)
    job.save()
    job.rows.all().delete()
    # The row reasons are written in the language of the person who will read them.
    language = translation.get_language()
    enqueue("leads.tasks.validate_import", job.pk, language=language)
    return job


def _file_bytes(job):
    # Not job.file.content: the job would keep its ImportFile (a memoryview of the bytes on
    # PostgreSQL) as well as this copy for the whole run.
    return bytes(ImportFile.objects.filter(job=job).values_list("content", flat=True).get())


def _date_order(job):
    """How the file writes its dates, from the sample rows of its creation date column."""
    column = next((int(i) for i, t in job.mapping.items() if t == "created_at"), None)
    if column is None:
        return DateOrder.DAY_FIRST
    head = job.file_head(csv_import.PREVIEW_BYTES)
    rows = csv_import.preview_rows(
        head,
        job.encoding,
        job.delimiter,
        complete=len(head) < csv_import.PREVIEW_BYTES,
        count=200,
        skip=job.header_skip,
    )
    return csv_import.guess_date_order(row[column] for row in rows if column < len(row))


def _parsed_rows(job):
    raw = _file_bytes(job)
    campaigns = csv_import.CampaignLookup()
    # A salesperson's own leads (sales-generated) need no campaign, as in the lead form.
    campaign_required = intake_origin(job.created_by) == Origin.MARKETING
    now = timezone.now()
    rows = csv_import.iter_rows(raw, job.encoding, job.delimiter, skip=job.header_skip)
    for index, (line, cells) in enumerate(rows):
        yield (
            index,
            csv_import.parse_row(
                line,
                cells,
                job.mapping,
                campaigns=campaigns,
                default_campaign=job.default_campaign,
                default_inquiry_type=job.default_inquiry_type,
                campaign_required=campaign_required,
                date_order=job.date_order,
                own_export=job.own_export,
                now=now,
            ),
        )


def _set(job, fields):
    for name, value in fields.items():
        setattr(job, name, value)


def _requeue(job, **fields):
    _set(job, jobs.queued(**fields))


def _checked_rows(job):
    """(index, row) for every data row of the job's file, each with every problem the
    validation report gives it, the duplicate of an earlier email within the file among
    them. The check and the run both read the file through this, so the run imports
    exactly the rows the check found good, though the check keeps only the first
    MAX_PROBLEM_ROWS bad ones."""
    first_line = {}
    for index, row in _parsed_rows(job):
        key = row.email_key
        if key and key in first_line and not row.problems:
            row.add_problem(
                ImportProblem.DUPLICATE_IN_FILE,
                _("duplicate within the file (same email as line %(line)s)")
                % {"line": first_line[key]},
            )
        elif key and key not in first_line:
            first_line[key] = row.line
        yield index, row


# The report names this many values per file note (unknown campaigns, statuses); the rows
# of any others are counted together.
FILE_NOTE_VALUES = 50
OTHER_VALUES = "…"


def import_validate(job_id):
    """Check every row: the report lists the first MAX_PROBLEM_ROWS bad lines with their
    reasons (missing or invalid email, missing last name, unknown campaign, duplicate
    within the file, over-long values) and counts every bad line per reason, so memory
    and the rows written are bounded by the file's row cap, not by how bad it is. A file
    over reader.MAX_ROWS rows fails. Progress (a heartbeat) is saved as it goes; the
    result is written in one transaction at the end. A second delivery while a live run
    checks the file does nothing; a run that lost the job to a resumed one stops without
    writing."""
    token = jobs.claim_run(ImportJob.objects.filter(status=ImportStatus.VALIDATING), job_id)
    job = ImportJob.objects.select_related("default_campaign").get(pk=job_id)
    if token is None:
        return job
    listed, counts, total, valid, invalid, emails = [], Counter(), 0, 0, 0, set()
    notes = {}
    try:
        for index, row in _checked_rows(job):
            total = index + 1
            if not row.problems:
                for code, value in row.notes:
                    per_value = notes.setdefault(code, {})
                    if value not in per_value and len(per_value) >= FILE_NOTE_VALUES:
                        value = OTHER_VALUES
                    per_value[value] = per_value.get(value, 0) + 1
            if row.problems:
                invalid += 1
                counts.update({problem.code for problem in row.problems})
                if len(listed) < MAX_PROBLEM_ROWS:
                    listed.append(
                        ImportRow(
                            job=job,
                            line=row.line,
                            outcome=ImportOutcome.INVALID,
                            email=row.data.get("email", "")[:254],
                            reason=row.reason[:500],
                        )
                    )
            else:
                valid += 1
                emails.add(row.email_key)
            if total % 5000 == 0 and not jobs.heartbeat(
                ImportJob.objects, job.pk, token, checked_rows=total
            ):
                return job
    except csv_import.FileProblem as exc:
        ImportJob.objects.filter(pk=job.pk, run_token=token).update(
            status=ImportStatus.FAILED, error=str(exc)
        )
        return job
    matches = 0
    email_list = sorted(emails)
    for start in range(0, len(email_list), 1000):
        matches += Lead.objects.open_with_email(*email_list[start : start + 1000]).count()
    with transaction.atomic():
        job = _lock_job(job)
        if job.status != ImportStatus.VALIDATING or job.run_token != token:
            return job
        ImportRow.objects.bulk_create(listed, batch_size=2000)
        job.total_rows = job.checked_rows = total
        job.valid_rows = valid
        job.invalid_rows = invalid
        job.problem_counts = dict(counts)
        job.file_notes = notes
        job.existing_matches = matches
        job.status = ImportStatus.VALIDATED
        job.run_token = None
        job.save()
    return job


@transaction.atomic
def import_confirm(*, job, by, skip_invalid=False):
    """Queue the import of the valid rows; with bad rows the user must agree to skip them."""
    job = _lock_job(job, by)
    if job.status != ImportStatus.VALIDATED:
        raise TransitionNotAllowed(_("This import is not waiting for confirmation."))
    if job.invalid_rows and not skip_invalid:
        raise InvalidInput(
            ngettext(
                "Confirm that the bad row will be skipped.",
                "Confirm that the %(n)s bad rows will be skipped.",
                job.invalid_rows,
            )
            % {"n": number_format(job.invalid_rows, force_grouping=True)},
            field="skip_invalid",
        )
    if not job.valid_rows:
        raise InvalidInput(_("There are no valid rows to import."), field="skip_invalid")
    job.status = ImportStatus.QUEUED
    _requeue(job)
    job.save()
    enqueue("leads.tasks.run_import", job.pk, language=translation.get_language())
    return job


def _resume(job, language=None):
    """Save ``job`` and queue the task that carries it on from where it stopped: checking
    the rows again from the top (nothing of a check is kept until it ends), or importing
    from the first row not committed."""
    if job.status == ImportStatus.VALIDATING:
        job.save()
        enqueue("leads.tasks.validate_import", job.pk, language=language)
    else:
        job.status = ImportStatus.QUEUED
        job.save()
        enqueue("leads.tasks.run_import", job.pk, language=language)


@transaction.atomic
def import_retry(*, job, by):
    """Resume a failed or stalled import from the first row that was not committed (a
    stalled check starts again). The run that stalled, should it wake up, stops at its
    next batch: it no longer holds the job."""
    job = _lock_job(job, by)
    if not job.can_retry:
        raise TransitionNotAllowed(_("Only a failed or stalled import can be retried."))
    job.error = ""
    _requeue(job, stalls=0)
    _resume(job, language=translation.get_language())
    return job


def import_watchdog():
    """Resume every import that stalled (no heartbeat for JOB_STALL_SECONDS: its worker
    died, or the broker lost its message); one that stalled MAX_STALLS times in a row
    without progress fails, with a message, and waits for the user's Retry. Returns the
    jobs it resumed or failed."""
    with transaction.atomic():
        stalled = jobs.find_stalled(ImportJob.objects.filter(status__in=ACTIVE_IMPORT))
        for job in stalled:
            # No request says whose language: the row reasons, the error and the "done"
            # notification are the uploader's to read (leadflow.jobs.reader_language).
            language = jobs.reader_language(job)
            if job.stalls >= jobs.MAX_STALLS:
                job.status = ImportStatus.FAILED
                with translation.override(language):
                    job.error = _stalled_error(job)
                job.run_token = None
                job.save()
            else:
                # Shown as stalled until the resumed run takes it (leadflow.jobs.claim_run).
                logger.warning("import %s stalled; resuming", job.pk)
                _resume(job, language=language)
    return stalled


def _stalled_error(job):
    return _("Stopped making progress after %(done)s of %(total)s rows; retry it.") % {
        "done": number_format(job.processed_rows, force_grouping=True),
        "total": number_format(job.total_rows, force_grouping=True),
    }


IMPORT_BATCH = 1000


def import_run(job_id, *, batch_size=None):
    """Import the valid rows in batches, judged by the check's own rules (_checked_rows),
    and count the others as skipped. Each batch (its leads, touches, stage changes, row
    results and the job's progress and heartbeat) is one transaction, so a failure leaves
    every earlier batch imported and reported, and a retry resumes at ``processed_rows``.

    A second delivery while a live run imports does nothing. A lost database connection
    is not a failure of the import: it is raised for the task to retry (and the watchdog
    resumes the job if that retry is lost too). Any other error marks the job failed,
    retrying that write through a short database outage."""
    batch_size = batch_size or IMPORT_BATCH
    token = jobs.claim_run(
        ImportJob.objects.filter(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]),
        job_id,
        status=ImportStatus.RUNNING,
        started_at=Coalesce(F("started_at"), Value(timezone.now(), DateTimeField())),
    )
    if token is None:
        return None
    job = ImportJob.objects.select_related("created_by", "default_campaign").get(pk=job_id)
    sla = SLA()
    batch, skipped, batch_end = [], 0, job.processed_rows
    try:
        # From the first row, even when resuming: a duplicate is one of an earlier line.
        for index, row in _checked_rows(job):
            if index < job.processed_rows:
                continue
            batch_end = index + 1
            if row.problems:
                skipped += 1
            else:
                batch.append(row)
            if batch_end - job.processed_rows >= batch_size:
                job = _commit_import_batch(job, batch, skipped, batch_end, sla, token)
                batch, skipped = [], 0
        job = _commit_import_batch(job, batch, skipped, batch_end, sla, token, last=True)
    except jobs.Superseded:
        logger.info("import %s: taken over by another run; this one stops", job_id)
        return None
    except DB_OUTAGE:
        # Let go of the job so the task's retry can take it at once (if the database is
        # back in time; else the watchdog finds it stalled), then let the task retry.
        logger.warning("import %s: database unavailable at row %s", job_id, job.processed_rows)
        retry_through_outage(
            lambda: ImportJob.objects.filter(pk=job_id, run_token=token).update(run_token=None)
        )
        raise
    except Exception as exc:
        logger.exception("import %s failed at row %s", job_id, job.processed_rows)
        error = _("Stopped after %(done)s of %(total)s rows: %(error)s") % {
            "done": number_format(job.processed_rows, force_grouping=True),
            "total": number_format(job.total_rows, force_grouping=True),
            "error": exc,
        }
        retry_through_outage(
            lambda: ImportJob.objects.filter(pk=job_id, run_token=token).update(
                status=ImportStatus.FAILED, error=error, run_token=None
            )
        )
        return job
    return job


def _commit_import_batch(job, rows, skipped, batch_end, sla, token, last=False):
    with transaction.atomic():
        locked = _lock_job(job)
        if locked.run_token != token or locked.status != ImportStatus.RUNNING:
            raise jobs.Superseded
        try:
            with transaction.atomic():
                results = lead_import_batch(by=locked.created_by, rows=rows, sla=sla)
        except IntegrityError:
            # Someone else created one of these emails meanwhile: go row by row, where
            # lead_intake turns that collision into a touch.
            results = _import_rows_one_by_one(locked.created_by, rows, sla)
        bulk_insert(
            ImportRow,
            [
                ImportRow(
                    job=locked,
                    line=row.line,
                    outcome=outcome,
                    lead=lead,
                    email=row.data.get("email", "")[:254],
                )
                for row, outcome, lead in results
            ],
        )
        locked.processed_rows = batch_end
        locked.created_count += sum(1 for _r, o, _l in results if o == ImportOutcome.CREATED)
        locked.touched_count += sum(1 for _r, o, _l in results if o == ImportOutcome.TOUCHED)
        locked.skipped_count += skipped
        _set(locked, jobs.progressed())
        if last:
            locked.status = ImportStatus.DONE
            locked.finished_at = timezone.now()
            locked.run_token = None
            _notify_done(locked)
        locked.save()
        return locked


def _notify_done(job):
    """Tell the uploader, in the transaction that finishes the import (so exactly once)."""
    if job.created_by_id:
        notify(
            user=job.created_by,
            kind=NotificationKind.IMPORT_DONE,
            text=lazy_text(
                gettext_lazy(
                    "%(file)s: %(created)s created, %(touched)s added to existing leads."
                ),
                file=job.filename,
                created=job.created_count,
                touched=job.touched_count,
            ),
            url=job.get_absolute_url(),
        )


def _import_rows_one_by_one(by, rows, sla):
    results = []
    for row in rows:
        result = lead_intake(
            by=by,
            data=row.data,
            campaign=row.campaign,
            inquiry_type=row.inquiry_type,
            source=TouchSource.IMPORT,
            utm=row.utm,
            sla=sla,
        )
        results.append(
            (row, ImportOutcome.CREATED if result.created else ImportOutcome.TOUCHED, result.lead)
        )
    return results
