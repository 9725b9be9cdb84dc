"""Personal API tokens: stored hashed, shown once, revoked on the profile page; the API
answers 401 JSON to a missing, bad or revoked token, and enforces CSRF for the session."""

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from leadflow.errors import InvalidInput
from leadflow.models import ApiToken
from leadflow.services import api_token_create
from tests import factories


def test_database_never_holds_the_plain_token(marketer):
    row, token = api_token_create(user=marketer, name="sync")
    assert token.startswith("lf_") and len(token) > 40
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[: ApiToken.PREFIX_LENGTH]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM leadflow_apitoken")
        stored = [str(value) for value in cursor.fetchone()]
    assert not any(token in value for value in stored)


def test_two_tokens_never_share_a_digest(marketer):
    tokens = {api_token_create(user=marketer)[1] for _ in range(20)}
    assert len(tokens) == 20
    assert ApiToken.objects.values("digest").distinct().count() == 20


def test_token_name_is_limited(marketer):
    with pytest.raises(InvalidInput):
        api_token_create(user=marketer, name="x" * 101)


def test_create_api_token_command_prints_the_token_last(manager):
    out = StringIO()
    call_command("create_api_token", "manager", stdout=out)
    token = out.getvalue().split()[-1]
    assert ApiToken.objects.get(user=manager).digest == ApiToken.digest_of(token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/leads/").status_code == 200


def test_create_api_token_command_refuses_unknown_user(db):
    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_token", "nobody", stdout=StringIO())


@pytest.mark.parametrize("role", ["anonymous", "bad_token", "revoked_token"])
def test_unauthenticated_callers_get_401_json(client_as, role):
    response = client_as(role).get("/api/v1/leads/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    ["Token", "Token a b", "Token lf_\u00e9t\u00e9", "token lf_wrong", "Bearer something"],
)
def test_malformed_authorization_headers_are_refused_not_crashed(db, header):
    response = APIClient().get("/api/v1/leads/", HTTP_AUTHORIZATION=header.encode("utf-8"))
    assert response.status_code == 401
    assert "detail" in response.json()


def test_token_of_inactive_user_is_refused(token_client, marketer):
    client = token_client(marketer)
    marketer.is_active = False
    marketer.save()
    assert client.get("/api/v1/leads/").status_code == 401


def test_token_use_is_recorded(token_client, marketer):
    token_client(marketer).get("/api/v1/leads/")
    assert ApiToken.objects.get(user=marketer).last_used_at is not None


def test_user_without_a_role_gets_403(token_client, no_role_user):
    response = token_client(no_role_user).get("/api/v1/leads/")
    assert response.status_code == 403
    assert "role" in response.json()["detail"]


def test_session_auth_works_for_reads_and_enforces_csrf_for_writes(marketer, make_lead):
    lead = make_lead("new")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert client.get(f"/api/v1/leads/{lead.pk}/").status_code == 200
    response = client.post(f"/api/v1/leads/{lead.pk}/qualify/", {}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    lead.refresh_from_db()
    assert lead.stage == "new"
    # With the CSRF cookie and header, as the browser's fetch() sends them.
    client.get("/accounts/profile/")
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/leads/{lead.pk}/qualify/", {}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 200
    assert response.json()["stage"] == "mql"


# --- the profile page ------------------------------------------------------------------


def test_profile_page_needs_login(client, db):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_navbar_links_the_username_to_the_profile(client, marketer):
    client.force_login(marketer)
    body = client.get("/campaigns/").content.decode()
    assert 'href="/accounts/profile/"' in body


def test_profile_creates_a_token_and_shows_it_once(client, marketer):
    client.force_login(marketer)
    response = client.post("/accounts/profile/", {"name": "ad platform"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    row = ApiToken.objects.get(user=marketer)
    token = response.context["new_token"]
    assert row.digest == ApiToken.digest_of(token)
    assert token in response.content.decode()
    again = client.get("/accounts/profile/").content.decode()
    assert token not in again
    assert row.prefix in again and "ad platform" in again


def test_profile_lists_only_my_tokens(client, marketer, manager):
    mine, _ = api_token_create(user=marketer, name="mine")
    theirs, _ = api_token_create(user=manager, name="theirs")
    client.force_login(marketer)
    body = client.get("/accounts/profile/").content.decode()
    assert mine.prefix in body and theirs.prefix not in body


def test_revoking_a_token_makes_it_401(client, marketer):
    row, token = api_token_create(user=marketer)
    client.force_login(marketer)
    response = client.post(f"/accounts/profile/tokens/{row.pk}/revoke/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/leads/").status_code == 401
    # Revoking again is refused with a message, not an error page.
    response = client.post(f"/accounts/profile/tokens/{row.pk}/revoke/", follow=True)
    assert "already revoked" in response.content.decode()


def test_cannot_revoke_someone_elses_token(client, marketer, manager):
    row, _ = api_token_create(user=manager)
    client.force_login(marketer)
    assert client.post(f"/accounts/profile/tokens/{row.pk}/revoke/").status_code == 404
    row.refresh_from_db()
    assert row.revoked_at is None


def test_revoke_needs_post(client, marketer):
    row, _ = api_token_create(user=marketer)
    client.force_login(marketer)
    assert client.get(f"/accounts/profile/tokens/{row.pk}/revoke/").status_code == 405


def test_profile_form_is_csrf_protected(marketer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    assert client.post("/accounts/profile/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_inactive_user_cannot_get_a_token(db):
    user = factories.marketer(username="gone", is_active=False)
    with pytest.raises(InvalidInput):
        api_token_create(user=user)
