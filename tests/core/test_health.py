"""/health/ (leadflow/health.py, leads/sweep/health.py, mounted in leadflow/urls.py):
public, JSON when asked, 200 when the database, the cache, the broker, beat's tick and the
sweep are fine, 500 naming the one that is not. The tests set the tick and sweep times
themselves, so beat need not run anywhere."""

import asyncio
import datetime as dt
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from asgiref.sync import sync_to_async
from celery import Celery
from django.core.management import call_command
from django.db import OperationalError, connection, connections
from django.test import Client, override_settings
from django.utils import timezone

from leadflow import health
from leadflow.celery import app as celery_app
from leadflow.health import CeleryBroker
from leadflow.models import Heartbeat
from leadflow.tasks import beat_tick
from leads.models import SweepRun
from leads.sweep.health import latest_sweep

HEALTH = "/health/"
ALL_OK = {
    "Database(alias='default')": "OK",
    "Cache(alias='default')": "OK",
    "CeleryBroker()": "OK",
    "BeatTick()": "OK",
    "RecentSweep()": "OK",
    "OutboxBacklog()": "OK",
}
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def healthy(db):
    now = timezone.now()
    Heartbeat.record("beat", at=now - 3600 * SECOND)  # ticking for an hour
    Heartbeat.record("beat", at=now)
    SweepRun.objects.create(at=now)
    return now


def in_a_thread(func, *args):
    """func(*args) on a thread of its own, which has no event loop: after the browser
    tests (Playwright), the main thread has one running and asyncio.run refuses."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(func, *args).result()


def run_async(coroutine_function):
    return in_a_thread(lambda: asyncio.run(coroutine_function()))


def checks(response):
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def test_all_well_is_200_with_every_check_ok_in_json(client, healthy):
    response = client.get(HEALTH, {"format": "json"})
    assert response.status_code == 200
    assert checks(response) == ALL_OK
    response = client.get(HEALTH, headers={"accept": "application/json"})
    assert response.status_code == 200
    assert checks(response) == ALL_OK


def test_anyone_may_ask_and_nothing_is_stored_or_cached(client, healthy):
    response = client.get(HEALTH)  # a browser: the HTML page
    assert response.status_code == 200  # not a redirect to the login page
    assert response["Content-Type"].startswith("text/html")
    assert not response.cookies  # no session, no CSRF cookie
    assert "no-store" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert client.post(HEALTH).status_code == 405


def test_a_late_beat_tick_fails_with_its_age(client, healthy, settings):
    interval = settings.BEAT_TICK_SECONDS
    Heartbeat.record("beat", at=healthy - 2 * interval * SECOND)  # two missed: a hiccup
    assert client.get(HEALTH, {"format": "json"}).status_code == 200
    Heartbeat.record("beat", at=healthy - (3 * interval + 30) * SECOND)
    response = client.get(HEALTH, {"format": "json"})
    assert response.status_code == 500
    result = checks(response)
    assert result["BeatTick()"].startswith("Unavailable: the last beat tick was 2")
    assert result == ALL_OK | {"BeatTick()": result["BeatTick()"]}  # the others still pass
    assert client.get("/health/beat/", {"format": "json"}).status_code == 500


def test_no_beat_tick_ever_fails(client, db):
    SweepRun.objects.create(at=timezone.now())
    result = checks(client.get(HEALTH, {"format": "json"}))
    assert result["BeatTick()"] == (
        "Unavailable: no beat tick recorded yet: are celery beat and a worker up?"
    )


def test_a_late_sweep_fails_and_the_latest_sweep_counts(client, healthy, settings):
    interval = settings.SWEEP_INTERVAL_SECONDS
    SweepRun.objects.all().delete()
    SweepRun.objects.create(at=healthy - (3 * interval + 60) * SECOND)
    response = client.get(HEALTH, {"format": "json"})
    assert response.status_code == 500
    assert checks(response)["RecentSweep()"].startswith("Unavailable: the last sweep finished")
    SweepRun.objects.create(at=healthy - 2 * interval * SECOND)
    assert client.get(HEALTH, {"format": "json"}).status_code == 200


def test_a_new_installation_waits_three_intervals_for_its_first_sweep(client, db, settings):
    now = timezone.now()
    late = (3 * settings.SWEEP_INTERVAL_SECONDS + 60) * SECOND
    Heartbeat.objects.create(name="beat", at=now, since=now - 60 * SECOND)
    assert client.get(HEALTH, {"format": "json"}).status_code == 200
    Heartbeat.objects.filter(pk="beat").update(since=now - late)
    result = checks(client.get(HEALTH, {"format": "json"}))
    assert result["RecentSweep()"] == "Unavailable: no sweep has finished yet"


def test_the_beat_health_checks_only_the_tick(client, db):
    Heartbeat.record("beat")  # and no sweep ever
    response = client.get("/health/beat/", {"format": "json"})
    assert response.status_code == 200
    assert checks(response) == {"BeatTick()": "OK"}


def test_a_failing_check_is_a_warning_in_the_log_not_a_server_error(client, db, caplog):
    with caplog.at_level(logging.INFO):
        assert client.get(HEALTH, {"format": "json"}).status_code == 500
    assert not [r for r in caplog.records if r.name == "django.request"]
    assert {r.levelname for r in caplog.records if r.name == "health_check"} == {"WARNING"}


def test_an_unreachable_broker_fails_fast_and_unnamed(client, healthy, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery prefers it to broker=
    # set_as_current=False: a new app would otherwise become the one every task is sent by.
    # Port 1 refuses at once; a blackhole address times out: neither may hang the probe.
    for url in ("redis://probe:s3cret@127.0.0.1:1/0", "redis://probe:s3cret@10.255.255.1/0"):
        broker = CeleryBroker(app=Celery(broker=url, set_as_current=False), timeout=SECOND)
        started = time.monotonic()
        result = run_async(broker.get_result)
        assert time.monotonic() - started < 3, url
        assert str(result.error).startswith("Unavailable: cannot connect to the broker"), url
    down = Celery(broker="redis://probe:s3cret@127.0.0.1:1/0", set_as_current=False)
    monkeypatch.setattr(health, "leadflow_app", down)
    response = client.get(HEALTH, {"format": "json"})
    assert response.status_code == 500
    assert checks(response)["CeleryBroker()"].startswith("Unavailable: cannot connect")
    for secret in (b"s3cret", b"probe", b"127.0.0.1"):
        assert secret not in response.content
        assert secret not in client.get(HEALTH).content


def test_a_failing_database_is_named_but_not_its_server(client, healthy, monkeypatch):
    def unreachable(self):
        raise OperationalError("failed to resolve host 'db-7.internal': Name or service unknown")

    # On the class: the check runs on a connection of its own, in another thread.
    monkeypatch.setattr(type(connections["default"]), "temporary_connection", unreachable)
    response = client.get(HEALTH, {"format": "json"})
    assert response.status_code == 500
    assert checks(response)["Database(alias='default')"] == (
        "Unavailable: cannot query the database"
    )
    assert b"db-7" not in response.content


def test_the_broker_check_needs_no_worker(db):
    # The configured broker (Redis in the PostgreSQL suite) and no worker running.
    result = run_async(CeleryBroker().get_result)
    assert result.error is None


def test_health_is_not_redirected_to_https(healthy):
    with override_settings(SECURE_SSL_REDIRECT=True):
        client = Client()  # builds its middleware with the setting on
        assert client.get("/accounts/login/").status_code == 301
        assert client.get(HEALTH, {"format": "json"}).status_code == 200


def test_the_request_runs_three_cheap_queries(client, healthy, django_assert_max_num_queries):
    # The Database check's SELECT 1 runs on a connection of its own, not counted here.
    with django_assert_max_num_queries(3):
        assert client.get(HEALTH, {"format": "json"}).status_code == 200


def test_the_latest_sweep_is_read_off_its_index(db):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # On a nearly empty table a sequential scan is cheaper; ask whether the index
            # can serve the query, as it will on a week of sweeps.
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = latest_sweep().explain()
    assert "sweeprun_at_idx" in plan, plan


def test_beat_sends_the_tick_and_a_worker_records_it(db, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["beat-tick"]
    assert entry["task"] == "leadflow.tasks.beat_tick" in celery_app.tasks
    assert entry["schedule"] == settings.BEAT_TICK_SECONDS
    first = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    for minutes in (0, 1):
        with time_machine.travel(first + dt.timedelta(minutes=minutes), tick=False):
            beat_tick.apply()
    beat = Heartbeat.objects.get(pk="beat")
    assert (beat.since, beat.at) == (first, first + dt.timedelta(minutes=1))


@pytest.mark.django_db(transaction=True)
def test_the_beat_container_check_exits_0_when_ticking_and_1_when_late(settings, capsys):
    # `manage.py health_check health_beat --no-http` (docker-compose.yml's beat service):
    # the checks run outside a request, on a connection of their own, so the data is
    # committed (transaction=True).
    Heartbeat.record("beat")
    with pytest.raises(SystemExit) as exit_:
        in_a_thread(call_command, "health_check", "health_beat", "--no-http")
    assert exit_.value.code == 0
    assert "BeatTick(): OK" in capsys.readouterr().out
    Heartbeat.record("beat", at=timezone.now() - 4 * settings.BEAT_TICK_SECONDS * SECOND)
    with pytest.raises(SystemExit) as exit_:
        in_a_thread(call_command, "health_check", "health_beat", "--no-http")
    assert exit_.value.code == 1
    # The async ORM ran on asgiref's own thread: close its connection, or the test
    # database cannot be dropped at the end.
    run_async(sync_to_async(connections.close_all))


def test_a_task_waiting_a_quarter_of_an_hour_fails_the_outbox_check(client, healthy):
    import uuid

    from leadflow.models import OutboxMessage

    def waiting(minutes, **fields):
        at = timezone.now() - dt.timedelta(minutes=minutes)
        values = {"id": uuid.uuid4(), "task": "leadflow.tasks.ping", "created_at": at}
        return OutboxMessage.objects.create(**values, due_at=at, **fields)

    waiting(10)  # the broker was down a few minutes: still fine
    waiting(60, done_at=timezone.now())  # finished
    waiting(60, lease_until=timezone.now() + 60 * SECOND)  # a long import, running
    assert client.get(HEALTH, {"format": "json"}).status_code == 200
    waiting(16)
    response = client.get(HEALTH, {"format": "json"})
    assert response.status_code == 500
    assert checks(response)["OutboxBacklog()"].startswith("Unavailable: a background task has")
