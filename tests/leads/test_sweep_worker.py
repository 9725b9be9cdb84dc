"""End to end: a real Celery beat fires the sweep on a real worker (Redis when
CELERY_BROKER_URL is set, else the embedded filesystem broker), which raises a flag on
the test database and emails the responsible rep (file email backend)."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.utils import timezone

from leads import services as marketing
from leads.models import Flag, FlagKind
from tests.conftest import subprocess_database_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_processes(tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "leadflow.settings",
        "DATABASE_URL": subprocess_database_url(),
        "EMAIL_URL": f"filemail://{mail_dir}",
        "SWEEP_INTERVAL_SECONDS": "2",
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    common = [sys.executable, "-m", "celery", "-A", "leadflow"]
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("worker", "beat")}
    procs = {
        "worker": subprocess.Popen(
            [
                *common,
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--hostname=pytest-sweep-worker@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        ),
        "beat": subprocess.Popen(
            [
                *common,
                "beat",
                "--loglevel=INFO",
                f"--schedule={tmp_path / 'celerybeat-schedule'}",
            ],
            cwd=ROOT,
            env=env,
            stdout=logs["beat"],
            stderr=subprocess.STDOUT,
        ),
    }
    yield mail_dir, procs, tmp_path
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    for log in logs.values():
        log.close()


def test_beat_fires_the_sweep_on_a_worker_which_raises_a_flag_and_emails_the_rep(
    celery_processes, marketer, rep, campaign
):
    mail_dir, procs, logs = celery_processes
    # Handed to the rep 30 hours ago and never answered: response_overdue (24 h).
    at = timezone.now() - dt.timedelta(hours=30)
    lead = marketing.lead_intake(
        by=marketer,
        data={"last_name": "Endtoend", "email": "e2e@example.com"},
        campaign=campaign,
        at=at,
    ).lead
    marketing.lead_qualify(lead=lead, by=marketer, at=at)
    marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep, at=at)

    deadline = time.monotonic() + 120
    emails = []
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} died:\n{(logs / f'{name}.log').read_text()}"
        emails = [p.read_text() for p in mail_dir.iterdir()]
        if any(f"/leads/{lead.pk}/" in text for text in emails):
            break
        time.sleep(1)
    else:
        pytest.fail(
            "no flag email within 120 s\n--- beat ---\n"
            + (logs / "beat.log").read_text()[-3000:]
            + "\n--- worker ---\n"
            + (logs / "worker.log").read_text()[-5000:]
        )

    flag = Flag.objects.get(lead=lead, kind=FlagKind.RESPONSE_OVERDUE)
    assert flag.responsible == rep
    assert flag.notified_at is not None
    [email] = [text for text in emails if f"/leads/{lead.pk}/" in text]
    assert f"To: {rep.email}" in email
    assert "Response overdue" in email
    assert "leads.tasks.sweep" in (logs / "beat.log").read_text()
