"""The CSV import pipeline: a job, its file and its row-numbered outcome."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leadflow import jobs
from leadflow.models import BackgroundJob

from .lead import InquiryType, Lead


def _number(n):
    """A count as the active language writes it: 20,000 or 20.000."""
    return number_format(n, force_grouping=True)


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", _("Choose the columns")
    VALIDATING = "validating", _("Checking the rows")
    VALIDATED = "validated", _("Ready to import")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# The states a worker is (or should be) busy in: the watchdog's and the jobs page's.
ACTIVE_IMPORT = [ImportStatus.VALIDATING, ImportStatus.QUEUED, ImportStatus.RUNNING]

# The check of a file keeps this many bad rows (the first, with their line and reasons) as
# ImportRows for the report page and its CSV; the rest are only counted, per reason. A
# file of 200,000 bad rows cannot fill the worker's memory or the table.
MAX_PROBLEM_ROWS = 1000


class ImportProblem(models.TextChoices):
    """Why a row cannot be imported: the code counted in ``ImportJob.problem_counts``,
    the label its count is shown with (each bad row also keeps its own message)."""

    MISSING_LAST_NAME = "missing_last_name", _("missing last name")
    MISSING_EMAIL = "missing_email", _("missing email")  # before email or phone sufficed
    MISSING_CONTACT = "missing_contact", _("no email and no phone number")
    INVALID_EMAIL = "invalid_email", _("invalid email")
    UNKNOWN_CAMPAIGN = "unknown_campaign", _("unknown campaign")
    NO_CAMPAIGN = (
        "no_campaign",
        _("no campaign (map a campaign column or choose a default campaign)"),
    )
    UNKNOWN_INQUIRY_TYPE = "unknown_inquiry_type", _("unknown inquiry type")
    TOO_LONG = "too_long", _("value too long")
    DUPLICATE_IN_FILE = "duplicate_in_file", _("duplicate within the file")
    TEST_LEAD = "test_lead", _("Meta's test lead (dummy data)")
    INVALID_DATE = "invalid_date", _("unreadable creation date")
    FUTURE_DATE = "future_date", _("creation date in the future")


class ImportNote(models.TextChoices):
    """What the report says of a file as a whole (rows that were imported, but not quite as
    the file said), counted per value in ``ImportJob.file_notes``."""

    DEFAULT_CAMPAIGN = (
        "default_campaign",
        _("Campaign not found: these rows went to the default campaign"),
    )
    SALES_STATUS = (
        "sales_status",
        _("A sales status: imported at New, since sales stages are reached by a handoff"),
    )
    UNKNOWN_STATUS = "unknown_status", _("An unknown status: imported at New")


class DateOrder(models.TextChoices):
    """How to read a date such as 03/05/2024 (an ISO date is never ambiguous)."""

    DAY_FIRST = "dmy", _("Day first (31/12/2026)")
    MONTH_FIRST = "mdy", _("Month first (12/31/2026)")


class ImportJob(BackgroundJob):
    """One CSV import: upload -> column mapping -> validation report -> confirm -> run.

    The run commits batch by batch and records ``processed_rows`` in the same transaction,
    so a crash leaves a clear state and a retry resumes exactly where it stopped. Each
    batch is a heartbeat; without one for a few minutes the job is stalled, and the
    watchdog resumes it (leads/imports/services.py)."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="imports"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(max_length=20)
    delimiter = models.CharField(max_length=1)
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)
    default_campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    default_inquiry_type = models.CharField(
        max_length=30, choices=InquiryType.choices, default=InquiryType.OTHER
    )
    status = models.CharField(max_length=12, choices=ImportStatus.choices)
    total_rows = models.PositiveIntegerField(default=0)
    checked_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    existing_matches = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    touched_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    # Bad rows per ImportProblem code (a row with two problems counts under both).
    problem_counts = models.JSONField(default=dict, blank=True)
    # Rows per ImportNote code and value: {"sales_status": {"Customer": 12}, ...}.
    file_notes = models.JSONField(default=dict, blank=True)
    # Records before the header (a preamble such as LinkedIn's "Notes:").
    header_skip = models.PositiveIntegerField(default=0)
    date_order = models.CharField(
        max_length=3, choices=DateOrder.choices, default=DateOrder.DAY_FIRST
    )
    # The file is LeadFlow's own lead export: its defused cells are undone on the way in.
    own_export = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The watchdog and the jobs page: "imports a worker should be busy with".
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status__in=ACTIVE_IMPORT),
                name="importjob_active_idx",
            ),
        ]

    def __str__(self):
        return f"Import {self.pk} ({self.filename})"

    def get_absolute_url(self):
        return reverse("leads:import_detail", args=[self.pk])

    def file_head(self, size):
        """The first ``size`` bytes of the uploaded file, cut by the database (SUBSTR of the
        blob on SQLite and of the bytea on PostgreSQL): the rest is never fetched."""
        head = (
            ImportFile.objects.filter(job=self)
            .annotate(head=Substr("content", 1, size, output_field=models.BinaryField()))
            .values_list("head", flat=True)
            .first()
        )
        return bytes(head) if head is not None else b""

    @property
    def is_stalled(self):
        """A worker should be busy with it, but it has made no progress for a while."""
        return self.status in ACTIVE_IMPORT and jobs.is_stalled(self)

    @property
    def can_retry(self):
        """Retry is offered: a failed import with rows left, or a stalled one."""
        return (self.status == ImportStatus.FAILED and self.valid_rows > 0) or self.is_stalled

    @property
    def nothing_to_import(self):
        """Checked, and not one row can be imported (no data rows, or only bad ones)."""
        return self.status == ImportStatus.VALIDATED and not self.valid_rows

    @property
    def problems_not_listed(self):
        """Bad rows beyond the first MAX_PROBLEM_ROWS: counted, not kept one by one."""
        return max(0, self.invalid_rows - MAX_PROBLEM_ROWS)

    def problems_not_listed_text(self, grouping=True):
        """The line that says how many bad rows are not listed, "2,000 more rows with
        problems not listed." (``grouping`` off for the CSV report: "2000 more …")."""
        n = self.problems_not_listed
        return ngettext(
            "%(n)s more row with problems not listed.",
            "%(n)s more rows with problems not listed.",
            n,
        ) % {"n": _number(n) if grouping else n}

    def problem_count_rows(self):
        """(code, label, rows) per reason found, the commonest first."""
        order = {code: i for i, code in enumerate(ImportProblem.values)}
        return [
            (code, ImportProblem(code).label if code in order else code, n)
            for code, n in sorted(
                self.problem_counts.items(), key=lambda item: (-item[1], order.get(item[0], 99))
            )
        ]

    def file_note_rows(self):
        """(label, [(value, rows)]) per ImportNote found, in the order of ImportNote."""
        return [
            (ImportNote(code).label, sorted(self.file_notes[code].items(), key=lambda i: -i[1]))
            for code in ImportNote.values
            if self.file_notes.get(code)
        ]

    def status_label(self):
        """The status as the pages show it: "Ready to import" only if something is."""
        if self.nothing_to_import:
            return gettext("Nothing to import")
        return self.get_status_display()

    @property
    def progress(self):
        """Percent done, or None while the rows are checked and their number is not known
        yet (the first check of a file): the page then shows an indeterminate bar."""
        done = self.checked_rows if self.status == ImportStatus.VALIDATING else self.processed_rows
        if not self.total_rows:
            return None if self.status == ImportStatus.VALIDATING else 100
        return min(100, round(100 * done / self.total_rows))

    def progress_label(self):
        """The line under the progress bar, in the active language and its number format;
        the page renders it and the progress endpoint returns it, so both read the same."""
        if self.status == ImportStatus.VALIDATING:
            if self.total_rows:
                return ngettext(
                    "%(n)s of %(total)s row checked…",
                    "%(n)s of %(total)s rows checked…",
                    self.total_rows,
                ) % {"n": _number(self.checked_rows), "total": _number(self.total_rows)}
            if not self.checked_rows:
                return gettext("Reading the file…")
            return ngettext("%(n)s row checked…", "%(n)s rows checked…", self.checked_rows) % {
                "n": _number(self.checked_rows)
            }
        return ngettext(
            "%(n)s of %(total)s row done…", "%(n)s of %(total)s rows done…", self.total_rows
        ) % {"n": _number(self.processed_rows), "total": _number(self.total_rows)}

    def summary(self):
        """What a finished import did, in one sentence with each count in its plural."""
        return gettext("Done: %(created)s, %(touched)s, %(skipped)s.") % {
            "created": ngettext("%(n)s lead created", "%(n)s leads created", self.created_count)
            % {"n": _number(self.created_count)},
            "touched": ngettext(
                "%(n)s touch added to an existing lead",
                "%(n)s touches added to existing leads",
                self.touched_count,
            )
            % {"n": _number(self.touched_count)},
            "skipped": ngettext("%(n)s row skipped", "%(n)s rows skipped", self.skipped_count)
            % {"n": _number(self.skipped_count)},
        }


class ImportFile(models.Model):
    """The uploaded bytes, kept in the database so web and worker need no shared disk."""

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, related_name="file")
    content = models.BinaryField()

    def __str__(self):
        return f"File of import {self.job_id}"


class ImportOutcome(models.TextChoices):
    INVALID = "invalid", _("Skipped")
    CREATED = "created", _("Created")
    TOUCHED = "touched", _("Added to existing lead")


class ImportRow(models.Model):
    """What happened to one line of an import (bad lines from validation, others from the run)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    outcome = models.CharField(max_length=10, choices=ImportOutcome.choices)
    lead = models.ForeignKey(
        Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["line"]
        indexes = [
            # The import report and its CSV: "rows of a job in line order".
            models.Index(fields=["job", "outcome", "line"], name="importrow_job_idx"),
        ]

    def __str__(self):
        return f"line {self.line}: {self.outcome}"
