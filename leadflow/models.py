import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _refuse_change(model):
    raise TypeError(f"{str(model._meta.verbose_name_plural).capitalize()} are append-only.")


class AppendOnlyQuerySet(models.QuerySet):
    """Rows of an AppendOnly model are never updated or deleted in bulk either."""

    def update(self, **kwargs):
        _refuse_change(self.model)

    def delete(self):
        _refuse_change(self.model)


class AppendOnly(models.Model):
    """A row written once and never again (SPEC §2: the stage log, the activities). The
    model and its queryset refuse a change here; the admin and a PostgreSQL trigger per
    table refuse it too."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            _refuse_change(type(self))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _refuse_change(type(self))


class ChatChannels(models.Model):
    """Slack and Microsoft Teams incoming-webhook addresses that notifications are also
    posted to (leadflow/webhooks/chat.py). A person's profile has them; a team can too."""

    slack_webhook_url = models.URLField(
        _("Slack incoming-webhook URL"),
        max_length=500,
        blank=True,
        help_text=_("Notifications are also posted to this Slack channel."),
    )
    teams_webhook_url = models.URLField(
        _("Microsoft Teams incoming-webhook URL"),
        max_length=500,
        blank=True,
        help_text=_("Notifications are also posted to this Teams channel."),
    )

    class Meta:
        abstract = True


class Profile(ChatChannels):
    """Per-user settings that Django's User lacks: availability for round-robin, the
    interface language (pages after login, and the emails LeadFlow sends the user) and
    the chat channels their notifications are also posted to."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="profile",
    )
    is_available = models.BooleanField(
        _("available for new leads"),
        default=True,
        help_text=_("Unavailable reps (on leave) are skipped by round-robin handoff."),
    )
    # Round-robin hands the next lead to the available rep assigned longest ago.
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # The assignment rules skip a rep who holds this many open leads (with sales).
    max_open_leads = models.PositiveIntegerField(
        _("maximum open leads"),
        null=True,
        blank=True,
        help_text=_(
            "The assignment rules skip this rep at this many open leads; empty: no limit."
        ),
    )
    # Empty: never chosen; pages follow the browser and emails the site's default.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Language of the pages and of the emails LeadFlow sends you."),
    )

    def __str__(self):
        return f"Profile of {self.user}"


class NotificationKind(models.TextChoices):
    HANDED_TO_YOU = "handed_to_you", _("Lead handed to you")
    REASSIGNED = "reassigned", _("Lead reassigned")
    DISPUTE_RAISED = "dispute_raised", _("Rejection disputed")
    DISPUTE_RULED = "dispute_ruled", _("Dispute ruled")
    FLAG_RAISED = "flag_raised", _("Flag raised")
    IMPORT_DONE = "import_done", _("Import finished")
    LEAD_REJECTED = "lead_rejected", _("Sales rejected a lead")
    NEW_HAND_RAISER = "new_hand_raiser", _("New hand-raiser from a web form")
    TEAM_QUEUE = "team_queue", _("Lead waiting in your team queue")


# The kinds LeadFlow also e-mails (to some recipients at least); the others are in-app
# only, so the profile page offers no e-mail switch for them.
EMAILED_KINDS = frozenset(
    {
        NotificationKind.HANDED_TO_YOU,
        NotificationKind.REASSIGNED,
        NotificationKind.DISPUTE_RULED,
        NotificationKind.FLAG_RAISED,
        NotificationKind.LEAD_REJECTED,
        NotificationKind.NEW_HAND_RAISER,
        NotificationKind.TEAM_QUEUE,
    }
)


class NotificationSetting(models.Model):
    """A person's choice for one kind of notification: in the app, by e-mail, both or
    neither. No row means both are on (leadflow.notifications.notify)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    in_app = models.BooleanField(_("in the app"), default=True)
    email = models.BooleanField(_("by e-mail"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_setting_unique")
        ]

    def __str__(self):
        return f"{self.kind} for {self.user}"


class Notification(models.Model):
    """An in-app notification (the bell). A person who switched the app off for its kind
    but kept e-mail gets a row with ``in_app`` False: the e-mail is rendered from it, and
    the bell and the list leave it out."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    text = models.CharField(max_length=300, blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    in_app = models.BooleanField(default=True, db_default=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The bell's count: "unread notifications of a user".
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notif_unread_idx"
            ),
            # The notification list: "a user's notifications, newest first".
            models.Index(fields=["user", "created_at"], name="notif_user_time_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.user}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token (``Authorization: Token <token>``).

    Only the SHA-256 digest of the token is stored; the token itself is shown once, when
    it is created. The short prefix is not secret: it lets a user tell tokens apart.
    """

    # "lf_" marks a LeadFlow token in logs and secret scanners.
    SCHEME = "lf_"
    PREFIX_LENGTH = 11

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [
            # The profile page: "a user's tokens, newest first".
            models.Index(fields=["user", "created_at"], name="apitoken_user_time_idx"),
        ]

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def digest_of(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_active(self):
        return self.revoked_at is None


class BackgroundJob(models.Model):
    """What a long job (an import, a deadline recompute) records so it cannot get stuck
    (leadflow/jobs.py): the run that holds it (``run_token``), its last sign of progress
    (``heartbeat_at``), and when the watchdog found it without one (``stalled_at``)."""

    run_token = models.UUIDField(null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stalled_at = models.DateTimeField(null=True, blank=True)
    stalls = models.PositiveSmallIntegerField(default=0)  # in a row, without progress

    class Meta:
        abstract = True


class OutboxMessage(models.Model):
    """A side effect (a Celery task: an e-mail, an import, a recompute) written in the same
    transaction as the change that causes it (leadflow/outbox.py). The relay publishes it;
    the worker that runs it holds a lease and marks it done, so a message lost by the
    broker, or a worker killed mid-run, is published again once its lease runs out."""

    id = models.UUIDField(primary_key=True, editable=False)  # also the Celery task id
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    # When the relay should publish it (again) if no worker has finished it by then.
    due_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    publish_count = models.PositiveIntegerField(default=0)
    # A worker runs it until this time; after it, the run is presumed dead.
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # runs started
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)  # gave up: shown to managers
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # The relay's query and the backlog count: "pending messages, oldest due first".
            models.Index(
                fields=["due_at"],
                condition=Q(done_at__isnull=True, failed_at__isnull=True),
                name="outbox_pending_idx",
            ),
            # The relay's pruning: "messages done before the cut-off".
            models.Index(
                fields=["done_at"], condition=Q(done_at__isnull=False), name="outbox_done_idx"
            ),
            # The jobs page: "messages that gave up, newest first".
            models.Index(
                fields=["failed_at"],
                condition=Q(failed_at__isnull=False),
                name="outbox_failed_idx",
            ),
        ]

    def __str__(self):
        return f"{self.task} {self.id}"

    @property
    def state(self):
        if self.done_at:
            return "done"
        if self.failed_at:
            return "failed"
        return "pending"


class Heartbeat(models.Model):
    """The last time a periodic job said it ran: one row per job, updated in place.

    ``beat`` is written by :func:`leadflow.tasks.beat_tick`, which beat sends every
    BEAT_TICK_SECONDS and a worker runs, so a fresh row means beat, the broker and a worker
    all work; the health check ``leadflow.health.BeatTick`` reads it by primary key. A row
    in the database rather than a cache key: the default cache (locmem) is per process,
    so the web process would never see a worker's tick, and a Redis cache may evict it or
    lose it on a restart; every process of the stack shares the database.
    """

    name = models.CharField(max_length=50, primary_key=True)
    at = models.DateTimeField()
    # The first beat ever recorded: until the first sweep, it says how long one is overdue.
    since = models.DateTimeField()

    def __str__(self):
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(cls, name, at=None):
        """Stamp ``name`` with ``at`` (now): one upsert, the first one also sets ``since``."""
        at = at or timezone.now()
        beat, _ = cls.objects.update_or_create(
            name=name, defaults={"at": at}, create_defaults={"at": at, "since": at}
        )
        return beat


class InvitationQuerySet(models.QuerySet):
    def pending(self):
        """Neither accepted nor revoked (it may have expired: see ``Invitation.state``)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """A manager's invitation of a new user by e-mail, with the role they will have.

    The link carries a token signed with SECRET_KEY over the invitation's id and ``nonce``
    (``leadflow.services.invitation_token``), so nothing secret is stored: a re-send draws
    a new nonce, which kills the old link; acceptance and revocation end it for good, and
    ``expires_at`` bounds it in time."""

    ROLE_CHOICES = [
        ("marketing", _("Marketing")),
        ("sales", _("Sales")),
        ("manager", _("Manager")),
    ]  # the keys of leadflow.roles.ROLE_GROUPS

    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=10, choices=ROLE_CHOICES)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    nonce = models.CharField(max_length=32)
    accepted_at = models.DateTimeField(null=True, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitation",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            # One open invitation per address: a second invite would send two valid links.
            models.UniqueConstraint(
                models.functions.Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_pending_email_unique",
            ),
        ]

    def __str__(self):
        return f"Invitation of {self.email} ({self.role})"

    @property
    def state(self):
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class WebhookEvent(models.TextChoices):
    """What an outgoing webhook can subscribe to (README "Webhooks")."""

    LEAD_CREATED = "lead.created", _("Lead created")
    LEAD_HANDED_OFF = "lead.handed_off", _("Lead handed off to sales")
    LEAD_ACCEPTED = "lead.accepted", _("Lead accepted")
    LEAD_REJECTED = "lead.rejected", _("Lead rejected")
    LEAD_WON = "lead.won", _("Lead won")
    LEAD_LOST = "lead.lost", _("Lead lost")
    FLAG_RAISED = "flag.raised", _("Flag raised")


# The manager's "send a test event": never subscribed to, sent to one endpoint on request.
TEST_EVENT = "webhook.test"


class WebhookEndpoint(models.Model):
    """An integration's receiver: LeadFlow POSTs the events it subscribed to, signed with
    its secret (leadflow/webhooks/). The secret is kept as it is, since signing needs it;
    pages and the API show it only in the answer that created or rotated it."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    secret = models.CharField(max_length=100, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self):
        return self.description or self.url

    def get_absolute_url(self):
        return reverse("webhooks:detail", args=[self.pk])

    @property
    def secret_hint(self):
        """Enough of the secret to tell which one a receiver holds, not enough to sign."""
        return f"{self.secret[:10]}…" if self.secret else ""

    def wants(self, event_type):
        return self.is_active and event_type in self.events


class DeliveryChannel(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("gave up")


class WebhookDelivery(models.Model):
    """One event for one receiver: an endpoint's signed event, or a notification posted to
    a Slack or Teams channel. Each attempt is a run of an outbox message; a failed one that
    may succeed later (a network error, 5xx, 429) schedules the next with exponential
    backoff, up to WEBHOOK_MAX_ATTEMPTS (leadflow/webhooks/delivery.py)."""

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    # A chat channel's address as it was when the notification was written; an endpoint's
    # is read from the endpoint at each attempt.
    url = models.URLField(max_length=500, blank=True)
    # The stable id receivers deduplicate by: the same in every attempt.
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=30)
    payload = models.JSONField()
    created_at = models.DateTimeField()
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # An attempt in flight holds the delivery until then, so two runs never send at once.
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            # Each event reaches each endpoint once (a retry is the same row).
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=Q(endpoint__isnull=False),
                name="delivery_one_per_endpoint_event",
            ),
        ]
        indexes = [
            # The delivery log: "an endpoint's deliveries, newest first".
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_time_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id} to {self.endpoint or self.channel}"
