"""``manage.py check --deploy`` is clean under production settings (DEBUG off, a real
SECRET_KEY, HTTPS cookies, HSTS), with and without a TLS proxy in front."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE comes from the browser tests' conftest, never production.
        if not k.startswith(("DEBUG", "SECURE_", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="leadflow.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="leadflow.example.com",
        CSRF_TRUSTED_ORIGINS="https://leadflow.example.com",
    )
    env.update(extra)
    return env


@pytest.mark.parametrize("proxy", ["0", "1"])
def test_check_deploy_reports_nothing(proxy):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(SECURE_PROXY_SSL_HEADER=proxy),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_send_the_security_headers():
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from django.test.utils import override_settings\n"
        "from django.conf import settings\n"
        # No collectstatic here: the manifest storage would have no manifest to read.
        "override_settings(STORAGES={**settings.STORAGES, 'staticfiles': "
        "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}).enable()\n"
        "r = Client().get('/accounts/login/', secure=True, HTTP_HOST='leadflow.example.com')\n"
        "for h in ('Strict-Transport-Security', 'Content-Security-Policy', "
        "'X-Content-Type-Options', 'X-Frame-Options', 'Referrer-Policy', "
        "'Cross-Origin-Opener-Policy'):\n"
        "    print(h, '=', r.get(h))\n"
        "print('status', r.status_code)\n"
        "r = Client().get('/accounts/login/', HTTP_HOST='leadflow.example.com')\n"
        "print('plain', r.status_code, r.get('Location'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    assert out["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in out["Content-Security-Policy"]
    assert out["X-Content-Type-Options"] == "nosniff"
    assert out["X-Frame-Options"] == "DENY"
    assert out["Referrer-Policy"] == "same-origin"
    assert out["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "plain 301 https://leadflow.example.com/accounts/login/" in result.stdout
