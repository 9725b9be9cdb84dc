"""Bulk actions on a whole filtered list: a job, the lead ids fixed at confirmation, and
each lead's outcome (moved, or skipped with the service's refusal)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leadflow import jobs
from leadflow.models import BackgroundJob

from .lead import Lead


class BulkAction(models.TextChoices):
    QUALIFY = "qualify", _("Qualify (MQL)")
    NURTURE = "nurture", _("Move to nurture")
    HAND_OFF = "hand_off", _("Hand off")
    DISQUALIFY = "disqualify", _("Disqualify")


class BulkStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# The states a worker is (or should be) busy in: the watchdog's and the jobs page's.
ACTIVE_BULK = [BulkStatus.QUEUED, BulkStatus.RUNNING]


class BulkJob(BackgroundJob):
    """One marketing action on a fixed set of leads (leads/bulk/services.py).

    The set is the ids that matched when the user confirmed (``BulkJobLead`` rows), so a
    lead that arrives later is never swept in. Each lead is one transaction: the service
    call, its row's outcome and the job's counters and heartbeat commit together, so a
    resumed run (after a crash, by the watchdog) carries on with the leads still pending
    and never acts on one twice."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=20, choices=BulkAction.choices)
    # What the service needs besides the lead: {"reason", "mode", "to_user", "note"}.
    params = models.JSONField(default=dict, blank=True)
    # The lead list's filters the set was chosen by (a query string; blank for given ids).
    selection = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=BulkStatus.choices)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    moved_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The watchdog and the jobs page: "bulk actions a worker should be busy with".
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(status__in=ACTIVE_BULK),
                name="bulkjob_active_idx",
            ),
        ]

    def __str__(self):
        return f"Bulk {self.action} {self.pk}"

    def get_absolute_url(self):
        return reverse("leads:bulk_detail", args=[self.pk])

    @property
    def busy(self):
        return self.status in ACTIVE_BULK

    @property
    def is_stalled(self):
        """A worker should be busy with it, but it has made no progress for a while."""
        return self.busy and jobs.is_stalled(self)

    @property
    def can_retry(self):
        return self.status == BulkStatus.FAILED or self.is_stalled

    @property
    def progress(self):
        if not self.total:
            return 100
        return min(100, round(100 * self.processed / self.total))

    def progress_label(self):
        """The line under the progress bar (the page and its progress endpoint)."""
        return ngettext(
            "%(n)s of %(total)s lead done…", "%(n)s of %(total)s leads done…", self.total
        ) % {"n": _number(self.processed), "total": _number(self.total)}

    def summary(self):
        """What the job did, one sentence with each count in its plural."""
        return gettext("%(moved)s, %(skipped)s.") % {
            "moved": ngettext("%(n)s lead moved", "%(n)s leads moved", self.moved_count)
            % {"n": _number(self.moved_count)},
            "skipped": ngettext("%(n)s skipped", "%(n)s skipped", self.skipped_count)
            % {"n": _number(self.skipped_count)},
        }


def _number(n):
    return number_format(n, force_grouping=True)


class BulkOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    MOVED = "moved", _("Moved")
    SKIPPED = "skipped", _("Skipped")


class BulkJobLead(models.Model):
    """One lead of a bulk job's fixed set, and what the job did with it. A plain id, not a
    foreign key: the set is a record of what was confirmed (a lead gone since is skipped,
    "This lead no longer exists.")."""

    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="leads")
    lead = models.ForeignKey(
        Lead, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    outcome = models.CharField(
        max_length=10, choices=BulkOutcome.choices, default=BulkOutcome.PENDING
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "lead"], name="bulkjoblead_unique"),
        ]
        indexes = [
            # The run's "pending leads of a job in id order" and the report's "skipped
            # leads of a job" (grouped by reason).
            models.Index(fields=["job", "outcome", "lead"], name="bulkjoblead_outcome_idx"),
        ]

    def __str__(self):
        return f"lead {self.lead_id}: {self.outcome}"
