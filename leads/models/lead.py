"""The lead, its touches and its append-only stage log (SPEC §2, §3)."""

import datetime as dt
import functools

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from leadflow import roles
from leadflow.models import AppendOnly


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
# The pipeline's probability of winning, in percent, when the rep gives none (SPEC §3): the
# board's columns and the default an opportunity takes.
PIPELINE_PROBABILITY = {Stage.ACCEPTED: 10, Stage.CONTACTED: 25, Stage.OPPORTUNITY: 50}
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


# --- court time (SPEC §3) ---------------------------------------------------------------
# Whose delay a stretch at a stage is: marketing's active court, sales' (SALES_STAGES),
# parked (nurture, disqualified) or closed; the last two are nobody's delay.
MARKETING_COURT_STAGES = (Stage.NEW, Stage.MQL, Stage.REJECTED)
PARKED_STAGES = (Stage.NURTURE, Stage.DISQUALIFIED)

# The lead's minute counter each court adds to.
COURT_FIELDS = {
    "marketing": "marketing_court_minutes",
    "sales": "sales_court_minutes",
    "parked": "parked_minutes",
    "closed": "closed_minutes",
}


def court_of(stage):
    """The court ("marketing", "sales", "parked", "closed") whose clock runs at ``stage``."""
    if stage in SALES_STAGES:
        return "sales"
    if stage in MARKETING_COURT_STAGES:
        return "marketing"
    if stage in CLOSED_STAGES:
        return "closed"
    return "parked"


def stretch_minutes(start, end):
    """Whole calendar minutes from ``start`` to ``end`` (0 when either is missing or the
    clock went back). Each stretch between two stage changes is counted on its own, so
    the ledger kept by the lifecycle and the one rebuilt from the stage log agree."""
    if start is None or end is None or end <= start:
        return 0
    return int((end - start).total_seconds() // 60)


def add_stretch(counters, stage, since, at):
    """Add the stretch at ``stage`` from ``since`` to ``at`` to ``counters`` ({field:
    minutes}); returns the start of the next stretch. The one step of the ledger, taken by
    each stage change (Lead.enter_stage) and by the rebuild from the stage log. A change
    dated before the stretch began (a backdated activity) adds nothing and leaves the
    start where it was, so no minute is counted twice."""
    if since is None:
        return at
    counters[COURT_FIELDS[court_of(stage)]] += stretch_minutes(since, at)
    return max(since, at)


def court_minutes(counters, stage, since, now):
    """{court: minutes} from a lead's stored counters (``{field: value}``), its stage and
    the start of its current stretch, the current stretch counted up to ``now``."""
    out = {court: counters.get(name) or 0 for court, name in COURT_FIELDS.items()}
    out[court_of(stage)] += stretch_minutes(since, now)
    return out


class InquiryType(models.TextChoices):
    PHONE_CALL = "phone_call", _("Phone call")
    INFORMATION_REQUEST = "information_request", _("Information request")
    WEB_FORM = "web_form", _("Web form")
    EMAIL = "email", _("Email")
    EVENT = "event", _("Event")
    OTHER = "other", _("Other")


# The ways a person asks to be contacted (the triage clock's one-hour types): a campaign
# may route these straight to sales on intake (Campaign.route_on_intake).
HAND_RAISER_TYPES = frozenset(
    {
        InquiryType.PHONE_CALL,
        InquiryType.INFORMATION_REQUEST,
        InquiryType.WEB_FORM,
        InquiryType.EMAIL,
    }
)


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


# A lead with no follow-up scheduled sorts after every scheduled one: one index range
# serves "in progress" (lead_inbox_in_progress_idx) with both kinds in one order.
NEVER = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def follow_up_or_never():
    return Coalesce("next_follow_up_at", Value(NEVER), output_field=models.DateTimeField())


def close_date_slipped_q(today=None):
    """Lead.close_date_slipped as a filter: an open opportunity whose expected close date
    is before ``today`` (the site's today by default)."""
    return Q(stage=Stage.OPPORTUNITY, expected_close_on__lt=today or timezone.localdate())


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

    # The rep inbox's sections (sales/views/inbox.py). The lead list's ``section`` filter
    # uses the same methods, so a section's "show all" link lists exactly its leads.
    def awaiting_response(self):
        """Handed to a rep, who has not accepted or rejected it yet."""
        return self.filter(stage=Stage.HANDED_OFF, owner__isnull=False)

    def follow_ups_due(self, before):
        """With sales and a follow-up due before ``before`` (the end of today: overdue and
        due today)."""
        return self.filter(stage__in=SALES_STAGES, next_follow_up_at__lt=before)

    def in_progress(self, end_of_today):
        """Past the first response with nothing due today (a later follow-up or none):
        disjoint from follow_ups_due. Alias ``follow_up_or_never`` orders it."""
        return self.alias(follow_up_or_never=follow_up_or_never()).filter(
            stage__in=WORKING_STAGES, follow_up_or_never__gte=end_of_today
        )

    def for_user(self, user):
        """The leads this user may see (SPEC §1): all for marketers and managers; for a rep,
        their own plus the unassigned sales queue; nothing for anyone else."""
        if roles.is_manager(user) or roles.is_marketer(user):
            return self.all()
        if roles.is_rep(user):
            return self.filter(Q(owner=user) | Q(stage=Stage.HANDED_OFF, owner__isnull=True))
        return self.none()


class TouchSource(models.TextChoices):
    MANUAL = "manual", _("Logged by hand")
    IMPORT = "import", _("CSV import")
    INTAKE = "intake", _("Intake form")
    API = "api", _("API")
    SEED = "seed", _("Demo data")


# Where a lead's consent answer came from: the source of the touch that carried it, or an
# edit of the lead by someone who may edit it.
CONSENT_EDIT = "edit"
CONSENT_SOURCES = [*TouchSource.choices, (CONSENT_EDIT, _("Edited on the lead"))]


def phone_digits(text):
    """The digits of a phone number, its search key: "+31 6 3166-7339" -> "31631667339"."""
    return "".join(c for c in text or "" if c in "0123456789")


class PhoneDigits(models.Func):
    """The digits of a phone number in SQL, as ``phone_digits`` gives them in Python: what
    lead_phone_digits_trgm_idx indexes on PostgreSQL (leads 0028), so the digits are never
    stored and cannot fall out of step with the phone. SQLite calls ``phone_digits``
    itself (registered on each connection by LeadsConfig.ready)."""

    function = "phone_digits"
    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="regexp_replace(%(expressions)s, '[^0-9]', '', 'g')",
            **extra_context,
        )


class Lead(models.Model):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=150, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Derived from the explicit answers the touches carried (and edits): take_consent().
    consent = models.BooleanField(_("consent to be contacted"), default=False)
    consent_at = models.DateTimeField(_("consent answered at"), null=True, blank=True)
    consent_source = models.CharField(
        _("consent answered through"), max_length=10, choices=CONSENT_SOURCES, blank=True
    )

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
    # When LeadFlow got the lead, if later than its creation: an import of last year's
    # contacts keeps their creation dates (the cohorts and the trend), but nobody could
    # act on them before the import, so the triage clock runs from here (``clock_start``).
    received_at = models.DateTimeField(null=True, blank=True)
    mql_at = models.DateTimeField(null=True, blank=True)
    handed_off_at = models.DateTimeField(null=True, blank=True)
    last_handed_off_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    # The first call, email or meeting (an attempt) and the first one that reached the lead
    # (CONNECT_OUTCOMES), each at its counts_at; the attempts before that connect (all of
    # them while there is none). Kept by sales.services from the uncorrected activities.
    first_contact_at = models.DateTimeField(null=True, blank=True)
    first_connect_at = models.DateTimeField(null=True, blank=True)
    attempts_before_connect = models.PositiveIntegerField(default=0)
    opportunity_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    deal_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # The pipeline (SPEC §3): an opportunity's expected close date (a date in the site's time
    # zone) and its probability in percent (PIPELINE_PROBABILITY's default for the stage
    # when the rep gives none), kept by sales.services.
    expected_close_on = models.DateField(null=True, blank=True)
    probability = models.PositiveSmallIntegerField(null=True, blank=True)
    lost_reason = models.CharField(max_length=20, choices=LostReason.choices, blank=True)
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)
    disqualify_reason = models.CharField(
        max_length=20, choices=DisqualifyReason.choices, blank=True
    )
    closed_from = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    # A dispute of the latest rejection is pending (pauses rejection_unactioned) / was ruled.
    disputed_at = models.DateTimeField(null=True, blank=True)
    dispute_ruled_at = models.DateTimeField(null=True, blank=True)
    # When the campaign's auto-response went to this person: once per lead, ever.
    auto_response_sent_at = models.DateTimeField(null=True, blank=True)

    # The latest claim or reassign: the new holder's sales clocks (SPEC §4) start there.
    sales_clock_at = models.DateTimeField(null=True, blank=True)

    # Sales activity summary, kept by the activity service.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    next_follow_up_at = models.DateTimeField(null=True, blank=True)

    # The SLA contract of the latest handoff (SPEC §4), taken by refresh_deadlines when the
    # lead is handed off: the handoff it belongs to, its response and first-contact
    # thresholds; and the first handoff's first-contact threshold (the contact-in-SLA rate).
    sla_terms_at = models.DateTimeField(null=True, blank=True)
    sla_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    sla_contact_minutes = models.PositiveIntegerField(null=True, blank=True)
    first_sla_contact_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Court time (SPEC §3): minutes each court held the lead, summed over its stretches up
    # to court_since (the latest stage change), kept by lifecycle.move in the transaction
    # of each transition; `manage.py rebuild_court_time` recomputes them from the stage log.
    marketing_court_minutes = models.PositiveIntegerField(default=0)
    sales_court_minutes = models.PositiveIntegerField(default=0)
    parked_minutes = models.PositiveIntegerField(default=0)
    closed_minutes = models.PositiveIntegerField(default=0)
    court_since = models.DateTimeField(null=True, blank=True)

    # SLA deadlines, recomputed by leads.sla.calendar.refresh_deadlines on every change; the sweep
    # only compares them with now (each has a partial index below).
    triage_due_at = models.DateTimeField(null=True, blank=True)
    mql_due_at = models.DateTimeField(null=True, blank=True)
    rejection_due_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField(null=True, blank=True)
    contact_due_at = models.DateTimeField(null=True, blank=True)
    follow_up_due_at = models.DateTimeField(null=True, blank=True)
    stale_due_at = models.DateTimeField(null=True, blank=True)
    convert_due_at = models.DateTimeField(null=True, blank=True)
    # The escalation ladder after the response deadline (SLAPolicy.escalation_minutes,
    # auto_reassign_minutes), armed once per handoff.
    escalation_due_at = models.DateTimeField(null=True, blank=True)
    reassign_due_at = models.DateTimeField(null=True, blank=True)
    # close_date_passed: the end of an open opportunity's expected close date.
    close_due_at = models.DateTimeField(null=True, blank=True)

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
            models.CheckConstraint(
                condition=Q(probability__isnull=True) | Q(probability__lte=100),
                name="lead_probability_percent",
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
            # Dashboard speed to lead, court time and attempts (leads/reporting/percentiles.py
            # cohort_percentiles and held_longest): the percentile query over a cohort, the
            # per-campaign and per-owner court medians and the held-longest top 10 read
            # every column they need from this index, without visiting the table.
            models.Index(
                fields=["created_at", "id"],
                include=[
                    "origin",
                    "stage",
                    "handed_off_at",
                    "first_contact_at",
                    "first_connect_at",
                    "attempts_before_connect",
                    "court_since",
                    "marketing_court_minutes",
                    "sales_court_minutes",
                    "campaign",
                    "owner",
                ],
                name="lead_cohort_clock_idx",
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
            # The rep inbox's sections (sales/views/inbox.py), each "owner = me" in the
            # section's order so that its top 25 and its capped count are an index range
            # however many leads the rep holds. Awaiting response: earliest deadline first.
            models.Index(
                fields=["owner", "response_due_at", "last_handed_off_at", "id"],
                condition=Q(stage="handed_off"),
                name="lead_inbox_awaiting_idx",
            ),
            # Follow-ups due (overdue, then the rest of today) and in progress with a
            # later follow-up: "next_follow_up_at < / >= t ORDER BY next_follow_up_at".
            models.Index(
                fields=["owner", "next_follow_up_at", "id"],
                condition=Q(stage__in=SALES_STAGES, next_follow_up_at__isnull=False),
                name="lead_inbox_follow_up_idx",
            ),
            # In progress: "follow_up_or_never >= end of today ORDER BY follow_up_or_never,
            # last_handed_off_at DESC", next follow-up first and none scheduled last.
            models.Index(
                F("owner"),
                follow_up_or_never(),
                F("last_handed_off_at").desc(),
                F("id"),
                condition=Q(stage__in=WORKING_STAGES),
                name="lead_inbox_in_progress_idx",
            ),
            # The incremental sweep: "leads changed since the last sweep" (leads/sweep/flags.py).
            models.Index(fields=["updated_at"], name="lead_updated_idx"),
            # The sweep's raise queries: "<deadline> <= now" over leads that have one.
            *(
                models.Index(
                    fields=[col], condition=Q(**{f"{col}__isnull": False}), name=f"lead_{col}_idx"
                )
                for col in (
                    "triage_due_at",
                    "mql_due_at",
                    "rejection_due_at",
                    "response_due_at",
                    "contact_due_at",
                    "follow_up_due_at",
                    "stale_due_at",
                    "convert_due_at",
                    "escalation_due_at",
                    "reassign_due_at",
                    "close_due_at",
                )
            ),
            # The pipeline board's columns (sales/pipeline.py): "owner = rep AND stage = s
            # ORDER BY id DESC LIMIT 50", an index range however many leads the rep holds.
            models.Index(
                F("owner"),
                F("stage"),
                F("id").desc(),
                condition=Q(stage__in=WORKING_STAGES),
                name="lead_board_idx",
            ),
            # The forecast (sales/pipeline.py): "stage = opportunity AND expected_close_on
            # in the months GROUP BY owner, month", and the board's slipped close dates.
            models.Index(
                fields=["owner", "expected_close_on"],
                include=["deal_value", "probability"],
                condition=Q(stage="opportunity"),
                name="lead_forecast_idx",
            ),
            # The forecast's "won to date": "stage = won AND closed_at in the months".
            models.Index(
                fields=["closed_at", "owner"],
                include=["deal_value"],
                condition=Q(stage="won"),
                name="lead_won_closed_idx",
            ),
        ]

    def __str__(self):
        # An imported subscriber may have only an email (or a phone): that names them.
        name = f"{self.first_name} {self.last_name}".strip() or self.email or self.phone
        return f"{name} ({self.company})" if self.company else name

    def get_absolute_url(self):
        return reverse("leads:detail", args=[self.pk])

    @property
    def close_date_slipped(self):
        """An open opportunity whose expected close date is in the past (on the site's
        calendar): what close_date_passed flags, the board marks and the forecast puts in
        its "Slipped" bucket (:func:`close_date_slipped_q`, the same rule in the database)."""
        return bool(
            self.stage == Stage.OPPORTUNITY
            and self.expected_close_on
            and self.expected_close_on < timezone.localdate()
        )

    @property
    def clock_start(self):
        """Where marketing's clock on a new lead starts: when LeadFlow received it."""
        return self.received_at or self.created_at

    CONSENT_FIELDS = ("consent", "consent_at", "consent_source")

    def take_consent(self, answer, *, at, source):
        """Follow an explicit consent answer (a touch's, or an edit of the lead): the latest
        explicit answer wins, so a later "no" withdraws a "yes". No answer (None) changes
        nothing, nor does an answer older than the one the lead holds. Returns the fields
        it set, for ``save(update_fields=...)``."""
        if answer is None or (self.consent_at is not None and at < self.consent_at):
            return []
        self.consent, self.consent_at, self.consent_source = bool(answer), at, source
        return list(self.CONSENT_FIELDS)

    LEDGER_FIELDS = (*COURT_FIELDS.values(), "court_since")

    def enter_stage(self, at):
        """Close the stretch at the current stage (its minutes go to its court) and start
        the next one at ``at``: called by every stage change, before the stage is set."""
        counters = {name: getattr(self, name) for name in COURT_FIELDS.values()}
        self.court_since = add_stretch(counters, self.stage, self.court_since, at)
        for name, value in counters.items():
            setattr(self, name, value)

    def court_time(self, now=None):
        """{court: minutes} held so far, the current stretch counted up to now."""
        counters = {name: getattr(self, name) for name in COURT_FIELDS.values()}
        return court_minutes(counters, self.stage, self.court_since, now or timezone.now())

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
    # The answer this inquiry carried: True (given), False (refused or withdrawn), or None
    # (not asked, or left unticked). The lead's own consent follows the latest explicit one.
    consent = models.BooleanField(null=True, blank=True)

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
    ROUTED_ON_INTAKE = gettext_noop("Routed to sales on intake by the assignment rules.")

    ALL = frozenset({IMPORT_STATUS, ACCEPTED_BY_CONTACT, REJECTION_OVERTURNED, ROUTED_ON_INTAKE})

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


class StageChange(AppendOnly):
    """Append-only audit of every stage change; nothing edits or deletes it."""

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # Lead timeline: "stage changes of a lead in time order".
            models.Index(fields=["lead", "at"], name="stagechange_lead_time_idx"),
        ]

    def __str__(self):
        return f"Lead {self.lead_id}: {self.from_stage or '-'} -> {self.to_stage}"

    def get_note_display(self):
        """The note; one LeadFlow wrote itself (SystemNote) in the active language."""
        msgid = SystemNote.stored_forms().get(self.note)
        return gettext(msgid) if msgid else self.note
