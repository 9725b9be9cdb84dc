"""Nothing lost: a hand-off and an import against real processes (a private Redis, a real
Celery worker on the test database) while Redis stops, hangs, a pool process is killed or
the worker's database connection is cut. Every e-mail goes out exactly once and every good
row is imported exactly once; the user's request never fails or hangs on the broker.

The test process plays the web process (and beat: it runs the outbox relay and the job
watchdog when the test says so); the worker is a subprocess (tests/faults/harness.py)."""

import re
import signal
import time

import pytest
from django.db import connection
from django.urls import reverse

from leadflow import outbox
from leadflow.models import OutboxMessage
from leads.imports import services as imports
from leads.models import ImportJob, ImportRow, ImportStatus, Lead, Stage

from .harness import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

ROWS = 4000  # four batches of 1000 (leads.imports.services.IMPORT_BATCH)


@pytest.fixture
def maildir(tmp_path):
    path = tmp_path / "mail"
    path.mkdir()
    return path


def emails(maildir):
    """The messages the worker's file e-mail backend wrote (one Message-ID each)."""
    return [
        m
        for f in sorted(maildir.iterdir())
        for m in re.findall(r"^Message-ID: (.+)$", f.read_text(errors="replace"), re.M)
    ]


@pytest.fixture
def mail_worker(start_worker, maildir, leadflow_app_on_redis):
    """A worker that sends its e-mail into ``maildir``."""
    return start_worker(EMAIL_URL=f"filemail://{maildir}")


def hand_off(client, lead, rep):
    started = time.monotonic()
    response = client.post(
        reverse("leads:hand_off", args=[lead.pk]), {"mode": "rep", "to_user": rep.pk}
    )
    return response, time.monotonic() - started


def relay_until_sent(maildir, count, timeout=30):
    """Run the relay, as beat would every OUTBOX_RELAY_SECONDS, until ``count`` mails are out."""

    def sent():
        outbox.relay()
        return len(emails(maildir)) >= count

    wait_for(sent, timeout, interval=0.5, message=f"fewer than {count} e-mails")


def assert_exactly(maildir, count, settle=2.0):
    time.sleep(settle)  # a duplicate would arrive in this time
    outbox.relay()
    time.sleep(settle)
    sent = emails(maildir)
    assert len(sent) == count and len(set(sent)) == count, sent
    assert not outbox.pending().exists()


def test_a_hand_off_with_redis_down_succeeds_and_its_email_goes_once_redis_is_back(
    marketer_client, make_lead, rep, redis_server, mail_worker, maildir
):
    lead = make_lead(Stage.MQL)
    redis_server.stop()
    response, took = hand_off(marketer_client, lead, rep)
    assert response.status_code == 302 and took < 6, took
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF  # committed, whatever the broker
    [message] = OutboxMessage.objects.all()
    assert message.published_at is None
    redis_server.start()
    relay_until_sent(maildir, 1)
    assert_exactly(maildir, 1)
    assert mail_worker.alive() and not mail_worker.unrecoverable()


def test_redis_stopping_during_a_hand_off_loses_no_email(
    marketer_client, make_lead, rep, redis_server, mail_worker, maildir, monkeypatch
):
    """Redis dies between the hand-off's commit and its publish."""
    real = outbox.publish_soon

    def redis_dies_first(message):
        redis_server.stop()
        return real(message)

    monkeypatch.setattr(outbox, "publish_soon", redis_dies_first)
    leads = [make_lead(Stage.MQL) for _ in range(2)]
    response, _took = hand_off(marketer_client, leads[0], rep)
    assert response.status_code == 302
    monkeypatch.setattr(outbox, "publish_soon", real)
    redis_server.start()
    mail_worker.wait_log(r"Connected to redis://", count=2, timeout=30)
    response, _took = hand_off(marketer_client, leads[1], rep)  # the broker is back
    assert response.status_code == 302
    relay_until_sent(maildir, 2)
    assert_exactly(maildir, 2)


def test_a_hung_redis_does_not_hold_up_a_hand_off(
    marketer_client, make_lead, rep, redis_server, mail_worker, maildir
):
    leads = [make_lead(Stage.MQL) for _ in range(3)]
    response, _took = hand_off(marketer_client, leads[0], rep)  # connections are open
    relay_until_sent(maildir, 1)
    redis_server.pause()  # SIGSTOP: the sockets stay open, nothing answers
    try:
        first, took_first = hand_off(marketer_client, leads[1], rep)
        second, took_second = hand_off(marketer_client, leads[2], rep)
    finally:
        redis_server.resume()
    assert first.status_code == second.status_code == 302
    assert took_first < 8, took_first  # one publish timeout at most ...
    assert took_second < 1, took_second  # ... then the relay's job, not the request's
    relay_until_sent(maildir, 3, timeout=45)
    assert_exactly(maildir, 3)


# --- imports ----------------------------------------------------------------------------


def csv_rows(rows=ROWS):
    lines = ["First Name,Last Name,Email"]
    lines += [f"F{i},L{i},row{i}@example.com" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def validated_import(marketer, campaign, rows=ROWS):
    job = imports.import_create(by=marketer, filename="big.csv", raw=csv_rows(rows))
    imports.import_set_mapping(
        job=job, by=marketer, mapping=job.mapping, default_campaign=campaign
    )
    return wait_for(
        lambda: ImportJob.objects.filter(pk=job.pk, status=ImportStatus.VALIDATED).first(),
        60,
        message="the import was not validated",
    )


def processed(job):
    return ImportJob.objects.values_list("processed_rows", flat=True).get(pk=job.pk)


def wait_done(job, timeout=90):
    def done():
        status = ImportJob.objects.values_list("status", flat=True).get(pk=job.pk)
        assert status != ImportStatus.FAILED, ImportJob.objects.get(pk=job.pk).error
        return status == ImportStatus.DONE

    wait_for(done, timeout, interval=0.5, message="the import did not finish")
    return ImportJob.objects.get(pk=job.pk)


def assert_each_good_row_imported_once(job, rows=ROWS):
    assert job.created_count == rows and job.error == ""
    assert Lead.objects.count() == rows
    lines = list(ImportRow.objects.filter(job=job).values_list("line", flat=True))
    assert len(lines) == rows and len(set(lines)) == rows


@pytest.fixture
def import_worker(start_worker, leadflow_app_on_redis):
    return start_worker()


def test_a_worker_child_killed_mid_import_is_resumed_by_the_watchdog(
    marketer, campaign, import_worker, settings
):
    settings.JOB_STALL_SECONDS = 10
    job = validated_import(marketer, campaign)
    imports.import_confirm(job=job, by=marketer)
    wait_for(lambda: processed(job) >= 1000, 60, interval=0.05, message="no batch committed")
    import_worker.kill_pool_child(signal.SIGKILL)
    time.sleep(1)
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.RUNNING
    # The redelivered message finds the dead run's lease and is skipped; the watchdog
    # (beat, every minute) finds the job stalled and resumes it.
    wait_for(
        lambda: ImportJob.objects.get(pk=job.pk).is_stalled,
        30,
        interval=0.5,
        message="never stalled",
    )
    assert [j.pk for j in imports.import_watchdog()] == [job.pk]
    job = wait_done(job)
    assert_each_good_row_imported_once(job)
    assert import_worker.alive()


def test_a_database_connection_cut_mid_batch_is_retried_and_imports_each_row_once(
    marketer, campaign, import_worker
):
    job = validated_import(marketer, campaign)
    imports.import_confirm(job=job, by=marketer)
    wait_for(lambda: processed(job) >= 1000, 60, interval=0.02, message="no batch committed")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "no worker connection to cut"
    job = wait_done(job)
    assert_each_good_row_imported_once(job)
    assert import_worker.log_count(r"database unavailable at row") >= 1


def test_redis_restarting_twice_during_an_import_loses_no_row(
    marketer, campaign, import_worker, redis_server
):
    job = validated_import(marketer, campaign)
    imports.import_confirm(job=job, by=marketer)
    for at in (1000, 2000):
        wait_for(lambda at=at: processed(job) >= at, 60, interval=0.02, message="stuck")
        redis_server.restart(down_for=0.5)
    job = wait_done(job)
    assert_each_good_row_imported_once(job)
    assert import_worker.alive() and not import_worker.unrecoverable()


def test_an_import_confirmed_while_redis_is_down_runs_once_redis_is_back(
    marketer, campaign, import_worker, redis_server
):
    job = validated_import(marketer, campaign, rows=1500)
    redis_server.stop()
    started = time.monotonic()
    imports.import_confirm(job=job, by=marketer)  # the user's click: it succeeds
    assert time.monotonic() - started < 6
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.QUEUED
    redis_server.start()
    outbox.broker_pause.clear()  # as OUTBOX_BROKER_BACKOFF_SECONDS later
    wait_for(lambda: outbox.relay() or not outbox.pending().filter(published_at=None).exists(), 30)
    job = wait_done(job)
    assert_each_good_row_imported_once(job, rows=1500)


def test_a_whole_worker_killed_mid_import_is_resumed_by_a_new_worker(
    marketer, campaign, start_worker, leadflow_app_on_redis, settings
):
    settings.JOB_STALL_SECONDS = 10
    first = start_worker()
    job = validated_import(marketer, campaign)
    imports.import_confirm(job=job, by=marketer)
    wait_for(lambda: processed(job) >= 1000, 60, interval=0.05, message="no batch committed")
    first.kill()  # kill -9 of the worker and its pool
    start_worker()
    wait_for(
        lambda: ImportJob.objects.get(pk=job.pk).is_stalled,
        30,
        interval=0.5,
        message="never stalled",
    )
    imports.import_watchdog()
    job = wait_done(job)
    assert_each_good_row_imported_once(job)
