"""Bad environment values stop start-up with a clear ImproperlyConfigured message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(code="import django; django.setup(); print('started')", **env_overrides):
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
            "CURRENCY",
            "EMAIL_URL",
            "SENTRY_DSN",
            "SENTRY_ENVIRONMENT",
            "SENTRY_TRACES_SAMPLE_RATE",
        }
    }
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    return subprocess.run(
        [sys.executable, "-c", code],
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
        ({"CURRENCY": "euro"}, "CURRENCY='EURO' is not an ISO 4217 currency code"),
        ({"CURRENCY": "€"}, "CURRENCY='€' is not an ISO 4217 currency code"),
        ({"CELERY_BROKER_URL": "ftp://broker"}, "CELERY_BROKER_URL='ftp://broker'"),
        ({"EMAIL_URL": "pigeon://coop"}, "EMAIL_URL='pigeon://coop'"),
        ({"CONN_MAX_AGE": "forever"}, "CONN_MAX_AGE='forever' is not an integer"),
        (
            {"SENTRY_TRACES_SAMPLE_RATE": "lots"},
            "SENTRY_TRACES_SAMPLE_RATE='lots' is not a number",
        ),
        (
            {"SENTRY_TRACES_SAMPLE_RATE": "1.5"},
            "SENTRY_TRACES_SAMPLE_RATE='1.5' must be at most 1",
        ),
        ({"SENTRY_TRACES_SAMPLE_RATE": "nan"}, "SENTRY_TRACES_SAMPLE_RATE='nan' must be at least"),
        ({"SENTRY_DSN": "ftp://key@sentry.example.com/1"}, "SENTRY_DSN is not a valid Sentry DSN"),
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


SENTRY = (
    "import django, json, sentry_sdk; django.setup(); client = sentry_sdk.get_client(); "
    "o = client.options; print(json.dumps({'active': client.is_active(), 'dsn': o['dsn'], "
    "'environment': o['environment'], 'traces_sample_rate': o['traces_sample_rate'], "
    "'send_default_pii': o['send_default_pii'], 'integrations': sorted(client.integrations)}))"
)
DSN = "https://public@o1.ingest.sentry.invalid/42"


def sentry_state(**env):
    result = start(SENTRY, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sentry_stays_off_without_a_dsn():
    assert sentry_state()["active"] is False


def test_sentry_reports_pages_and_tasks_without_personal_data_when_a_dsn_is_set():
    state = sentry_state(SENTRY_DSN=DSN, SENTRY_ENVIRONMENT="staging")
    assert state["active"] is True
    assert state["dsn"] == DSN and state["environment"] == "staging"
    assert state["send_default_pii"] is False
    assert {"django", "celery"} <= set(state["integrations"])
    # No tracing by default: None, as 0.0 would still continue callers' traces.
    assert state["traces_sample_rate"] is None
    state = sentry_state(
        SENTRY_DSN=DSN, SENTRY_TRACES_SAMPLE_RATE="0.25", DEBUG="0", SECRET_KEY="x" * 50
    )
    assert state["traces_sample_rate"] == 0.25 and state["environment"] == "production"


def test_a_bad_dsn_is_named_but_not_printed():
    result = start(SENTRY_DSN="https://sentry.example.com/not-a-project")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SENTRY_DSN is not a valid Sentry DSN" in result.stderr
    assert "sentry.example.com" not in result.stderr
