import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
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


class Profile(models.Model):
    """Per-user settings that Django's User lacks: availability for round-robin and the
    interface language (pages after login, and the emails LeadFlow sends the user)."""

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
    TEAM_QUEUE = "team_queue", _("Lead waiting in your team queue")


class Notification(models.Model):
    """An in-app notification (the bell)."""

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
