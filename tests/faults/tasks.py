"""Tasks for the fault tests only: a worker imports them when the test sets
LEADFLOW_EXTRA_TASK_MODULES=tests.faults.tasks (leadflow/settings.py).

Each writes what happened to a journal file named by the test, one line per event
("start <pid> <redelivered>", "done <pid>"), so a test counts runs across redeliveries,
pool children and workers (tests/faults/harness.py Journal)."""

import os
import time

from celery import shared_task


def _note(path, *words):
    # O_APPEND: lines from several processes never overwrite each other.
    with open(path, "a") as f:
        f.write(" ".join(str(w) for w in words) + "\n")


@shared_task(bind=True, acks_late=True)
def sleep_task(self, seconds, journal):
    """Sleep `seconds` between a "start" and a "done" line (a long task, like an import)."""
    _note(journal, "start", os.getpid(), bool(self.request.delivery_info.get("redelivered")))
    time.sleep(seconds)
    _note(journal, "done", os.getpid())
    return "slept"


@shared_task
def user_exists(username, journal):
    """Write "user <username> True|False": the worker reads the test's database."""
    from django.contrib.auth import get_user_model

    exists = get_user_model().objects.filter(username=username).exists()
    _note(journal, "user", username, exists)
    return exists
