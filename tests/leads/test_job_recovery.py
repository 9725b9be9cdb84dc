"""Jobs that cannot get stuck (leadflow/jobs.py): an import or a deadline recompute whose
worker died is found by the watchdog, shown as stalled, and resumed from its last
committed batch, by itself or at once by the user's Retry; a run that lost its job stops
without writing; a database outage is retried, not reported as a failed import."""

import datetime as dt
import uuid
from unittest.mock import patch

import pytest
from django.db import OperationalError, transaction
from django.urls import reverse
from django.utils import timezone

from leadflow import jobs
from leadflow.i18n import remember_language
from leads.imports import services as imports
from leads.models import DeadlineRecompute, ImportJob, ImportRow, ImportStatus, Lead, SLAPolicy
from leads.sla.calendar import deadlines_recompute, recompute_watchdog

from .test_import import SALESFORCE, map_and_check, upload
from .test_sla import assert_all_deadlines_match_refresh_deadlines

pytestmark = pytest.mark.usefixtures("immediate_on_commit")


class WorkerKilled(BaseException):
    """What kill -9 does to a run: it stops between two statements, and no handler runs."""


def validated_job(client, rows=7):
    lines = "\n".join(f"F{i},L{i},p{i}@x.test,,,,Google Ads,," for i in range(rows))
    upload(client, f"{SALESFORCE}\n{lines}\n")
    job = map_and_check(client, ImportJob.objects.get())
    assert job.status == ImportStatus.VALIDATED
    return job


def kill_after_batches(monkeypatch, batches):
    """The run dies when it starts batch ``batches + 1``; later runs work."""
    real = imports.lead_import_batch
    calls = {"n": 0, "dead": False}

    def batch(**kwargs):
        calls["n"] += 1
        if calls["n"] == batches + 1 and not calls["dead"]:
            calls["dead"] = True
            raise WorkerKilled
        return real(**kwargs)

    monkeypatch.setattr(imports, "lead_import_batch", batch)
    monkeypatch.setattr(imports, "IMPORT_BATCH", 3)
    return calls


def confirm(client, job):
    client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})


def confirm_then_run(client, job):
    """Confirm (committed), then the worker's run: which the test lets die."""
    with transaction.atomic(), patch.object(imports, "enqueue"):
        confirm(client, job)
    imports.import_run(job.pk)


def minutes_later(job, minutes=10):
    """Let the clock run on past the stall limit, as seen from the job's heartbeat."""
    type(job).objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=minutes)
    )


def assert_each_row_imported_once(job, rows=7):
    assert Lead.objects.count() == rows
    lines = list(ImportRow.objects.filter(job=job).values_list("line", flat=True))
    assert sorted(lines) == list(range(2, rows + 2))


def test_a_killed_import_is_found_stalled_and_resumes_by_itself(
    marketer_client, google, monkeypatch
):
    job = validated_job(marketer_client)
    kill_after_batches(monkeypatch, 1)
    with pytest.raises(WorkerKilled):
        confirm_then_run(marketer_client, job)
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING and job.processed_rows == 3
    assert not job.is_stalled  # it beat a moment ago
    assert imports.import_watchdog() == []
    minutes_later(job)
    resumed = imports.import_watchdog()
    assert [j.pk for j in resumed] == [job.pk]
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.created_count == 7
    assert job.stalled_at is None and job.run_token is None
    assert_each_row_imported_once(job)


def test_the_page_shows_a_stalled_import_and_retry_resumes_it_at_once(
    marketer_client, google, monkeypatch
):
    job = validated_job(marketer_client)
    kill_after_batches(monkeypatch, 1)
    with pytest.raises(WorkerKilled):
        confirm_then_run(marketer_client, job)
    page = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "import-stalled" not in page
    minutes_later(job)
    page = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "No progress since" in page and "Retry now" in page
    progress = marketer_client.get(reverse("leads:import_progress", args=[job.pk])).json()
    assert progress["stalled"] is True
    marketer_client.post(reverse("leads:import_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert_each_row_imported_once(job)


def test_retry_is_refused_while_the_import_makes_progress(marketer_client, google, monkeypatch):
    job = validated_job(marketer_client)
    kill_after_batches(monkeypatch, 1)
    with pytest.raises(WorkerKilled):
        confirm_then_run(marketer_client, job)
    response = marketer_client.post(reverse("leads:import_retry", args=[job.pk]), follow=True)
    assert "Only a failed or stalled import can be retried." in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING and Lead.objects.count() == 3


def test_a_run_that_lost_its_job_stops_without_writing(marketer_client, google, monkeypatch):
    job = validated_job(marketer_client)
    monkeypatch.setattr(imports, "IMPORT_BATCH", 3)
    real = imports._commit_import_batch
    calls = {"n": 0}

    def commit(job, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # between two batches, a Retry gave the job to another run
            ImportJob.objects.filter(pk=job.pk).update(run_token=uuid.uuid4())
        return real(job, *args, **kwargs)

    monkeypatch.setattr(imports, "_commit_import_batch", commit)
    confirm(marketer_client, job)
    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING and job.processed_rows == 3
    assert Lead.objects.count() == 3 and job.error == ""


def test_a_second_delivery_while_the_import_runs_does_nothing(marketer_client, google):
    job = validated_job(marketer_client)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.QUEUED)
    token = jobs.claim_run(ImportJob.objects.all(), job.pk)  # a live run holds it
    assert token is not None
    assert imports.import_run(job.pk) is None
    assert Lead.objects.count() == 0


def test_a_database_outage_mid_import_is_retried_not_failed(marketer_client, google, monkeypatch):
    job = validated_job(marketer_client)
    real = imports.lead_import_batch
    calls = {"n": 0}

    def batch(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(imports, "lead_import_batch", batch)
    monkeypatch.setattr(imports, "IMPORT_BATCH", 3)
    confirm(marketer_client, job)  # eager: the task's retry runs at once
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.error == ""
    assert_each_row_imported_once(job)


def test_an_import_that_keeps_stalling_fails_with_a_message_and_offers_retry(
    marketer_client, google, monkeypatch
):
    job = validated_job(marketer_client)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, stalls=jobs.MAX_STALLS - 1
    )
    ImportJob.objects.filter(pk=job.pk).update(run_token=uuid.uuid4())
    minutes_later(job)
    imports.import_watchdog()
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "Stopped making progress" in job.error and job.can_retry
    marketer_client.post(reverse("leads:import_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and Lead.objects.count() == 7


def test_a_stalled_check_of_the_rows_starts_again(marketer_client, google, monkeypatch):
    upload(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\n")
    job = ImportJob.objects.get()
    with patch.object(imports, "enqueue"):
        map_and_check(marketer_client, job)
    real = imports._parsed_rows
    monkeypatch.setattr(imports, "_parsed_rows", lambda job: (_ for _ in ()).throw(WorkerKilled))
    with pytest.raises(WorkerKilled):
        imports.import_validate(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATING and job.run_token is not None
    monkeypatch.setattr(imports, "_parsed_rows", real)
    minutes_later(job)
    imports.import_watchdog()
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED and job.valid_rows == 1


def test_a_check_the_watchdog_resumes_writes_its_row_reasons_in_the_uploaders_language(
    marketer_client, marketer, google, monkeypatch
):
    remember_language(marketer, "nl")
    upload(marketer_client, f"{SALESFORCE}\nA,Alpha,,,,,Google Ads,,\n")  # no email, no phone
    job = ImportJob.objects.get()
    with patch.object(imports, "enqueue"):  # its worker dies before the check starts
        map_and_check(marketer_client, job)
    minutes_later(job)
    imports.import_watchdog()
    job.refresh_from_db()
    assert (job.status, job.invalid_rows) == (ImportStatus.VALIDATED, 1)
    assert ImportRow.objects.get(job=job).reason == "geen e-mailadres en geen telefoonnummer"


def test_an_import_that_keeps_stalling_fails_in_the_uploaders_language(
    marketer_client, marketer, google
):
    remember_language(marketer, "nl")
    job = validated_job(marketer_client)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, stalls=jobs.MAX_STALLS - 1, run_token=uuid.uuid4()
    )
    minutes_later(job)
    imports.import_watchdog()
    job.refresh_from_db()
    assert (job.status, job.error) == (
        ImportStatus.FAILED,
        "Geen voortgang meer na 0 van 7 rijen; probeer het opnieuw.",
    )


def test_a_killed_recompute_resumes_from_its_position(manager, monkeypatch):
    from leads.demo.seeder import Seeder
    from leads.sla import calendar

    Seeder(leads=120, seed=7).run()
    SLAPolicy.objects.filter(is_global=True).update(response_minutes=60)
    job = DeadlineRecompute.objects.create(requested_by=manager, **jobs.queued())
    real = calendar._sql_batch
    calls = {"n": 0}

    def batch(lo, hi, campaign_id):
        calls["n"] += 1
        if calls["n"] == 3:
            raise WorkerKilled
        return real(lo, hi, campaign_id)

    monkeypatch.setattr(calendar, "_sql_batch", batch)
    with pytest.raises(WorkerKilled):
        deadlines_recompute(job.pk, sql_batch=10)
    job.refresh_from_db()
    position = job.position
    assert job.finished_at is None and position > 0
    minutes_later(job)
    assert [j.pk for j in recompute_watchdog()] == [job.pk]
    job.refresh_from_db()
    assert job.finished_at is not None and job.done == job.total
    # The resumed run started after the position: batches before it ran once.
    assert calls["n"] > 3
    assert_all_deadlines_match_refresh_deadlines()
