"""Celery tasks of the campaigns app: thin wrappers, enqueued through the outbox."""

from celery import shared_task


@shared_task(bind=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def send_auto_response(self, lead_id, language):
    """Send a new web-form lead its campaign's auto-response (campaigns.auto_response),
    retried with backoff when the mail server fails."""
    from .auto_response import auto_response_send

    try:
        auto_response_send(lead_id=lead_id, language=language)
    except OSError as exc:
        raise self.retry(exc=exc) from exc
