"""In-app notifications (the bell) and the emails that go with some of them."""

from django.utils import translation

from ..i18n import user_language
from ..jobs import enqueue
from ..models import Notification
from ..webhooks.chat import post_notification


def notify(*, user, kind, lead=None, actor=None, text="", url="", email=False):
    """Create a notification for ``user``; with ``email``, mail it once the transaction
    commits (a rolled-back action never sends), and post it to the user's Slack or Teams
    channels when they set any (leadflow/webhooks/chat.py), through the outbox too. A
    lazy ``text`` (``gettext_lazy``, :func:`leadflow.i18n.lazy_text`) is written in the
    user's language."""
    if not url and lead is not None:
        url = lead.get_absolute_url()
    if text:
        with translation.override(user_language(user)):
            text = str(text)
    notification = Notification.objects.create(
        user=user, kind=kind, lead=lead, actor=actor, text=text[:300], url=url
    )
    if email and user.email:
        enqueue("leadflow.tasks.send_notification_email", notification.pk)
    post_notification(notification)
    return notification
