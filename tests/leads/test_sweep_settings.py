"""The sweep's settings come from the environment; bad values stop start-up."""

import subprocess
import sys

import pytest

from tests.core.test_settings import ROOT, start


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SWEEP_INTERVAL_SECONDS": "often"}, "SWEEP_INTERVAL_SECONDS='often' is not an integer"),
        ({"SWEEP_INTERVAL_SECONDS": "0"}, "SWEEP_INTERVAL_SECONDS='0' must be at least 1"),
        ({"SWEEP_FULL_INTERVAL_SECONDS": "-1"}, "SWEEP_FULL_INTERVAL_SECONDS='-1'"),
        ({"FLAG_DIGEST_HOUR": "24"}, "FLAG_DIGEST_HOUR=24 must be 0 to 23"),
    ],
)
def test_bad_sweep_settings_stop_start_up(env, message):
    result = start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_beat_runs_the_sweep_every_sweep_interval_and_the_digest_daily():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "s = settings.CELERY_BEAT_SCHEDULE; "
        "print(s['sweep']['task'], s['sweep']['schedule'], s['flag-digest']['schedule'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "leadflow.settings",
            "SWEEP_INTERVAL_SECONDS": "60",
            "FLAG_DIGEST_HOUR": "7",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["leads.tasks.sweep", "60"]
    assert "<crontab: 0 7 * * *" in result.stdout
