"""Celery tasks of the leads app: thin wrappers around leads.sweep and leads.sla.calendar.

The beat schedule (leadflow/settings.py) runs ``sweep`` every SWEEP_INTERVAL_SECONDS and
``flag_digest`` daily; ``drain_flag_outbox`` follows every sweep; ``recompute_deadlines``
is enqueued by the SLA page's services when a change commits.
"""

import contextlib
import random

from celery import shared_task
from django.db import OperationalError
from django.utils import translation

from leadflow.jobs import enqueue
from leadflow.outbox import DB_OUTAGE

from .bulk import services as bulk
from .imports import services as imports
from .sla import calendar as sla
from .sweep import digest, outbox
from .sweep import flags as sweeping

OUTBOX_BATCH = 200
# Drain at most this many batches per task run, then hand over to a fresh task, so one
# huge outbox does not hold a worker for long.
OUTBOX_BATCHES_PER_RUN = 10


# Below the Redis visibility timeout (900 s): a task waiting out a longer countdown would
# be delivered a second time, and a periodic task (not in the outbox) would then run twice.
def _backoff(retries, base=30, cap=600):
    return min(cap, base * 2**retries) + random.uniform(0, base)


def _retry(task, exc=None, base=30):
    """The task's Retry, with exponential backoff and jitter (raise it)."""
    return task.retry(exc=exc, countdown=_backoff(task.request.retries, base=base))


@shared_task(bind=True, max_retries=3, ignore_result=True)
def sweep(self):
    """Raise and resolve flags (leads.sweep.flags.sweep_flags), then drain the notification
    outbox. Returns the counts per kind."""
    try:
        result = sweeping.sweep_flags()
    except OperationalError as exc:  # e.g. a deadlock with a concurrent sweep
        raise _retry(self, exc, base=5) from exc
    enqueue("leads.tasks.drain_flag_outbox")
    return {"raised": dict(+result.raised), "resolved": dict(+result.resolved)}


@shared_task(bind=True, max_retries=8, ignore_result=True)
def drain_flag_outbox(self):
    """Notify the people responsible for raised flags (leads.sweep.outbox.drain_flag_outbox).

    A failed send leaves its flags in the outbox and retries this task with exponential
    backoff (30 s up to ten minutes); after the last retry they still wait in the outbox for
    the drain that follows the next sweep, so no flag is lost."""
    for _ in range(OUTBOX_BATCHES_PER_RUN):
        result = outbox.drain_flag_outbox(batch_size=OUTBOX_BATCH)
        if result.failed:
            if self.request.retries >= self.max_retries:
                return
            raise _retry(self)
        if not result.more:
            return
    enqueue("leads.tasks.drain_flag_outbox")


@shared_task(bind=True, max_retries=5, ignore_result=True)
def flag_digest(self):
    """Mail the managers' daily digest of flags (leads.sweep.digest.flag_digest)."""
    try:
        _digest, sent = digest.flag_digest()
    except outbox.SEND_ERRORS as exc:
        raise _retry(self, exc) from exc
    return sent


@shared_task(bind=True, max_retries=5, ignore_result=True)
def recompute_deadlines(self, job_id):
    """Recompute stored deadlines for one DeadlineRecompute
    (leads.sla.calendar.deadlines_recompute), then sweep so flags follow the new deadlines
    at once."""
    try:
        job = sla.deadlines_recompute(job_id)
    except OperationalError as exc:
        raise _retry(self, exc, base=5) from exc
    if job is not None and job.finished_at is not None and not job.superseded:
        enqueue("leads.tasks.sweep")


def _in_language(language):
    """The uploader's language (from the request that queued the task) for the row reasons,
    the error and the notification the import writes."""
    return translation.override(language) if language else contextlib.nullcontext()


# Imports hold their job (run_token, heartbeat) and resume from their last committed
# batch, so their outbox lease may be long: a duplicate delivery meanwhile is skipped by
# the job's own claim anyway, and the watchdog resumes a run that died.
IMPORT_LEASE_SECONDS = 3600


@shared_task(bind=True, max_retries=10, lease_seconds=IMPORT_LEASE_SECONDS)
def validate_import(self, job_id, language=None):
    """Check every row of an uploaded CSV (progress saved on the job)."""
    try:
        with _in_language(language):
            imports.import_validate(job_id)
    except DB_OUTAGE as exc:
        raise _retry(self, exc, base=5) from exc


@shared_task(bind=True, max_retries=10, lease_seconds=IMPORT_LEASE_SECONDS)
def run_import(self, job_id, language=None):
    """Import the confirmed rows batch by batch; a redelivered task resumes where it
    stopped, and a lost database connection retries with backoff."""
    try:
        with _in_language(language):
            imports.import_run(job_id)
    except DB_OUTAGE as exc:
        raise _retry(self, exc, base=5) from exc


@shared_task(bind=True, max_retries=10, lease_seconds=IMPORT_LEASE_SECONDS)
def run_bulk_job(self, job_id, language=None):
    """Work off a bulk action's leads one by one (leads.bulk.services.bulk_job_run); a
    redelivered task resumes with the leads still pending."""
    try:
        with _in_language(language):
            bulk.bulk_job_run(job_id)
    except DB_OUTAGE as exc:
        raise _retry(self, exc, base=5) from exc


@shared_task
def watch_jobs():
    """Resume the imports, deadline recomputes and bulk actions that stalled
    (leadflow/jobs.py)."""
    return {
        "imports": len(imports.import_watchdog()),
        "recomputes": len(sla.recompute_watchdog()),
        "bulk": len(bulk.bulk_watchdog()),
    }


@shared_task
def refresh_dashboard_stats(full=False):
    """Bring the dashboard's pre-aggregated statistics up to date (or rebuild them all)."""
    from .reporting import stats

    if full:
        stats.rebuild()
    else:
        stats.refresh()


@shared_task
def joint_sla_monthly():
    """On the first of the month: queue last month's joint SLA scorecard for both teams
    (leads.reporting.services.scorecard_mail; once per month however often it runs)."""
    from .reporting import services as reporting

    return reporting.scorecard_mail()


@shared_task(bind=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def send_joint_sla_scorecard(self, user_id, month):
    """E-mail one person a month's joint SLA scorecard (retried if the mail server fails)."""
    from .reporting import services as reporting

    try:
        reporting.scorecard_send(user_id, month)
    except OSError as exc:
        raise self.retry(exc=exc) from exc
