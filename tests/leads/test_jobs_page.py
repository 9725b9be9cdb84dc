"""The managers' jobs page: the outbox backlog, stalled and failed imports and recomputes,
and tasks that gave up, with a Retry; nobody else may see it or act on it."""

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from leadflow.models import OutboxMessage
from leads.models import DeadlineRecompute, ImportJob, ImportStatus
from tests import factories

pytestmark = pytest.mark.django_db


def message(**fields):
    now = timezone.now()
    values = {"id": uuid.uuid4(), "task": "leadflow.tasks.ping", "created_at": now, "due_at": now}
    return OutboxMessage.objects.create(**{**values, **fields})


def an_import(status, **fields):
    return ImportJob.objects.create(
        created_by=factories.marketer(),
        filename=f"{status}.csv",
        encoding="utf-8",
        delimiter=",",
        status=status,
        **fields,
    )


def test_managers_see_the_backlog_and_what_is_stuck_or_failed(
    manager_client, django_assert_max_num_queries
):
    long_ago = timezone.now() - dt.timedelta(hours=1)
    message(created_at=long_ago)
    message(published_at=long_ago)
    message(failed_at=long_ago, last_error="ValueError: bad row")
    message(done_at=long_ago)
    an_import(ImportStatus.RUNNING, heartbeat_at=long_ago, total_rows=10, processed_rows=4)
    an_import(ImportStatus.RUNNING, heartbeat_at=timezone.now())  # making progress
    an_import(ImportStatus.FAILED, error="Stopped after 3 of 9 rows: boom")
    DeadlineRecompute.objects.create(heartbeat_at=long_ago, total=100, done=10)
    with django_assert_max_num_queries(14):
        response = manager_client.get(reverse("leads:jobs"))
    assert response.status_code == 200
    ctx = response.context
    assert (ctx["backlog"]["pending"], ctx["backlog"]["unpublished"]) == (2, 1)
    assert ctx["backlog"]["failed"] == 1
    assert [j.filename for j in ctx["stalled_imports"]] == ["running.csv"]
    assert [j.filename for j in ctx["failed_imports"]] == ["failed.csv"]
    assert len(ctx["stalled_recomputes"]) == 1
    body = response.content.decode()
    assert "ValueError: bad row" in body and "Stopped after 3 of 9 rows" in body


def test_a_manager_retries_a_task_that_gave_up(manager_client, settings):
    failed = message(failed_at=timezone.now(), last_error="boom")
    response = manager_client.post(reverse("leads:task_retry", args=[failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.failed_at is None and failed.due_at <= timezone.now()
    # Once it is waiting again there is nothing to retry.
    response = manager_client.post(reverse("leads:task_retry", args=[failed.pk]), follow=True)
    assert "no longer waiting for a retry" in response.content.decode()


def test_only_managers_see_the_jobs_page_or_retry(marketer_client, rep_client, client):
    failed = message(failed_at=timezone.now())
    for who in (marketer_client, rep_client):
        assert who.get(reverse("leads:jobs")).status_code == 403
        assert who.post(reverse("leads:task_retry", args=[failed.pk])).status_code == 403
    assert client.get(reverse("leads:jobs")).status_code == 302  # to the login page
    failed.refresh_from_db()
    assert failed.failed_at is not None
