"""One real Celery worker process consumes the configured broker (Redis when
CELERY_BROKER_URL is set, else the embedded filesystem broker) and runs a task."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadflow.celery import app
from leadflow.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadflow.settings"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "leadflow",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname=pytest-worker@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.worker
def test_real_worker_runs_a_task(worker):
    app.conf.task_always_eager = False
    try:
        result = ping.apply_async()
        assert result.get(timeout=60) == "pong"
    finally:
        app.conf.task_always_eager = True
    assert worker.poll() is None, "the worker died"
