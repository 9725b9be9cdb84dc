"""SLA policy, holidays, and the job that recomputes stored deadlines after a change."""

import datetime

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadflow import jobs
from leadflow.models import BackgroundJob

from .lead import InquiryType

HOUR = 60
DAY = 24 * HOUR

# The policy's threshold of each inquiry type's triage (how long a lead may stay `new`).
TRIAGE_FIELDS = {kind: f"triage_{kind.value}_minutes" for kind in InquiryType}
# Thresholds measured in working time when business hours are on ...
WORKING_TIME_FIELDS = (
    *TRIAGE_FIELDS.values(),
    "mql_waiting_minutes",
    "rejection_unactioned_minutes",
    "response_minutes",
    "first_contact_minutes",
    "follow_up_grace_minutes",
    "escalation_minutes",
    "auto_reassign_minutes",
)
# ... and those that stay calendar time (weeks without activity are weeks).
CALENDAR_TIME_FIELDS = ("stalled_minutes", "unconverted_minutes")
THRESHOLD_FIELDS = WORKING_TIME_FIELDS + CALENDAR_TIME_FIELDS
# The escalation ladder's delays may be 0: that step is off.
OPTIONAL_THRESHOLD_FIELDS = ("escalation_minutes", "auto_reassign_minutes")


class SLAPolicy(models.Model):
    """SLA thresholds of SPEC §4: one global row, optionally one override per campaign.

    Business hours are company-wide and live on the global row; when enabled, every
    threshold but CALENDAR_TIME_FIELDS counts working time only.
    """

    is_global = models.BooleanField(default=False, editable=False)
    campaign = models.OneToOneField(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policy",
    )
    # Every threshold is a duration in minutes (the form shows "45 min", "4 h", "2 d").
    mql_waiting_minutes = models.PositiveIntegerField(
        _("MQL waiting for handoff"), default=24 * HOUR
    )
    rejection_unactioned_minutes = models.PositiveIntegerField(
        _("rejection not actioned"), default=72 * HOUR
    )
    response_minutes = models.PositiveIntegerField(_("sales response"), default=24 * HOUR)
    first_contact_minutes = models.PositiveIntegerField(_("first contact"), default=48 * HOUR)
    follow_up_grace_minutes = models.PositiveIntegerField(
        _("follow-up overdue after"), default=24 * HOUR
    )
    # The escalation ladder (SPEC §4), each step once per handoff: when the response is
    # overdue the rep is told (response_overdue); this much later the team lead and the
    # managers (the response_escalated flag); and, when set, this much later again the
    # lead is reassigned by the assignment rules (response_reassigned). 0: no such step.
    escalation_minutes = models.PositiveIntegerField(
        _("escalate to the team lead and managers after (beyond the response threshold)"),
        default=4 * HOUR,
    )
    auto_reassign_minutes = models.PositiveIntegerField(
        _("reassign by the rules after (beyond the escalation; 0 = never)"), default=0
    )
    stalled_minutes = models.PositiveIntegerField(
        _("stalled after (without activity)"), default=14 * DAY
    )
    unconverted_minutes = models.PositiveIntegerField(
        _("unconverted after (since first handoff)"), default=60 * DAY
    )
    # Triage of a lead at `new` (the new_untriaged flag), per inquiry type (TRIAGE_FIELDS):
    # someone who raised their hand expects an answer within the hour.
    triage_phone_call_minutes = models.PositiveIntegerField(
        _("triage of a phone call"), default=60
    )
    triage_information_request_minutes = models.PositiveIntegerField(
        _("triage of an information request"), default=60
    )
    triage_web_form_minutes = models.PositiveIntegerField(_("triage of a web form"), default=60)
    triage_email_minutes = models.PositiveIntegerField(_("triage of an email"), default=60)
    triage_event_minutes = models.PositiveIntegerField(
        _("triage of an event lead"), default=3 * DAY
    )
    triage_other_minutes = models.PositiveIntegerField(
        _("triage of another inquiry"), default=3 * DAY
    )
    # Read from the global policy only (proof of contact and reporting are company-wide).
    late_grace_minutes = models.PositiveIntegerField(
        _("activity logged late after (minutes)"), default=24 * 60
    )
    unreached_attempts = models.PositiveIntegerField(
        _("unreachable after (attempts without a connect)"),
        default=6,
        validators=[MinValueValidator(1)],
    )

    business_hours_enabled = models.BooleanField(_("count working hours only"), default=False)
    work_days = models.CharField(
        _("working days"), max_length=13, default="0,1,2,3,4", help_text=_("0 = Monday")
    )
    work_start = models.TimeField(_("working day starts"), default=datetime.time(9, 0))
    work_end = models.TimeField(_("working day ends"), default=datetime.time(17, 0))
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.UniqueConstraint(
                fields=["is_global"], condition=Q(is_global=True), name="sla_single_global"
            ),
            models.CheckConstraint(
                condition=Q(is_global=True, campaign__isnull=True)
                | Q(is_global=False, campaign__isnull=False),
                name="sla_global_xor_campaign",
            ),
        ]

    def __str__(self):
        return "Global SLA policy" if self.is_global else f"SLA policy for {self.campaign}"

    def handoff_terms(self):
        """The thresholds a handoff made now takes with it (Handoff's fields)."""
        return {
            "response_minutes": self.response_minutes,
            "first_contact_minutes": self.first_contact_minutes,
        }

    def triage_minutes(self, inquiry_type):
        """The triage threshold of a lead of ``inquiry_type``."""
        return getattr(self, TRIAGE_FIELDS.get(inquiry_type, TRIAGE_FIELDS[InquiryType.OTHER]))


class Holiday(models.Model):
    """A non-working day under business hours."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.name}".strip()


class DeadlineRecompute(BackgroundJob):
    """A request to recompute the stored deadlines of open leads after an SLA change.

    Written by the SLA page's services, worked off in batches by the
    ``leads.tasks.recompute_deadlines`` task; the page shows the unfinished ones. Each
    batch is a heartbeat and moves ``position``, so a resumed run carries on from there.
    """

    # None: every open lead (global policy, business hours, holidays); else one campaign.
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A later request covering the same leads made this one unnecessary.
    superseded = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # The leads up to this id are done (a resumed run starts after it).
    position = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            # The SLA page's "is a recompute running?".
            models.Index(
                fields=["requested_at"],
                condition=Q(finished_at__isnull=True),
                name="recompute_running_idx",
            )
        ]

    def __str__(self):
        scope = self.campaign or "all open leads"
        return f"Deadline recompute of {scope} requested {self.requested_at:%Y-%m-%d %H:%M}"

    @property
    def is_stalled(self):
        return self.finished_at is None and jobs.is_stalled(self)

    @property
    def percent(self):
        return min(100, round(100 * self.done / self.total)) if self.total else 0
