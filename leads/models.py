import datetime
import functools

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _

from leadflow import roles


class Stage(models.TextChoices):
    NEW = "new", _("New")
    MQL = "mql", _("MQL")
    NURTURE = "nurture", _("Nurture")
    DISQUALIFIED = "disqualified", _("Disqualified")
    HANDED_OFF = "handed_off", _("Handed off")
    ACCEPTED = "accepted", _("Accepted")
    CONTACTED = "contacted", _("Contacted")
    OPPORTUNITY = "opportunity", _("Opportunity")
    REJECTED = "rejected", _("Rejected")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


MARKETING_STAGES = (Stage.NEW, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED, Stage.REJECTED)
SALES_STAGES = (Stage.HANDED_OFF, Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY)
# With sales and past the first response: the stages the stalled flag watches.
WORKING_STAGES = (Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY)
CLOSED_STAGES = (Stage.WON, Stage.LOST)
# Not open: a new inquiry from the same email starts a new lead.
ENDED_STAGES = (Stage.WON, Stage.LOST, Stage.DISQUALIFIED)


class Side(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    CLOSED = "closed", _("Closed")


def side_of(stage):
    if stage in SALES_STAGES:
        return Side.SALES
    if stage in CLOSED_STAGES:
        return Side.CLOSED
    return Side.MARKETING


class InquiryType(models.TextChoices):
    PHONE_CALL = "phone_call", _("Phone call")
    INFORMATION_REQUEST = "information_request", _("Information request")
    WEB_FORM = "web_form", _("Web form")
    EMAIL = "email", _("Email")
    EVENT = "event", _("Event")
    OTHER = "other", _("Other")


class Origin(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales-generated")


class RejectionReason(models.TextChoices):
    NOT_A_FIT = "not_a_fit", _("Not a fit")
    NO_BUDGET = "no_budget", _("No budget")
    BAD_CONTACT_DATA = "bad_contact_data", _("Bad contact data")
    DUPLICATE = "duplicate", _("Duplicate")
    SPAM = "spam", _("Spam")
    NOT_INTERESTED = "not_interested", _("Not interested")


class LostReason(models.TextChoices):
    PRICE = "price", _("Price")
    COMPETITOR = "competitor", _("Competitor")
    TIMING = "timing", _("Timing")
    NO_DECISION = "no_decision", _("No decision")
    UNRESPONSIVE = "unresponsive", _("Unresponsive")
    OTHER = "other", _("Other")


class DisqualifyReason(models.TextChoices):
    NOT_A_FIT = "not_a_fit", _("Not a fit")
    NO_BUDGET = "no_budget", _("No budget")
    BAD_CONTACT_DATA = "bad_contact_data", _("Bad contact data")
    DUPLICATE = "duplicate", _("Duplicate")
    SPAM = "spam", _("Spam")
    COMPETITOR = "competitor", _("Competitor or student")
    OTHER = "other", _("Other")


class LeadQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(stage__in=ENDED_STAGES)

    def open_with_email(self, *emails):
        """Open leads whose email is one of ``emails`` (case-insensitive). Written so that
        PostgreSQL can use the partial unique index lead_open_email_unique_ci."""
        keys = [e.strip().lower() for e in emails if e and e.strip()]
        return (
            self.exclude(stage__in=[s.value for s in ENDED_STAGES])
            .exclude(email="")
            .alias(email_ci=Lower("email"))
            .filter(email_ci__in=keys)
        )

    def with_sales(self):
        return self.filter(stage__in=SALES_STAGES)

    def unassigned_queue(self):
        return self.filter(stage=Stage.HANDED_OFF, owner__isnull=True)

    def for_user(self, user):
        """The leads this user may see (SPEC §1): all for marketers and managers; for a rep,
        their own plus the unassigned sales queue; nothing for anyone else."""
        if roles.is_manager(user) or roles.is_marketer(user):
            return self.all()
        if roles.is_rep(user):
            return self.filter(Q(owner=user) | Q(stage=Stage.HANDED_OFF, owner__isnull=True))
        return self.none()


class Lead(models.Model):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    consent = models.BooleanField(_("consent to be contacted"), default=False)

    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign (first touch)"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
    )
    last_touch_campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("last-touch campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="last_touch_leads",
    )
    inquiry_type = models.CharField(
        _("inquiry type"), max_length=30, choices=InquiryType.choices, default=InquiryType.WEB_FORM
    )
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    origin = models.CharField(
        _("origin"), max_length=10, choices=Origin.choices, default=Origin.MARKETING
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.NEW)
    owner_side = models.CharField(
        _("ball in court of"), max_length=10, choices=Side.choices, default=Side.MARKETING
    )
    # The rep holding the lead while it is with sales (None in the unassigned queue and
    # in marketing's court); kept on won/lost so the closer keeps the credit.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_leads",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_leads",
    )
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)

    # Reporting timestamps (SPEC §3).
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    mql_at = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    last_handed_off_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(null=True, blank=True)
    opportunity_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    deal_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    lost_reason = models.CharField(max_length=20, choices=LostReason.choices, blank=True)
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)
    disqualify_reason = models.CharField(
        max_length=20, choices=DisqualifyReason.choices, blank=True
    )
    closed_from = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    # A dispute of the latest rejection is pending (pauses rejection_unactioned) / was ruled.
    disputed_at = models.DateTimeField(null=True, blank=True)
    dispute_ruled_at = models.DateTimeField(null=True, blank=True)

    # Sales activity summary, kept by the activity service.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    next_follow_up_at = models.DateTimeField(null=True, blank=True)

    # SLA deadlines, recomputed by leads.sla.calendar.refresh_deadlines on every change; the sweep
    # only compares them with now (each has a partial index below).
    mql_due_at = models.DateTimeField(null=True, blank=True)
    rejection_due_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(null=True, blank=True)
    contact_due_at = models.DateTimeField(null=True, blank=True)
    follow_up_due_at = models.DateTimeField(null=True, blank=True)
    stale_due_at = models.DateTimeField(null=True, blank=True)
    convert_due_at = models.DateTimeField(null=True, blank=True)

    updated_at = models.DateTimeField(auto_now=True)

    objects = LeadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second inquiry from the same person becomes a Touch (leads.services.lead_intake).
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email="") & ~Q(stage__in=[s.value for s in ENDED_STAGES]),
                name="lead_open_email_unique_ci",
                violation_error_message=_("An open lead with this email already exists."),
            ),
            models.CheckConstraint(
                condition=Q(deal_value__isnull=True) | Q(deal_value__gte=0),
                name="lead_deal_value_not_negative",
            ),
        ]
        indexes = [
            # Lead list default order and the dashboard's cohort "created_at BETWEEN".
            models.Index(fields=["created_at", "id"], name="lead_created_idx"),
            # Lead list filtered by stage, newest first.
            models.Index(fields=["stage", "created_at"], name="lead_stage_created_idx"),
            # Lead list sorted by last name / company (keyset pages seek on these).
            models.Index(fields=["last_name", "id"], name="lead_last_name_idx"),
            models.Index(fields=["company", "id"], name="lead_company_idx"),
            # Lead list filtered by owner, newest first.
            models.Index(fields=["owner", "created_at"], name="lead_owner_created_idx"),
            # Dashboard median hours to first contact: an index-only scan of the cohort.
            models.Index(
                fields=["created_at"],
                include=["handed_off_at", "first_contact_at", "owner", "campaign"],
                condition=Q(first_contact_at__isnull=False, handed_off_at__isnull=False),
                name="lead_contact_delay_idx",
            ),
            # Campaign page and dashboard filtered by first-touch campaign.
            models.Index(fields=["campaign", "created_at"], name="lead_campaign_created_idx"),
            # Rep inbox and rep scope: "owner = me AND stage IN (...)".
            models.Index(fields=["owner", "stage"], name="lead_owner_stage_idx"),
            # Unassigned sales queue: "stage = handed_off AND owner IS NULL".
            models.Index(
                fields=["last_handed_off_at"],
                condition=Q(stage="handed_off", owner__isnull=True),
                name="lead_unassigned_queue_idx",
            ),
            # The incremental sweep: "leads changed since the last sweep" (leads/sweep/flags.py).
            models.Index(fields=["updated_at"], name="lead_updated_idx"),
            # The sweep's raise queries: "<deadline> <= now" over leads that have one.
            *(
                models.Index(
                    fields=[col], condition=Q(**{f"{col}__isnull": False}), name=f"lead_{col}_idx"
                )
                for col in (
                    "mql_due_at",
                    "rejection_due_at",
                    "response_due_at",
                    "contact_due_at",
                    "follow_up_due_at",
                    "stale_due_at",
                    "convert_due_at",
                )
            ),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.company})" if self.company else name

    def get_absolute_url(self):
        return reverse("leads:detail", args=[self.pk])

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_open(self):
        return self.stage not in ENDED_STAGES

    @property
    def is_with_sales(self):
        return self.stage in SALES_STAGES

    @property
    def in_unassigned_queue(self):
        return self.stage == Stage.HANDED_OFF and self.owner_id is None


class TouchSource(models.TextChoices):
    MANUAL = "manual", _("Logged by hand")
    IMPORT = "import", _("CSV import")
    INTAKE = "intake", _("Intake form")
    API = "api", _("API")
    SEED = "seed", _("Demo data")


class Touch(models.Model):
    """One inquiry of one lead from one campaign at one moment."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="touches",
    )
    inquiry_type = models.CharField(max_length=30, choices=InquiryType.choices)
    source = models.CharField(max_length=10, choices=TouchSource.choices)
    occurred_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name_plural = "touches"
        indexes = [
            # Lead timeline: "touches of a lead in time order".
            models.Index(fields=["lead", "occurred_at"], name="touch_lead_time_idx"),
        ]

    def __str__(self):
        return f"Touch of lead {self.lead_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class SystemNote:
    """Notes LeadFlow itself writes on a stage change. They are stored as their English
    msgid and translated when shown (``StageChange.get_note_display``), so each reader sees
    them in their own language, whichever language the change was made in."""

    IMPORT_STATUS = gettext_noop("Status in the import")
    ACCEPTED_BY_CONTACT = gettext_noop("Accepted by logging contact.")
    REJECTION_OVERTURNED = gettext_noop("Rejection overturned.")

    ALL = frozenset({IMPORT_STATUS, ACCEPTED_BY_CONTACT, REJECTION_OVERTURNED})

    @staticmethod
    @functools.cache
    def stored_forms():
        """Stored text -> msgid. Notes written before they were stored untranslated hold
        the translation of the language they were made in ("Status in de import")."""
        forms = {}
        for code, _name in settings.LANGUAGES:
            with translation.override(code):
                for msgid in SystemNote.ALL:
                    forms.setdefault(gettext(msgid), msgid)
        return {**forms, **{msgid: msgid for msgid in SystemNote.ALL}}


class StageChangeQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Stage changes are append-only.")

    def delete(self):
        raise TypeError("Stage changes are append-only.")


class StageChange(models.Model):
    """Append-only audit of every stage change; nothing edits or deletes it."""

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    objects = StageChangeQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # Lead timeline: "stage changes of a lead in time order".
            models.Index(fields=["lead", "at"], name="stagechange_lead_time_idx"),
        ]

    def __str__(self):
        return f"Lead {self.lead_id}: {self.from_stage or '-'} -> {self.to_stage}"

    def save(self, *args, **kwargs):
        # Append-only: an existing row is never written again.
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("Stage changes are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Stage changes are append-only.")

    def get_note_display(self):
        """The note; one LeadFlow wrote itself (SystemNote) in the active language."""
        msgid = SystemNote.stored_forms().get(self.note)
        return gettext(msgid) if msgid else self.note


class FlagKind(models.TextChoices):
    MQL_WAITING = "mql_waiting", _("MQL waiting for handoff")
    REJECTION_UNACTIONED = "rejection_unactioned", _("Rejection not actioned")
    RESPONSE_OVERDUE = "response_overdue", _("Response overdue")
    FIRST_CONTACT_OVERDUE = "first_contact_overdue", _("First contact overdue")
    FOLLOW_UP_OVERDUE = "follow_up_overdue", _("Follow-up overdue")
    STALLED = "stalled", _("Stalled")
    UNCONVERTED = "unconverted", _("Unconverted")


FLAG_SIDE = {
    FlagKind.MQL_WAITING: Side.MARKETING,
    FlagKind.REJECTION_UNACTIONED: Side.MARKETING,
    FlagKind.RESPONSE_OVERDUE: Side.SALES,
    FlagKind.FIRST_CONTACT_OVERDUE: Side.SALES,
    FlagKind.FOLLOW_UP_OVERDUE: Side.SALES,
    FlagKind.STALLED: Side.SALES,
    FlagKind.UNCONVERTED: Side.SALES,
}

# The lead deadline column each flag kind compares with now.
FLAG_DEADLINE = {
    FlagKind.MQL_WAITING: "mql_due_at",
    FlagKind.REJECTION_UNACTIONED: "rejection_due_at",
    FlagKind.RESPONSE_OVERDUE: "response_due_at",
    FlagKind.FIRST_CONTACT_OVERDUE: "contact_due_at",
    FlagKind.FOLLOW_UP_OVERDUE: "follow_up_due_at",
    FlagKind.STALLED: "stale_due_at",
    FlagKind.UNCONVERTED: "convert_due_at",
}


class FlagQuerySet(models.QuerySet):
    def open(self):
        return self.filter(resolved_at__isnull=True)

    def attach_open(self, leads):
        """Set ``lead.open_flags`` (oldest first) on each lead of a page: one query."""
        leads = list(leads)
        by_lead = {lead.pk: [] for lead in leads}
        if by_lead:
            for flag in self.open().filter(lead_id__in=by_lead).order_by("raised_at", "pk"):
                by_lead[flag.lead_id].append(flag)
        for lead in leads:
            lead.open_flags = by_lead[lead.pk]
        return leads


class Flag(models.Model):
    """A problem the sweep found. Resolved flags stay, with resolved_at, for history."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=30, choices=FlagKind.choices)
    side = models.CharField(max_length=10, choices=Side.choices)
    # None means "the managers" (a queued lead, or a campaign without owner).
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="flags",
    )
    due_at = models.DateTimeField(null=True, blank=True)
    # The lead's created_at (which never changes), so the lead list can walk the open
    # flags of one kind in the lead list's own order (flag_open_kind_created_idx).
    lead_created_at = models.DateTimeField(null=True, blank=True)
    raised_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    objects = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # Two sweeps racing cannot both raise the same flag: the second INSERT conflicts.
            models.UniqueConstraint(
                fields=["lead", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="flag_one_open_per_lead_kind",
            ),
        ]
        indexes = [
            # Lead list "open flag of kind K", newest (or oldest) leads first: walked in
            # order and joined to the leads, instead of probing every lead for a flag.
            models.Index(
                fields=["kind", "lead_created_at", "lead"],
                condition=Q(resolved_at__isnull=True),
                name="flag_open_kind_created_idx",
            ),
            # The sweep's resolve queries and the list's "open flag kind" filter.
            models.Index(
                fields=["kind", "lead"],
                condition=Q(resolved_at__isnull=True),
                name="flag_open_kind_idx",
            ),
            # Notification outbox: "raised, not yet notified".
            models.Index(
                fields=["raised_at"], condition=Q(notified_at__isnull=True), name="flag_outbox_idx"
            ),
            # Lead timeline and dashboard "flags ever raised for a lead".
            models.Index(fields=["lead", "kind"], name="flag_lead_kind_idx"),
            # Dashboard statistics refresh: "flags raised / resolved since the watermark".
            models.Index(fields=["raised_at"], name="flag_raised_idx"),
            models.Index(fields=["resolved_at"], name="flag_resolved_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on lead {self.lead_id}"

    def save(self, *args, **kwargs):
        # The sweep inserts flags in SQL with this copy; rows made one by one get it here.
        if self.lead_created_at is None and self.lead_id is not None:
            self.lead_created_at = self.lead.created_at
        super().save(*args, **kwargs)

    @property
    def is_open(self):
        return self.resolved_at is None


class SLAPolicy(models.Model):
    """SLA thresholds of SPEC §4: one global row, optionally one override per campaign.

    Business hours are company-wide and live on the global row; when enabled, the
    hour thresholds count working hours only (day thresholds stay calendar days).
    """

    is_global = models.BooleanField(default=False, editable=False)
    campaign = models.OneToOneField(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policy",
    )
    mql_waiting_hours = models.PositiveIntegerField(
        _("MQL waiting for handoff (hours)"), default=24
    )
    rejection_unactioned_hours = models.PositiveIntegerField(
        _("rejection not actioned (hours)"), default=72
    )
    response_hours = models.PositiveIntegerField(_("sales response (hours)"), default=24)
    first_contact_hours = models.PositiveIntegerField(_("first contact (hours)"), default=48)
    follow_up_grace_hours = models.PositiveIntegerField(
        _("follow-up overdue after (hours)"), default=24
    )
    stalled_days = models.PositiveIntegerField(
        _("stalled after (days without activity)"), default=14
    )
    unconverted_days = models.PositiveIntegerField(
        _("unconverted after (days since first handoff)"), default=60
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


class Holiday(models.Model):
    """A non-working day under business hours."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.name}".strip()


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


class ImportJob(models.Model):
    """One CSV import: upload -> column mapping -> validation report -> confirm -> run.

    The run commits batch by batch and records ``processed_rows`` in the same transaction,
    so a crash leaves a clear state and a retry resumes exactly where it stopped."""

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
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Import {self.pk} ({self.filename})"

    def get_absolute_url(self):
        return reverse("leads:import_detail", args=[self.pk])

    @property
    def nothing_to_import(self):
        """Checked, and not one row can be imported (no data rows, or only bad ones)."""
        return self.status == ImportStatus.VALIDATED and not self.valid_rows

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


class DeadlineRecompute(models.Model):
    """A request to recompute the stored deadlines of open leads after an SLA change.

    Written by the SLA page's services, worked off in batches by the
    ``leads.tasks.recompute_deadlines`` task; the page shows the unfinished ones.
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
    def percent(self):
        return min(100, round(100 * self.done / self.total)) if self.total else 0


class SweepRun(models.Model):
    """One completed sweep (leads/sweep/flags.py): its ``now`` is the next incremental sweep's
    watermark, and the SLA page shows the latest. Rows older than a week are pruned."""

    at = models.DateTimeField()
    full = models.BooleanField(default=False)
    raised = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # "The latest sweep" and "the latest full sweep" (the watermarks), and pruning.
            models.Index(fields=["at"], name="sweeprun_at_idx"),
        ]

    def __str__(self):
        return f"{'Full' if self.full else 'Incremental'} sweep at {self.at:%Y-%m-%d %H:%M:%S}"


class CohortStats(models.Model):
    """Pre-aggregated dashboard numbers (leads/reporting/stats.py): one row per creation
    day (site time zone), first-touch campaign, current owner and origin. Rebuilt from the
    raw tables for the days whose leads changed, from the named counts of
    leads/reporting/definitions.py."""

    day = models.DateField()
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, related_name="cohort_stats"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    origin = models.CharField(max_length=10)
    generated = models.PositiveIntegerField(default=0)
    mql = models.PositiveIntegerField(default=0)
    handed_off = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    accepted_handed = models.PositiveIntegerField(default=0)  # accepted and handed off
    contacted = models.PositiveIntegerField(default=0)
    opportunity = models.PositiveIntegerField(default=0)
    won = models.PositiveIntegerField(default=0)
    lost = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    won_value = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    contacted_in_sla = models.PositiveIntegerField(default=0)
    dropped_marketing = models.PositiveIntegerField(default=0)
    dropped_sales = models.PositiveIntegerField(default=0)
    dropped_market = models.PositiveIntegerField(default=0)
    dropped_in_progress = models.PositiveIntegerField(default=0)
    # Rejections (handoffs) by reason, lost leads by reason, objections heard by tag.
    rej_not_a_fit = models.PositiveIntegerField(default=0)
    rej_no_budget = models.PositiveIntegerField(default=0)
    rej_bad_contact_data = models.PositiveIntegerField(default=0)
    rej_duplicate = models.PositiveIntegerField(default=0)
    rej_spam = models.PositiveIntegerField(default=0)
    rej_not_interested = models.PositiveIntegerField(default=0)
    lost_price = models.PositiveIntegerField(default=0)
    lost_competitor = models.PositiveIntegerField(default=0)
    lost_timing = models.PositiveIntegerField(default=0)
    lost_no_decision = models.PositiveIntegerField(default=0)
    lost_unresponsive = models.PositiveIntegerField(default=0)
    lost_other = models.PositiveIntegerField(default=0)
    obj_price = models.PositiveIntegerField(default=0)
    obj_timing = models.PositiveIntegerField(default=0)
    obj_competitor = models.PositiveIntegerField(default=0)
    obj_no_need = models.PositiveIntegerField(default=0)
    obj_authority = models.PositiveIntegerField(default=0)
    obj_other = models.PositiveIntegerField(default=0)
    mflags_raised = models.PositiveIntegerField(default=0)
    mflags_open = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The dashboard's "rows of a period" (then filtered by campaign/owner).
            models.Index(fields=["day"], name="cohortstats_day_idx"),
        ]

    def __str__(self):
        return f"{self.day} campaign {self.campaign_id} owner {self.owner_id}"


class RepStats(models.Model):
    """Pre-aggregated per-rep numbers for the sales scorecard: one row per creation day,
    first-touch campaign and current owner of the leads, and the rep who received the
    handoffs, logged the follow-ups or is responsible for the sales flags."""

    day = models.DateField()
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, null=True, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    received = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    false_rejections = models.PositiveIntegerField(default=0)
    overturned = models.PositiveIntegerField(default=0)
    follow_ups = models.PositiveIntegerField(default=0)
    obj_price = models.PositiveIntegerField(default=0)
    obj_timing = models.PositiveIntegerField(default=0)
    obj_competitor = models.PositiveIntegerField(default=0)
    obj_no_need = models.PositiveIntegerField(default=0)
    obj_authority = models.PositiveIntegerField(default=0)
    obj_other = models.PositiveIntegerField(default=0)
    sflags_raised = models.PositiveIntegerField(default=0)
    sflags_open = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # The sales scorecard's "rows of a period".
            models.Index(fields=["day"], name="repstats_day_idx"),
        ]

    def __str__(self):
        return f"{self.day} rep {self.rep_id}"


class StatsState(models.Model):
    """The dashboard statistics' watermark: every change before ``refreshed_at`` (less a
    safety overlap) is in CohortStats/RepStats. A single row, locked while refreshing."""

    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    sla_hours = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self):
        return f"Dashboard statistics as of {self.refreshed_at}"
