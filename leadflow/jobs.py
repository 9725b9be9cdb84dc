"""Queueing background work. Services name the task instead of importing it, so the task
modules (which import the services inside their bodies) sit above the services and no
import runs both ways."""

from celery import current_app
from celery.exceptions import NotRegistered
from django.db import transaction


def task(name):
    """The registered Celery task ``name``. A web process has not imported the apps' task
    modules yet (only a worker does at start), so the first lookup imports them."""
    try:
        return current_app.tasks[name]
    except NotRegistered:
        current_app.loader.import_default_modules()
        return current_app.tasks[name]


def enqueue(name, *args, **kwargs):
    """Queue the Celery task registered as ``name`` once the current transaction commits
    (at once outside one), so a worker never sees a row that was rolled back. An unknown
    name fails here, in the service, not later in the commit hook."""
    queued = task(name)
    transaction.on_commit(lambda: queued.delay(*args, **kwargs))
