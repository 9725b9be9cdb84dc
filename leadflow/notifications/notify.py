"""In-app notifications (the bell) and the emails that go with some of them."""

from dataclasses import dataclass

from django.utils import timezone, translation

from .. import precompiled, roles
from ..i18n import user_language
from ..jobs import enqueue
from ..models import Notification, NotificationSetting
from ..webhooks.chat import post_notification


@dataclass(frozen=True)
class Channels:
    in_app: bool = True
    email: bool = True


def channels(user, kind):
    """How ``user`` wants to hear about ``kind``: their NotificationSetting, or both
    channels when they never chose."""
    setting = NotificationSetting.objects.filter(user=user, kind=kind).first()
    return Channels() if setting is None else Channels(setting.in_app, setting.email)


def notify(*, user, kind, lead=None, actor=None, text="", url="", email=False, send_email=None):
    """Tell ``user`` about ``kind``, as their preferences for it allow (the one place they
    are read): in the app (the bell), and with ``email`` by e-mail too, queued through the
    outbox with the transaction (a rolled-back action never sends). ``send_email``, a
    function of the notification, sends that e-mail itself instead (the flag outbox sends
    inside its own transaction). With the app's channel on, it is posted to the user's Slack
    or Teams channels too, when they set any (leadflow/webhooks/chat.py), through the
    outbox. A lazy ``text`` (``gettext_lazy``,
    :func:`leadflow.i18n.lazy_text`) is written in the user's language.

    Returns the notification, or None when the user switched off every channel asked for.
    With the app switched off and the e-mail kept, the row exists for the e-mail only
    (``in_app`` False, already read)."""
    wanted = channels(user, kind)
    mail = bool(email and wanted.email and user.email)
    if not wanted.in_app and not mail:
        return None
    if not url and lead is not None:
        url = lead.get_absolute_url()
    if text:
        with translation.override(user_language(user)):
            text = str(text)
    notification = Notification.objects.create(
        user=user,
        kind=kind,
        lead=lead,
        actor=actor,
        text=text[:300],
        url=url,
        in_app=wanted.in_app,
        read_at=None if wanted.in_app else timezone.now(),
    )
    if mail:
        if send_email is not None:
            send_email(notification)
        else:
            enqueue("leadflow.tasks.send_notification_email", notification.pk)
    if wanted.in_app:
        post_notification(notification)
    return notification


def active_managers():
    return list(
        roles.active_managers()
        .select_related("profile")  # their language, for the emails
        .order_by("username")
    )


# The attribute with_manager_check puts on a row: whether any active manager existed then.
ANY_MANAGER = "any_active_manager"


def with_manager_check(queryset):
    """``queryset`` whose rows (campaigns) also say (ANY_MANAGER) whether any active
    manager existed when they were read, so :func:`campaign_people` of such a campaign
    without an active owner skips the managers' query when there is nobody to tell (the
    public intake reads its campaign anyway: one round trip less per post)."""
    return queryset.annotate(
        **{ANY_MANAGER: precompiled.exists(ANY_MANAGER, roles.active_managers)}
    )


def campaign_people(campaign):
    """Who hears about a campaign's leads: its owner while active, else every active
    manager, as for a marketing flag (SPEC §4)."""
    owner = campaign.owner if campaign is not None else None
    if owner is not None and owner.is_active:
        return [owner]
    if getattr(campaign, ANY_MANAGER, True) is False:
        return []
    return active_managers()
