from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Channel
from leadflow import roles
from leadflow.models import AppendOnly, ChatChannels
from leads.models import InquiryType, Origin, RejectionReason


class Team(ChatChannels):
    """A named group of reps with a team lead (a manager). A rep may be in several teams;
    assignment rules route to a team round-robin, and its queue calls its members (and its
    Slack or Teams channel, when it has one)."""

    name = models.CharField(_("name"), max_length=100)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="teams_led",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="sales_teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="team_name_unique_ci",
                violation_error_message=_("Another team already has this name."),
            )
        ]

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    """A rep in a team, with their weight in its round-robin."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("A rep of weight 2 gets twice as many of the team's leads as one of 1."),
    )
    # Smooth weighted round-robin (nginx's): each pick adds every eligible member's weight
    # to their credit and takes the total off the one chosen, so the order interleaves
    # (A B A A B A for 2:1) and a skipped member neither gains nor loses their turn.
    credit = models.IntegerField(default=0, editable=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="team_member_once"),
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=100), name="team_member_weight_range"
            ),
        ]

    def __str__(self):
        return f"{self.user} in {self.team}"


class RuleTarget(models.TextChoices):
    REP = "rep", _("A salesperson")
    TEAM = "team", _("A team (round-robin)")
    QUEUE = "queue", _("The unassigned sales queue")


class AssignmentRule(models.Model):
    """One assignment rule (SPEC §2): tried in ``position`` order, the first whose every
    set condition matches the lead wins (sales.routing). An empty condition matches any
    lead, so a rule without conditions is a catch-all."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, blank=True)
    inquiry_type = models.CharField(
        _("inquiry type"), max_length=30, choices=InquiryType.choices, blank=True
    )
    # Comma-separated, compared without case: "Netherlands, Belgium".
    countries = models.CharField(_("countries"), max_length=300, blank=True)
    min_score = models.PositiveSmallIntegerField(
        _("lowest score"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    max_score = models.PositiveSmallIntegerField(
        _("highest score"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    origin = models.CharField(_("origin"), max_length=10, choices=Origin.choices, blank=True)
    target = models.CharField(_("assign to"), max_length=10, choices=RuleTarget.choices)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("salesperson"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    target_team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rules",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(target="rep", target_user__isnull=False, target_team__isnull=True)
                    | Q(target="team", target_team__isnull=False, target_user__isnull=True)
                    | Q(target="queue", target_user__isnull=True, target_team__isnull=True)
                ),
                name="rule_target_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(min_score__isnull=True)
                | Q(max_score__isnull=True)
                | Q(min_score__lte=F("max_score")),
                name="rule_score_range_ordered",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def country_list(self):
        return [c.strip() for c in self.countries.split(",") if c.strip()]


class HandoffKind(models.TextChoices):
    HANDOFF = "handoff", _("Handoff")
    REASSIGN = "reassign", _("Reassignment")
    OVERTURN = "overturn", _("Rejection overturned")


class HandoffOutcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded")


class Handoff(models.Model):
    """One transfer of a lead into sales' hands (or between reps, by a manager)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="handoffs")
    kind = models.CharField(
        max_length=10, choices=HandoffKind.choices, default=HandoffKind.HANDOFF
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs_made",
    )
    # None: the lead went to the unassigned sales queue.
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="handoffs_received",
    )
    handed_at = models.DateTimeField()
    # A handoff to the queue is claimed by a rep: to_user is set then, handed_at stays.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The first response (accept or reject): the rep's response time.
    responded_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=HandoffOutcome.choices, blank=True)
    rejection_reason = models.CharField(max_length=20, choices=RejectionReason.choices, blank=True)
    note = models.TextField(blank=True)  # from whoever handed it over
    # A rejection, possibly after an acceptance: when, and the rep's note.
    rejected_at = models.DateTimeField(null=True, blank=True)
    response_note = models.TextField(blank=True)
    # The SLA is a contract at handoff time (SPEC §4): the response and first-contact
    # thresholds in force when this handoff was made (SLAPolicy.handoff_terms) judge its
    # flags and rates; a later policy change applies to later handoffs.
    response_minutes = models.PositiveIntegerField(null=True, blank=True)
    first_contact_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Routed by the assignment rules (sales.routing): the rule that matched, the team it
    # went through (whose queue holds the lead while to_user is empty), and the decision
    # as it was made: {"rule", "team", "fallback", "skipped": [{"user", "name", "reason",
    # "open", "max"}]}, names kept so the timeline still reads after a rename or delete.
    rule = models.ForeignKey(
        AssignmentRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoffs"
    )
    routing = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["handed_at", "id"]
        indexes = [
            # Lead timeline and "the pending handoff of a lead".
            models.Index(fields=["lead", "handed_at"], name="handoff_lead_time_idx"),
            # Sales scorecard: "handoffs received per rep in a period".
            models.Index(fields=["to_user", "handed_at"], name="handoff_rep_time_idx"),
            # Dashboard false rejections: "rejected handoffs of these (won) leads".
            models.Index(
                fields=["lead"],
                condition=Q(outcome=HandoffOutcome.REJECTED),
                name="handoff_rejected_lead_idx",
            ),
        ]

    def __str__(self):
        return f"Handoff of lead {self.lead_id} to {self.to_user or 'queue'}"


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    NOTE = "note", _("Note")


# Proof of contact (SPEC §2): a note never counts.
CONTACT_KINDS = (ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING)


class ActivityOutcome(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    VOICEMAIL = "voicemail", _("Left voicemail")
    NO_ANSWER = "no_answer", _("No answer")
    REPLIED = "replied", _("Replied")
    MEETING_HELD = "meeting_held", _("Meeting held")
    OBJECTION = "objection", _("Objection")


# An attempt whose outcome is a real conversation: the lead was reached (SPEC §3).
CONNECT_OUTCOMES = (
    ActivityOutcome.CONNECTED,
    ActivityOutcome.REPLIED,
    ActivityOutcome.MEETING_HELD,
    ActivityOutcome.OBJECTION,
)


class ObjectionTag(models.TextChoices):
    PRICE = "price", _("Price")
    TIMING = "timing", _("Timing")
    COMPETITOR = "competitor", _("Competitor")
    NO_NEED = "no_need", _("No need")
    AUTHORITY = "authority", _("Authority")
    OTHER = "other", _("Other")


class Activity(AppendOnly):
    """A sales follow-up: call, email, meeting or note. Append-only (SPEC §2), like the
    stage log: the model, its queryset, the admin and (on PostgreSQL) a trigger refuse to
    change or delete a row (sales 0005). A correction is a new activity whose ``corrects``
    points at the one it replaces; the lead's contact timestamps follow the activities
    nothing corrects (``live_q``)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.PROTECT, related_name="activities")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities"
    )
    kind = models.CharField(max_length=10, choices=ActivityKind.choices)
    outcome = models.CharField(max_length=20, choices=ActivityOutcome.choices, blank=True)
    notes = models.TextField(blank=True)
    # When the rep says it happened; never in the future nor before the lead's creation.
    occurred_at = models.DateTimeField()
    next_follow_up_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Server time of logging (proof of contact): nobody sets or edits it.
    logged_at = models.DateTimeField(default=timezone.now, editable=False)
    # Logged more than the policy's grace after occurred_at (decided when logged, by the
    # grace then in force): it counts at logged_at (counts_at).
    logged_late = models.BooleanField(default=False, editable=False)
    corrects = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="correction",
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            # Lead timeline: "activities of a lead in time order".
            models.Index(fields=["lead", "occurred_at"], name="activity_lead_time_idx"),
            # Sales scorecard: "follow-ups logged per rep in a period".
            models.Index(fields=["user", "occurred_at"], name="activity_user_time_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on lead {self.lead_id}"

    # --- when an activity counts (SPEC §3), defined here once -------------------------

    @staticmethod
    def is_late(*, occurred_at, logged_at, grace):
        """Logged more than ``grace`` (a timedelta) after it happened."""
        return logged_at - occurred_at > grace

    @property
    def counts_at(self):
        """The moment every SLA and dashboard number takes this activity at: when it
        happened, or when it was logged if that was late (``COUNTS_AT`` in SQL)."""
        return self.logged_at if self.logged_late else self.occurred_at

    @property
    def is_contact(self):
        return self.kind in CONTACT_KINDS

    @property
    def is_connect(self):
        return self.is_contact and self.outcome in CONNECT_OUTCOMES

    @property
    def objection_tags(self):
        return [o.tag for o in self.objections.all()]


# Activity.counts_at as a database expression.
COUNTS_AT = Case(When(logged_late=True, then=F("logged_at")), default=F("occurred_at"))


def summarise_contact(lead, rows):
    """Set ``lead``'s contact summary (SPEC §3) from ``rows`` of (kind, outcome, at) of its
    uncorrected activities, ordered by counts_at (``at``) then id: the first attempt, the
    first connect and the attempts before it, the latest contact and the latest activity.
    ``lead`` is any object with those attributes (the demo seeder passes a light one)."""
    lead.first_contact_at = lead.first_connect_at = lead.last_contact_at = None
    lead.last_activity_at = None
    lead.attempts_before_connect = 0
    for kind, outcome, at in rows:
        lead.last_activity_at = at
        if kind not in CONTACT_KINDS:
            continue
        lead.first_contact_at = lead.first_contact_at or at
        lead.last_contact_at = at
        if lead.first_connect_at is None:
            if outcome in CONNECT_OUTCOMES:
                lead.first_connect_at = at
            else:
                lead.attempts_before_connect += 1


def live_q(prefix=""):
    """The activities no correction replaced (``prefix`` "activity__" from objections):
    what the lead's contact timestamps, follow-ups and objections heard are made of."""
    return Q(**{f"{prefix}correction__isnull": True})


class Objection(models.Model):
    """One objection tag heard in one activity (lead denormalized for aggregation)."""

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="objections")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="objections")
    tag = models.CharField(max_length=20, choices=ObjectionTag.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["activity", "tag"], name="objection_once_per_activity")
        ]
        indexes = [
            # Dashboard "objections heard per campaign / rep": joined from the lead cohort.
            models.Index(fields=["lead", "tag"], name="objection_lead_tag_idx"),
        ]

    def __str__(self):
        return self.get_tag_display()


class DisputeRuling(models.TextChoices):
    UPHELD = "upheld", _("Rejection upheld")
    OVERTURNED = "overturned", _("Rejection overturned")


class Dispute(models.Model):
    """A marketer's challenge of a rejection, ruled on by a manager."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="disputes")
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="disputes")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="disputes_raised"
    )
    comment = models.TextField()
    raised_at = models.DateTimeField()
    ruling = models.CharField(max_length=10, choices=DisputeRuling.choices, blank=True)
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes_ruled",
    )
    ruled_at = models.DateTimeField(null=True, blank=True)
    ruling_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # At most one open dispute per lead.
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(ruled_at__isnull=True),
                name="dispute_one_open_per_lead",
            )
        ]
        indexes = [
            # Managers' queue of disputes awaiting a ruling.
            models.Index(
                fields=["raised_at"], condition=Q(ruled_at__isnull=True), name="dispute_open_idx"
            )
        ]

    def __str__(self):
        return f"Dispute of lead {self.lead_id}"

    def get_absolute_url(self):
        return reverse("sales:dispute_detail", args=[self.pk])

    @property
    def is_open(self):
        return self.ruled_at is None

    def concerns(self):
        """The people the dispute is about: who raised it and the rep who rejected."""
        return {self.raised_by, self.handoff.to_user}


# --- the rep's day: tasks, snoozes, the calendar feed --------------------------------


class TaskKind(models.TextChoices):
    CALL_BACK = "call_back", _("Call back")
    SEND_QUOTE = "send_quote", _("Send a quote")
    OTHER = "other", _("Other")


class TaskQuerySet(models.QuerySet):
    def for_user(self, user):
        """The tasks this user may open and complete: their own; a manager's, anyone's.
        Another rep's task is a 404, as a lead outside the scope is."""
        if roles.is_manager(user):
            return self.all()
        return self.filter(user=user)

    def open(self):
        return self.filter(completed_at__isnull=True)


class Task(models.Model):
    """Something a rep means to do on a lead at a time. Open until completed; shown in
    the rep's Today by its due time and in their calendar feed."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="tasks")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_tasks"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices)
    title = models.CharField(_("title"), max_length=200)
    due_at = models.DateTimeField(_("due"))
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The rep's Today and calendar feed: "my open tasks due in [a, b) by due time".
            models.Index(
                fields=["user", "due_at", "id"],
                condition=Q(completed_at__isnull=True),
                name="task_open_user_due_idx",
            ),
            models.Index(fields=["lead", "created_at"], name="task_lead_idx"),
        ]

    def __str__(self):
        return self.title


class Snooze(models.Model):
    """A follow-up put off: from when to when, by whom and why (on the lead's timeline)."""

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="snoozes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    was_due_at = models.DateTimeField()
    until = models.DateTimeField()
    reason = models.CharField(_("reason"), max_length=300)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"], name="snooze_lead_time_idx")]

    def __str__(self):
        return f"{self.lead_id} until {self.until:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A rep's secret iCalendar address. Only the token's SHA-256 is stored; revoking
    deletes the row, so the old address answers 404."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"calendar of {self.user_id}"
