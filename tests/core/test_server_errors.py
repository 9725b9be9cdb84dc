"""What an unexpected failure answers. The API and the public intake answer JSON
``{"detail": ...}`` even on a 500 (a program reads them, not a person), pages keep the
HTML 500 page. A database out of reach is a 503 with ``Retry-After`` instead, whether a
view or a middleware hit it, and the page saying so needs no database itself."""

import sqlite3

import pytest
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.backends.db import SessionStore
from django.db import (
    InterfaceError,
    OperationalError,
    ProgrammingError,
    connection,
    connections,
    transaction,
)
from django.test import Client

from campaigns import intake
from leadflow.middleware import RETRY_AFTER_SECONDS, database_unavailable
from leadflow.views import LoginView
from leads.api import LeadViewSet
from leads.views import LeadListView


def raising(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


def quiet(client):
    """The test client re-raises a view's exception by default; a browser gets the answer."""
    client.raise_request_exception = False
    return client


def unreachable_database():
    """Connect, for real, to a database that is not there: the driver's own error."""
    settings = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        settings["NAME"] = "/nonexistent-folder/leadflow.sqlite3"
    else:
        settings.update(HOST="127.0.0.1", PORT="1")
    connections["default"].__class__(settings, alias="unreachable").ensure_connection()


@pytest.fixture
def signed_in(manager):
    """A manager's session: pages and the API (which accepts the session) alike."""
    client = quiet(Client())
    client.force_login(manager)
    return client


def post_intake(campaign):
    return quiet(Client()).post(
        f"/intake/{campaign.intake_key}/",
        {"last_name": "Lovelace", "email": "ada@example.com"},
        content_type="application/json",
    )


def assert_unavailable(response, *, json):
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    if json:
        assert response["Content-Type"] == "application/json"
        assert "database" in response.json()["detail"]
    else:
        assert response["Content-Type"].startswith("text/html")
        body = response.content.decode()
        assert "cannot reach its database" in body
        assert "navbar" not in body and "Log out" not in body


# --- 500: JSON where programs read the answer ---------------------------------------------


def test_an_unhandled_error_in_the_api_is_a_json_500(signed_in, monkeypatch):
    monkeypatch.setattr(LeadViewSet, "list", raising(RuntimeError("bug")))
    response = signed_in.get("/api/v1/leads/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "The error has been logged. Please try again in a moment."
    }


def test_an_unhandled_error_in_the_public_intake_is_a_json_500(campaign, monkeypatch):
    monkeypatch.setattr(intake, "intake_submit", raising(KeyError("bug")))
    response = post_intake(campaign)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_an_unhandled_error_on_a_page_is_still_the_html_500_page(signed_in, monkeypatch):
    monkeypatch.setattr(LeadListView, "get", raising(RuntimeError("bug")))
    response = signed_in.get("/leads/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "Something went wrong" in response.content.decode()


# --- 503: the database is out of reach -----------------------------------------------------


def test_a_database_outage_in_an_api_view_is_a_json_503_with_retry_after(signed_in, monkeypatch):
    monkeypatch.setattr(LeadViewSet, "list", raising(OperationalError("server closed")))
    assert_unavailable(signed_in.get("/api/v1/leads/"), json=True)


def test_a_database_outage_in_a_view_is_a_503_with_debug_on_too(signed_in, settings, monkeypatch):
    # With DEBUG Django shows its traceback page instead of calling handler500; the
    # middleware answers first.
    settings.DEBUG = True
    monkeypatch.setattr(LeadListView, "get", raising(OperationalError("server closed")))
    assert_unavailable(signed_in.get("/leads/"), json=False)


def test_a_lost_connection_in_the_intake_is_a_json_503(campaign, monkeypatch):
    monkeypatch.setattr(
        intake, "intake_submit", raising(InterfaceError("connection already closed"))
    )
    assert_unavailable(post_intake(campaign), json=True)


def test_a_refused_connection_is_a_503_page_that_itself_needs_no_database(
    db, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(LoginView, "get", lambda *args, **kwargs: unreachable_database())
    with django_assert_num_queries(0):
        response = quiet(Client()).get("/accounts/login/")
    assert_unavailable(response, json=False)


def test_the_session_read_failing_is_a_503(signed_in, monkeypatch):
    # request.user is read lazily, from the session table, when the view first needs it.
    monkeypatch.setattr(SessionStore, "load", raising(OperationalError("connection refused")))
    assert_unavailable(signed_in.get("/leads/"), json=False)
    assert_unavailable(signed_in.get("/api/v1/leads/"), json=True)


def test_a_database_outage_inside_a_middleware_is_a_503(signed_in, monkeypatch):
    monkeypatch.setattr(
        AuthenticationMiddleware, "process_request", raising(OperationalError("timeout"))
    )
    assert_unavailable(signed_in.get("/leads/"), json=False)
    assert_unavailable(signed_in.get("/api/v1/leads/"), json=True)


def test_a_programming_error_stays_a_500(signed_in, monkeypatch):
    def bad_query(*args, **kwargs):
        # Real SQL errors: SQLite calls a missing table an OperationalError too.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT nothing FROM no_such_table")

    monkeypatch.setattr(LeadViewSet, "list", bad_query)
    response = signed_in.get("/api/v1/leads/")
    assert response.status_code == 500 and not response.has_header("Retry-After")
    monkeypatch.setattr(LeadListView, "get", raising(ProgrammingError("syntax error")))
    response = signed_in.get("/leads/")
    assert response.status_code == 500 and not response.has_header("Retry-After")


def test_only_sqlites_busy_and_unreadable_errors_count_as_an_outage():
    def wrapped(message):
        exc = OperationalError(message)
        exc.__cause__ = sqlite3.OperationalError(message)
        return exc

    assert database_unavailable(wrapped("database is locked"))
    assert database_unavailable(wrapped("unable to open database file"))
    assert not database_unavailable(wrapped("no such table: leads_lead"))
    assert not database_unavailable(ProgrammingError("relation does not exist"))
