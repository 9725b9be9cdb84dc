"""CSRF on every state-changing page: without the token every POST is a 403 and changes
nothing, whoever sends it. The public intake is the one page view exempt by design (another
site's form cannot carry our token); the JSON API enforces CSRF itself for session logins
and takes tokens otherwise."""

import pytest
from django.db import transaction
from django.urls import get_resolver

from campaigns.intake import intake

from .snapshot import fingerprint
from .test_url_walk import PATTERNS
from .walk import OWN_CHECKS, ROUTES, body, url_for
from .world import ROLES

PAGE_POSTS = [
    p
    for p in PATTERNS
    if p.key not in OWN_CHECKS and ROUTES[p.key].page_form and ROUTES[p.key].post != "-----"
]


def _callbacks(patterns=None, prefix=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if hasattr(p, "url_patterns"):
            yield from _callbacks(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p.callback


def test_the_intake_is_the_only_page_view_exempt_from_csrf():
    exempt = {
        route
        for route, callback in _callbacks()
        if getattr(callback, "csrf_exempt", False)
        # DRF's views: SessionAuthentication enforces CSRF itself (next test).
        and not route.startswith("api/")
    }
    assert exempt == {"intake/<str:key>/"}
    assert intake.csrf_exempt


@pytest.mark.parametrize("pattern", PAGE_POSTS, ids=lambda p: p.route)
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(world, db, pattern):
    row = ROUTES[pattern.key]
    url = url_for(pattern, row, world)
    for role in ROLES:
        client = world.client(role, enforce_csrf_checks=True)
        # A real session cookie and CSRF cookie, as a browser would have: only the token
        # in the form is missing.
        client.get("/accounts/login/")
        with transaction.atomic():
            before = fingerprint()
            response = getattr(client, row.method)(url, body(row, world))
            after = fingerprint()
            transaction.set_rollback(True)
        assert response.status_code == 403, (url, role, response.status_code)
        assert b"CSRF" in response.content, (url, role)
        assert before == after, (url, role)


def test_the_api_refuses_a_session_post_without_the_csrf_header(world, db):
    client = world.client("marketer", enforce_csrf_checks=True)
    lead = world.leads["new"]
    response = client.post(
        f"/api/v1/leads/{lead.pk}/qualify/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    lead.refresh_from_db()
    assert lead.stage == "new"
    # With the cookie's value in X-CSRFToken, as README says, the same post goes through.
    client.get("/accounts/profile/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/leads/{lead.pk}/qualify/",
        {},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200


def test_a_token_authenticated_api_post_needs_no_csrf_token(world, db):
    from leadflow import services

    _row, token = services.api_token_create(user=world.users["marketer"])
    client = world.client("anon", enforce_csrf_checks=True)
    lead = world.leads["new"]
    response = client.post(
        f"/api/v1/leads/{lead.pk}/qualify/",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 200
