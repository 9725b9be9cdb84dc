from celery import shared_task

from . import outbox
from .notifications.emails import send_invitation, send_notification, send_password_reset


@shared_task(ignore_result=False)
def ping():
    """Health check: a worker that answers "pong" is consuming the broker."""
    return "pong"


@shared_task
def beat_tick():
    """Beat sends this every BEAT_TICK_SECONDS; a worker records when it ran (the ``beat``
    Heartbeat), which /health/ reads (leadflow/health.py BeatTick). Expires after one
    interval, so ticks sent while no worker ran are dropped rather than replayed."""
    from .models import Heartbeat

    Heartbeat.record("beat")


@shared_task(bind=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def send_notification_email(self, notification_id):
    """Email one notification to its user (retried with backoff if the mail server fails)."""
    try:
        send_notification(notification_id)
    except OSError as exc:
        raise self.retry(exc=exc) from exc


@shared_task(bind=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def send_invitation_email(self, invitation_id):
    """Email a manager's invitation (retried with backoff if the mail server fails)."""
    try:
        send_invitation(invitation_id)
    except OSError as exc:
        raise self.retry(exc=exc) from exc


@shared_task(bind=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def send_password_reset_email(self, user_id):
    """Email a password reset link (retried with backoff if the mail server fails)."""
    try:
        send_password_reset(user_id)
    except OSError as exc:
        raise self.retry(exc=exc) from exc


@shared_task
def relay_outbox():
    """Publish the outbox messages that are due (leadflow.outbox.relay), batch after batch,
    and prune what finished a week ago (webhook deliveries: a month ago)."""
    from .webhooks.delivery import prune as prune_deliveries

    outbox.prune()
    prune_deliveries()
    total = 0
    while (published := outbox.relay()) >= outbox.RELAY_BATCH:
        total += published
    return total + published


@shared_task
def deliver_webhook(delivery_id, attempt):
    """One attempt of a webhook or chat delivery (leadflow.webhooks.delivery.attempt): it
    records its outcome and writes the next attempt to the outbox itself, so the task
    never raises for a receiver's failure."""
    from .webhooks.delivery import attempt as run_attempt

    run_attempt(delivery_id, attempt)
