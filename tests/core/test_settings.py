"""Bad environment values stop start-up with a clear ImproperlyConfigured message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "DEBUG",
            "SECRET_KEY",
            "TIME_ZONE",
            "EMAIL_URL",
        }
    }
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_start_on_sqlite_and_filesystem_broker():
    result = start()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(
    "env, message",
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "0"}, "SECRET_KEY must be set"),
        ({"DATABASE_URL": "nosuchdb://x/y"}, "DATABASE_URL='nosuchdb://x/y'"),
        ({"TIME_ZONE": "Mars/Olympus_Mons"}, "TIME_ZONE='Mars/Olympus_Mons'"),
        ({"CELERY_BROKER_URL": "ftp://broker"}, "CELERY_BROKER_URL='ftp://broker'"),
        ({"EMAIL_URL": "pigeon://coop"}, "EMAIL_URL='pigeon://coop'"),
        ({"CONN_MAX_AGE": "forever"}, "CONN_MAX_AGE='forever' is not an integer"),
    ],
)
def test_bad_value_stops_start_up_with_improperly_configured(env, message):
    result = start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_settings_need_secret_and_turn_on_https_cookies():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0)",
        ],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0", "SECRET_KEY": "x" * 50},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]
