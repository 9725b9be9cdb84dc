"""The URL walk: every URL pattern of the project, requested as anonymous, marketer, rep,
another rep and manager, against the permission table in walk.py (SPEC §1).

Every answer also keeps the Content-Security-Policy promise (leadflow/csp.py): the header
is there and no HTML page holds an inline script, an on…= handler or a style attribute.

A URL pattern the table does not cover fails test_every_url_pattern_is_in_the_table, so
no view can be added without saying who may use it. Every request runs in a savepoint
that is rolled back, so each role meets the same objects; a refused request must leave
them as they were, and no request may edit or delete a stage change.
"""

from urllib.parse import urlsplit

import pytest
from django.contrib.messages import ERROR
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from leadflow.models import Heartbeat
from leads.models import SweepRun

from .snapshot import activity_log, fingerprint, stage_log
from .walk import OWN_CHECKS, ROUTES, body, url_for, walk_patterns
from .world import ROLES, csp_problems

PATTERNS = list(walk_patterns())


def outcome(response):
    status = response.status_code
    if status in (301, 302, 303):
        location = urlsplit(response["Location"])
        if location.path == reverse("login") and "next=" in location.query:
            return "L"
        if location.path == reverse("admin:login"):
            return "A"
    return {401: "U", 403: "F", 404: "N", 405: "X"}.get(
        status, "K" if status < 400 else str(status)
    )


def error_messages(response):
    storage = getattr(response.wsgi_request, "_messages", None)
    queued = getattr(storage, "_queued_messages", [])
    return [str(m) for m in queued if m.level >= ERROR]


def send(client, method, url, row, world):
    data = body(row, world)
    if method == "get":
        return client.get(url)
    if row.json or url.startswith("/api/"):
        return getattr(client, method)(url, data, content_type="application/json")
    return getattr(client, method)(url, data)


def request_as(world, role, method, url, row):
    """One request in a savepoint that is rolled back: (outcome, response, changed)."""
    client = world.client(role)
    with transaction.atomic():
        before, log_before, acts_before = fingerprint(), stage_log(), activity_log()
        response = send(client, method, url, row, world)
        after, log_after, acts_after = fingerprint(), stage_log(), activity_log()
        transaction.set_rollback(True)
    # Append-only: every stage change and activity that existed is still there, unchanged.
    assert log_before.items() <= log_after.items(), f"{method.upper()} {url} as {role}"
    assert acts_before.items() <= acts_after.items(), f"{method.upper()} {url} as {role}"
    return outcome(response), response, before != after


def test_every_url_pattern_is_in_the_table():
    keys = {p.key for p in PATTERNS}
    missing = sorted(keys - OWN_CHECKS - set(ROUTES))
    assert not missing, (
        f"URL patterns without a row in tests/security/walk.py ROUTES: {missing}. "
        "Say who may use them (SPEC §1)."
    )
    stale = sorted(set(ROUTES) - keys)
    assert not stale, f"rows in ROUTES for URL patterns that no longer exist: {stale}"


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.route)
def test_each_role_gets_what_the_table_says(world, db, pattern):
    if pattern.key in OWN_CHECKS:
        pytest.skip("checked by its own test")
    row = ROUTES[pattern.key]
    url = url_for(pattern, row, world)
    got, problems = {}, []
    for method in ("get", row.method):
        expected = row.expected("get" if method == "get" else "post")
        for role in ROLES:
            want = expected[role]
            if want == "-":
                continue
            code, response, changed = request_as(world, role, method, url, row)
            got[(method, role)] = code
            label = f"{method.upper()} {url} as {role}"
            if code != want:
                problems.append(f"{label}: expected {want}, got {code} ({response.status_code})")
            elif code == "K" and (errors := error_messages(response)):
                problems.append(f"{label}: allowed, but refused with {errors}")
            elif code not in ("K", "X") and changed:
                problems.append(f"{label}: refused ({code}) but changed data")
            problems.extend(f"{label}: {p}" for p in csp_problems(response))
    assert not problems, "\n".join(problems)


def test_a_wrong_intake_key_is_a_404_for_everyone(world, db):
    for role in ROLES:
        response = world.client(role).post(
            "/intake/not-a-real-key/", {"last_name": "X", "email": "x@example.com"}
        )
        assert response.status_code == 404, role


def test_api_schema_and_docs_are_public_and_read_only(world, db):
    for name in ("api:docs", "api:schema"):
        url = reverse(name)
        for role in ROLES:
            client = world.client(role)
            assert client.get(url).status_code == 200, (name, role)
            assert client.post(url).status_code in (401, 403, 405), (name, role)
    schema = world.client("anon").get(reverse("api:schema"), HTTP_ACCEPT="application/json")
    assert b"/api/v1/leads/" in schema.content


def test_health_is_public_read_only_and_keeps_the_csp(world, db):
    Heartbeat.record("beat")
    SweepRun.objects.create(at=timezone.now())
    for name in ("health", "health_beat"):
        url = reverse(name)
        for role in ROLES:
            client = world.client(role)
            for accept in ("text/html", "application/json"):
                response = client.get(url, headers={"accept": accept})
                assert response.status_code == 200, (name, role, accept)
                assert csp_problems(response) == [], (name, role, accept)
            assert client.post(url).status_code == 405, (name, role)
