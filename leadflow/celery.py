import os

from celery import Celery, Task
from celery.exceptions import Retry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")


class OutboxTask(Task):
    """Every LeadFlow task: a run of an outbox message (leadflow/outbox.py) holds its lease
    and marks it done on return, so a duplicate delivery is skipped and a run that died is
    published again. A task with its own heartbeat may set a longer ``lease_seconds``.
    Periodic tasks from beat are not in the outbox and just run."""

    lease_seconds = None  # settings.OUTBOX_LEASE_SECONDS

    def __call__(self, *args, **kwargs):
        # Imported here: the app (and this class) exists before Django's models are ready.
        from leadflow import outbox

        message_id = self.request.id
        from_outbox = message_id and (self.request.headers or {}).get(outbox.HEADER)
        state = outbox.claim(message_id, lease_seconds=self.lease_seconds) if from_outbox else None
        if state == outbox.Claim.SKIP:
            return None
        if state != outbox.Claim.RUN:
            return super().__call__(*args, **kwargs)
        try:
            result = super().__call__(*args, **kwargs)
        except Retry as exc:
            outbox.release(message_id, retry_at=outbox.retry_at_of(exc), error=exc.exc or "")
            raise
        except outbox.DB_OUTAGE as exc:
            # The database went away mid-run: not the task's fault, so not "failed";
            # the relay publishes it again once the database (and the lease) allows.
            outbox.release(message_id, error=exc)
            raise
        except Exception as exc:
            outbox.fail(message_id, f"{type(exc).__name__}: {exc}")
            raise
        outbox.finish(message_id)
        return result


app = Celery("leadflow", task_cls=OutboxTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _guard_redis_channels(sender, **kwargs):
    # The worker's crash when Redis goes away during a task (leadflow/broker.py).
    from django.conf import settings

    from . import broker

    if settings.REDIS_CHANNEL_GUARD:
        broker.guard_released_channels()
