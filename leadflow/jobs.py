"""Queueing background work. Services name the task instead of importing it, so the task
modules (which import the services inside their bodies) sit above the services and no
import runs both ways. Every task goes through the outbox (leadflow/outbox.py)."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from . import outbox
from .i18n import user_language

task = outbox.lookup


def enqueue(name, *args, **kwargs):
    """Queue the Celery task registered as ``name`` with the current transaction: it is
    written to the outbox now and published once the transaction commits, so a worker
    never sees a row that was rolled back, and a broker that is down loses nothing. An
    unknown name fails here, in the service, not later in the commit hook."""
    return outbox.write(name, args, kwargs)


def enqueue_many(name, args_list):
    """:func:`enqueue` of one task for each argument tuple in ``args_list``, in one INSERT."""
    return outbox.write_many(name, args_list)


def enqueue_at(when, name, *args, **kwargs):
    """Like :func:`enqueue`, but the task runs at ``when`` (the relay publishes it then,
    within OUTBOX_RELAY_SECONDS)."""
    return outbox.write(name, args, kwargs, due_at=when)


# --- long jobs that cannot get stuck (models extending leadflow.models.BackgroundJob) ----

# A job stalled this many times in a row without progress has failed, not stalled.
MAX_STALLS = 3


def reader_language(job):
    """The language a job the watchdog resumes or fails writes in (its row reasons, its
    error, its notification), where no request says which: its creator's chosen one, else
    the site's (``leadflow.i18n.user_language``), as LeadFlow writes to them elsewhere.
    One query: the creator with their profile."""
    creator = (
        get_user_model().objects.select_related("profile").filter(pk=job.created_by_id).first()
        if job.created_by_id
        else None
    )
    return user_language(creator) if creator is not None else settings.LANGUAGE_CODE


def stall_cutoff(now=None):
    return (now or timezone.now()) - timedelta(seconds=settings.JOB_STALL_SECONDS)


def is_stalled(job, now=None):
    """No progress for JOB_STALL_SECONDS (or the watchdog already said so): one rule for
    the watchdog, the claim, the pages and Retry."""
    if job.stalled_at is not None:
        return True
    return job.heartbeat_at is None or job.heartbeat_at < stall_cutoff(now)


def stalled_q(now=None):
    return (
        Q(stalled_at__isnull=False)
        | Q(heartbeat_at__isnull=True)
        | Q(heartbeat_at__lt=stall_cutoff(now))
    )


def queued(**fields):
    """The fields that (re)queue a job: no run holds it, and its clock starts now."""
    return {"run_token": None, "heartbeat_at": timezone.now(), "stalled_at": None, **fields}


def claim_run(queryset, pk, **fields):
    """Take job ``pk`` (in ``queryset``: the states a run may start from) for this run,
    setting ``fields`` in the same UPDATE; returns the run's token, or None when a live
    run holds it. A job nobody holds, or one that is stalled, can be taken; a later
    heartbeat of the run it was taken from fails."""
    token = uuid.uuid4()
    taken = (
        queryset.filter(pk=pk)
        .filter(Q(run_token__isnull=True) | stalled_q())
        .update(run_token=token, heartbeat_at=timezone.now(), stalled_at=None, **fields)
    )
    return token if taken else None


def progressed():
    """The fields a batch done writes: a fresh heartbeat, no stall, none in a row."""
    return {"heartbeat_at": timezone.now(), "stalled_at": None, "stalls": 0}


def heartbeat(queryset, pk, token, **progress):
    """Record progress of the run holding ``token``; False when another run took the job
    over (the caller then stops without writing anything more)."""
    return bool(queryset.filter(pk=pk, run_token=token).update(**progressed(), **progress))


class Superseded(Exception):
    """This run no longer holds its job: another run took it over."""


def find_stalled(queryset, *, limit=100):
    """The jobs of ``queryset`` (the active ones) that have just stalled, locked and marked
    so (``stalled_at``, one more ``stalls``); the caller resumes or fails each, in the
    caller's transaction."""
    now = timezone.now()
    jobs = list(
        queryset.filter(stalled_at__isnull=True)
        .filter(stalled_q(now))
        .select_for_update(skip_locked=True)[:limit]
    )
    for job in jobs:
        job.stalled_at = now
        job.stalls += 1
        job.save(update_fields=["stalled_at", "stalls"])
    return jobs
