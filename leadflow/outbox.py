"""The transactional outbox: every side effect leaves with the change that causes it.

A service calls :func:`leadflow.jobs.enqueue`, which writes an :class:`OutboxMessage` in the
service's transaction. When that transaction commits, the message is published to Celery
at once (with a short timeout, so a hung broker never holds up a request); if that fails,
the relay (:func:`relay`, on the beat schedule) publishes it later. The worker that runs a
message takes a lease on it (:func:`claim`) and marks it done when the task returns
(:func:`finish`): nothing is marked done before it was done. A message whose lease ran out,
or that was published but never picked up, is published again, so a broker that lost its
queue or a worker killed mid-run loses nothing. A duplicate delivery finds the message
leased or done and is skipped.

Why not a package: django-celery-outbox and its kin publish from the outbox but leave the
run itself untracked (a message is "sent" once the broker has it), which is what lost
work here; the lease needs the worker's side too, and the model is small.
"""

import contextlib
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

from celery import current_app
from celery.exceptions import NotRegistered
from django.conf import settings
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from .models import OutboxMessage
from .pause import Pause

log = logging.getLogger(__name__)

# A lost database connection (PostgreSQL restarted, a network cut): worth retrying.
DB_OUTAGE = (OperationalError, InterfaceError)

# The message header that marks a task published from the outbox (leadflow.celery).
HEADER = "leadflow_outbox"

# Runs held by this process (thread-safe): an eager retry re-enters its own lease.
_held = threading.local()


def lookup(name):
    """The registered Celery task ``name``. A web process has not imported the apps' task
    modules yet (only a worker does at start), so the first lookup imports them."""
    try:
        return current_app.tasks[name]
    except NotRegistered:
        current_app.loader.import_default_modules()
        return current_app.tasks[name]


def _seconds(name):
    return timedelta(seconds=getattr(settings, name))


def write(name, args=(), kwargs=None, *, due_at=None):
    """Record the task ``name`` in the current transaction and publish it once that
    commits (at once outside one). With ``due_at`` in the future the relay publishes it
    then instead: a durable delay (a webhook's next attempt) that no broker or worker
    holds meanwhile. An unknown name fails here, in the service."""
    lookup(name)
    now = timezone.now()
    message = OutboxMessage.objects.create(
        id=uuid.uuid4(),
        task=name,
        args=list(args),
        kwargs=dict(kwargs or {}),
        created_at=now,
        due_at=max(due_at or now, now),
    )
    if message.due_at <= now:
        transaction.on_commit(lambda: publish_soon(message))
    return message


def write_many(name, args_list):
    """:func:`write` for many runs of one task at once (one INSERT), published together
    once the transaction commits: the CSV import's batch of webhook deliveries."""
    lookup(name)
    now = timezone.now()
    messages = OutboxMessage.objects.bulk_create(
        OutboxMessage(
            id=uuid.uuid4(), task=name, args=list(args), kwargs={}, created_at=now, due_at=now
        )
        for args in args_list
    )
    transaction.on_commit(lambda: [publish_soon(message) for message in messages])
    return messages


# --- publishing -------------------------------------------------------------------------

# After a failed publish this process leaves publishing to the relay for a while.
broker_pause = Pause()


def publish_soon(message):
    """The commit hook: publish now unless the broker failed moments ago in this process
    (then the relay does it), and never let a broker failure reach the user's request."""
    eager = current_app.conf.task_always_eager
    if not eager and broker_pause.active:
        return False
    try:
        return publish(message)
    except Exception:
        if eager:
            raise
        broker_pause.start(settings.OUTBOX_BROKER_BACKOFF_SECONDS)
        log.warning(
            "outbox %s (%s): publishing failed; the relay retries", message.pk, message.task
        )
        return False


def publish(message):
    """Hand one message to the broker, then push its due time back: if no worker has
    finished it by then (lost by the broker, never picked up), the relay publishes it
    again, each time a little later. Raises when the broker does not take it."""
    now = timezone.now()
    try:
        lookup(message.task).apply_async(
            args=message.args,
            kwargs=message.kwargs,
            task_id=str(message.pk),
            headers={HEADER: "1"},  # tells the worker to take the message's lease
            retry=False,  # a short timeout, no retry loop: the relay is the retry
        )
    except Exception as exc:
        OutboxMessage.objects.filter(pk=message.pk, done_at=None).update(
            due_at=now + _seconds("OUTBOX_BROKER_BACKOFF_SECONDS"), last_error=str(exc)[:2000]
        )
        raise
    # publish_count (before this one) doubles the wait: 5 min, 10, 20, ... at most a day.
    wait = _seconds("OUTBOX_REPUBLISH_SECONDS") * 2 ** min(message.publish_count, 8)
    OutboxMessage.objects.filter(pk=message.pk, done_at=None).update(
        published_at=now,
        publish_count=F("publish_count") + 1,
        due_at=now + min(wait, timedelta(days=1)),
    )
    return True


def pending():
    """Messages no worker has finished yet (the relay's and the jobs page's)."""
    return OutboxMessage.objects.filter(done_at=None, failed_at=None)


def unleased(now):
    """No live run holds the message: never leased, or its lease ran out before ``now``."""
    return Q(lease_until=None) | Q(lease_until__lt=now)


def waiting(now=None):
    """Pending messages no live run holds: the relay's to publish, /health/'s to watch."""
    return pending().filter(unleased(now or timezone.now()))


def backlog(now=None):
    """The jobs page's figures, in one query: what waits, what never reached the broker,
    the oldest waiting, and what gave up."""
    now = now or timezone.now()
    waiting = Q(done_at=None, failed_at=None)
    return OutboxMessage.objects.filter(Q(waiting) | Q(failed_at__isnull=False)).aggregate(
        pending=Count("pk", filter=waiting),
        unpublished=Count("pk", filter=waiting & Q(published_at=None)),
        running=Count("pk", filter=waiting & Q(lease_until__gt=now)),
        oldest=Min("created_at", filter=waiting),
        failed=Count("pk", filter=Q(failed_at__isnull=False)),
    )


RELAY_BATCH = 500  # messages per relay pass, under one transaction's row locks


def relay(*, limit=RELAY_BATCH, now=None):
    """Publish the messages that are due: never published (the broker was down), or
    published but not finished in time, and not leased by a live run. Stops at the first
    broker failure (the rest wait for the next pass). Returns how many were published."""
    now = now or timezone.now()
    published = 0
    with transaction.atomic():
        due = list(
            waiting(now)
            .filter(due_at__lte=now)
            .order_by("due_at")
            .select_for_update(skip_locked=True)[:limit]
        )
        for message in due:
            try:
                publish(message)
            except Exception as exc:
                log.warning("outbox relay: broker unavailable (%s); %s wait", exc, len(due))
                break
            published += 1
    return published


# Done messages are kept this long (what ran, when, how often), then pruned by the relay.
KEEP_DONE = timedelta(days=7)


def prune(*, limit=5000, now=None):
    """Delete up to ``limit`` messages finished more than KEEP_DONE ago; returns how many."""
    cutoff = (now or timezone.now()) - KEEP_DONE
    ids = list(
        OutboxMessage.objects.filter(done_at__lt=cutoff).values_list("pk", flat=True)[:limit]
    )
    return OutboxMessage.objects.filter(pk__in=ids).delete()[0] if ids else 0


# --- running: the worker's lease ----------------------------------------------------------


class Claim:
    RUN = "run"  # this run holds the lease
    SKIP = "skip"  # done, given up, or leased by another run: a duplicate delivery
    UNTRACKED = "untracked"  # not from the outbox (beat's periodic tasks)


def claim(message_id, *, lease_seconds=None, now=None):
    """Take the lease on the message for one run. The conditional UPDATE is the proof:
    only one run at a time can hold an unexpired lease."""
    if message_id in _held_ids():
        return Claim.RUN  # an eager retry inside its own run
    now = now or timezone.now()
    lease = timedelta(seconds=lease_seconds or settings.OUTBOX_LEASE_SECONDS)
    try:
        key = uuid.UUID(str(message_id))
    except ValueError:
        return Claim.UNTRACKED
    taken = (
        OutboxMessage.objects.filter(pk=key, done_at=None, failed_at=None)
        .filter(unleased(now))
        .update(lease_until=now + lease, attempts=F("attempts") + 1)
    )
    if taken:
        _held_ids().add(message_id)
        return Claim.RUN
    if OutboxMessage.objects.filter(pk=key).exists():
        return Claim.SKIP
    return Claim.UNTRACKED


def _held_ids():
    if not hasattr(_held, "ids"):
        _held.ids = set()
    return _held.ids


def finish(message_id):
    """The run succeeded: the message is done (retried through a short database outage)."""
    _held_ids().discard(message_id)
    retry_through_outage(
        lambda: OutboxMessage.objects.filter(pk=message_id, done_at=None).update(
            done_at=timezone.now(), lease_until=None
        )
    )


def release(message_id, *, retry_at=None, error=""):
    """The run stopped without finishing (a Celery retry, a database outage): free the
    lease, and let the relay publish it again after ``retry_at`` if nothing else did."""
    _held_ids().discard(message_id)
    now = timezone.now()
    retry_at = retry_at or now
    retry_through_outage(
        lambda: OutboxMessage.objects.filter(pk=message_id, done_at=None).update(
            lease_until=None,
            due_at=retry_at + _seconds("OUTBOX_REPUBLISH_SECONDS"),
            last_error=str(error)[:2000],
        )
    )


def fail(message_id, error):
    """The run failed for good (retries exhausted, a bug): stop publishing it, keep the
    error for the managers' jobs page."""
    _held_ids().discard(message_id)
    retry_through_outage(
        lambda: OutboxMessage.objects.filter(pk=message_id, done_at=None).update(
            failed_at=timezone.now(), lease_until=None, last_error=str(error)[:2000]
        )
    )


def retry_later(message_id):
    """Put a message that gave up back in the queue (a manager's Retry)."""
    return OutboxMessage.objects.filter(
        pk=message_id, done_at=None, failed_at__isnull=False
    ).update(failed_at=None, lease_until=None, due_at=timezone.now(), publish_count=0)


def retry_at_of(exc):
    """When a Celery ``Retry`` will run again (its ``when``: seconds or a datetime)."""
    when = getattr(exc, "when", None)
    if isinstance(when, datetime):
        return when
    if isinstance(when, int | float):
        return timezone.now() + timedelta(seconds=when)
    return timezone.now()


def retry_through_outage(write_fn, *, attempts=None, first_wait=0.5):
    """Run a small write, retrying through a short database outage (a PostgreSQL restart
    takes a few seconds): each failed try drops the broken connection and waits twice as
    long, about half a minute in all. Raises after the last try."""
    attempts = attempts or settings.DB_OUTAGE_RETRIES
    wait = first_wait
    for attempt in range(attempts):
        try:
            return write_fn()
        except DB_OUTAGE:
            if attempt == attempts - 1 or connection.in_atomic_block:
                raise
            log.warning("database unavailable; retrying in %.1f s", wait)
            _drop_connection()
            time.sleep(wait)
            wait = min(wait * 2, 8)
    return None


def _drop_connection():
    with contextlib.suppress(DB_OUTAGE):
        connection.close()
    close_old_connections()
