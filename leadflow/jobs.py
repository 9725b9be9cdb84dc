"""Queueing background work. Services name the task instead of importing it, so the task
modules (which import the services inside their bodies) sit above the services and no
import runs both ways."""

from celery import current_app
from django.db import transaction


def enqueue(name, *args, **kwargs):
    """Queue the Celery task registered as ``name`` once the current transaction commits
    (at once outside one), so a worker never sees a row that was rolled back."""
    transaction.on_commit(lambda: current_app.tasks[name].delay(*args, **kwargs))
