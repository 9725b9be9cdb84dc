from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    """Per-user settings that Django's User lacks: availability for round-robin."""

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

    def __str__(self):
        return f"Profile of {self.user}"


class NotificationKind(models.TextChoices):
    HANDED_TO_YOU = "handed_to_you", _("Lead handed to you")
    REASSIGNED = "reassigned", _("Lead reassigned")
    DISPUTE_RAISED = "dispute_raised", _("Rejection disputed")
    DISPUTE_RULED = "dispute_ruled", _("Dispute ruled")
    FLAG_RAISED = "flag_raised", _("Flag raised")
    IMPORT_DONE = "import_done", _("Import finished")


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
