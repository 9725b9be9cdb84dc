"""The CSV export under a real gunicorn started with gunicorn.conf.py and ``--timeout 1``.

The export has no hook to slow it down, so the test stretches it from outside: it holds
an ACCESS EXCLUSIVE lock on the lead table, so that the export, which has sent its 200 and
the CSV header row, waits in its first query, and lets go after HOLD seconds, several
times the timeout. PostgreSQL only (SQLite's WAL lets readers through any lock).

- sync workers (gunicorn's default): the arbiter kills the worker mid-stream, and the
  client, which had its 200, gets a chunked body without its last chunk;
- gthread workers (gunicorn.conf.py): the same export arrives whole, every row;
- an export whose query fails mid-stream (its database connection terminated) also ends
  without the last chunk, so no client takes the half file for a whole one.
"""

import csv
import http.client
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client

from leads.models import Lead
from tests import factories
from tests.conftest import subprocess_database_url
from tests.races import wait_until_another_transaction_waits_on_mine

ROOT = Path(__file__).resolve().parents[2]
LEADS = 3000  # two of the export's chunks
TIMEOUT = 1  # gunicorn --timeout, seconds
HOLD = 4  # seconds the export is kept waiting

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def leads(postgres_only):
    campaign = factories.CampaignFactory()
    Lead.objects.bulk_create(
        Lead(
            campaign=campaign,
            last_touch_campaign=campaign,
            last_name=f"Lead {i}",
            email=f"lead{i}@example.com",
        )
        for i in range(LEADS)
    )
    client = Client()
    client.force_login(factories.manager(username="exporter"))
    return client.cookies["sessionid"].value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn(worker_class=None) -> (port, log path): a server on the test database with
    gunicorn.conf.py's settings, its worker class unless one is given."""
    servers = []

    def start(worker_class=None):
        port, log = free_port(), tmp_path / f"gunicorn-{worker_class or 'conf'}.log"
        env = {**os.environ, "DATABASE_URL": subprocess_database_url()}
        env |= {"CACHE_URL": "locmemcache://", "DJANGO_SETTINGS_MODULE": "leadflow.settings"}
        # --preload: Django is imported before the fork, so a worker's boot cannot take
        # longer than the one-second timeout.
        args = ["-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
        args += ["--timeout", str(TIMEOUT), "--preload"]
        if worker_class == "sync":
            # With threads > 1 (gunicorn.conf.py's 4) gunicorn runs gthread whatever the class.
            args += ["--worker-class", "sync", "--threads", "1"]
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        servers.append(proc)
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                http_get(port, "/accounts/login/").read()
                return port, log
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)

    yield start
    for proc in servers:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def http_get(port, path, session=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Cookie": f"sessionid={session}"} if session else {})
    return conn.getresponse()


def export_held(port, session, *, then=None, hold=HOLD):
    """Request the export with the lead table locked; once the server's query waits on the
    lock, run ``then`` (given the waiting backend's pid), hold ``hold`` seconds, let go.
    Returns (status, body, complete): ``complete`` is whether the chunked body ended with
    its last chunk."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {Lead._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        response = http_get(port, "/leads/export.csv", session)
        wait_until_another_transaction_waits_on_mine()
        if then is not None:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            then(cursor, cursor.fetchone()[0])
        time.sleep(hold)
    try:
        return response.status, response.read(), True
    except http.client.IncompleteRead as cut:
        return response.status, cut.partial, False


def data_rows(body):
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0][:2] == ["id", "first_name"]
    return rows[1:]


def test_a_sync_worker_cuts_a_long_export_after_its_timeout(leads, gunicorn):
    port, log = gunicorn("sync")
    assert "Using worker: sync" in log.read_text()
    status, body, complete = export_held(port, leads)
    assert status == 200  # what the client was told before the cut
    assert not complete
    assert len(data_rows(body)) < LEADS
    assert "WORKER TIMEOUT" in log.read_text()


def test_gthread_streams_every_row_of_an_export_longer_than_its_timeout(leads, gunicorn):
    port, log = gunicorn()
    assert "Using worker: gthread" in log.read_text()
    started = time.monotonic()
    status, body, complete = export_held(port, leads)
    assert time.monotonic() - started > HOLD > TIMEOUT
    assert (status, complete) == (200, True)
    ids = [int(row[0]) for row in data_rows(body)]
    assert ids == sorted(Lead.objects.values_list("id", flat=True))
    assert "WORKER TIMEOUT" not in log.read_text()


def test_an_export_that_fails_mid_stream_does_not_end_like_a_whole_file(leads, gunicorn):
    port, log = gunicorn()

    def terminate(cursor, pid):
        # The export's query fails, as it would if the database went away.
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    status, body, complete = export_held(port, leads, then=terminate, hold=0)
    assert status == 200
    assert not complete  # no terminating zero-length chunk
    assert data_rows(body) == []
    assert "Error handling request" in log.read_text()
