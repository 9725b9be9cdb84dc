"""The Content-Security-Policy (leadflow/csp.py): on every answer, with no 'unsafe-inline',
and no page relying on what it blocks. The URL walk checks every URL pattern's answers for
every role (test_url_walk.py); this module adds the pages whose content depends on state
(a lead at every stage, the campaign page with its snippet, the import mapping), the
error pages, the Django admin and the API docs, and checks the checker."""

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.views.defaults import server_error

from leads.models import Stage

from .world import csp_problems, inline_code


def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere(client, db):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in policy
    assert "http" not in policy


@pytest.mark.parametrize(
    "html, found",
    [
        ("<script>alert(1)</script>", "inline <script>"),
        ('<script type="module">x()</script>', "inline <script>"),
        ("<style>p{}</style>", "<style> element"),
        ('<a href="#" onclick="x()">a</a>', "onclick"),
        ('<img src="x" onerror="x()">', "onerror"),
        ('<div style="color:red"></div>', 'style="color:red"'),
        ('<a href="javascript:x()">a</a>', "javascript:"),
        ('<br style="x"/>', "style="),
    ],
)
def test_the_checker_finds_inline_code(html, found):
    assert any(found in problem for problem in inline_code(html)), inline_code(html)


@pytest.mark.parametrize(
    "html",
    [
        '<script src="/static/js/leadflow.js"></script>',
        '<script id="chart-data" type="application/json">{"a": 1}</script>',
        "<textarea>&lt;div style=&quot;position:absolute&quot;&gt;</textarea>",
        "<p>onclick= style= in text</p>",
    ],
)
def test_the_checker_accepts_what_the_policy_allows(html):
    assert inline_code(html) == []


@pytest.mark.parametrize("role", ["marketer", "rep", "manager"])
def test_the_lead_page_at_every_stage_has_no_inline_code(world, db, role):
    client = world.client(role)
    for key, lead in world.leads.items():
        response = client.get(lead.get_absolute_url())
        if response.status_code == 404:
            assert role == "rep", key  # not this rep's lead
            continue
        assert response.status_code == 200, (key, role)
        assert csp_problems(response) == [], (key, role)


def test_pages_with_forms_and_data_have_no_inline_code(world, db):
    client = world.client("manager")
    for url in (
        world.campaign.get_absolute_url(),  # with the intake snippet in its textarea
        f"/leads/import/{world.import_job.pk}/mapping/",
        f"/leads/import/{world.import_job.pk}/",
        f"/sales/disputes/{world.dispute.pk}/rule/",
        "/sales/disputes/",
        "/sales/team/",
        "/leads/?stage=new&stage=mql&sort=name",
        "/dashboard/?start=2020-01-01",
        "/sla/",
        "/notifications/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert csp_problems(response) == [], url
    snippet = client.get(world.campaign.get_absolute_url()).content.decode()
    # The snippet for other websites keeps its own markup, shown as text.
    assert "&lt;div style=&quot;position:absolute" in snippet


def test_error_pages_have_no_inline_code(world, db, client):
    assert csp_problems(client.get("/no-such-page/")) == []
    assert csp_problems(world.client("rep").get("/sla/")) == []  # the 403 page
    response = server_error(RequestFactory().get("/"))
    assert inline_code(response.content.decode()) == []


def test_the_too_large_page_has_no_inline_code(world, db, settings):
    settings.MAX_REQUEST_BODY_BYTES = 2048
    response = world.client("rep").post("/leads/new/", {"notes": "x" * 4096})
    assert response.status_code == 413
    assert csp_problems(response) == []


def test_the_admin_works_under_the_policy(world, db, client):
    admin = User.objects.create_superuser("root", "root@example.com", "pw-Secret-123")
    client.force_login(admin)
    lead = world.leads[Stage.ACCEPTED]
    for url in (
        "/admin/",
        "/admin/login/",
        "/admin/leads/lead/",
        f"/admin/leads/lead/{lead.pk}/change/",
        "/admin/leads/stagechange/",
        "/admin/auth/user/add/",
        "/admin/sales/dispute/",
    ):
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert csp_problems(response) == [], url


def test_the_api_docs_need_no_exception(client, db):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert csp_problems(response) == []
    assert "unsafe" not in response["Content-Security-Policy"]
