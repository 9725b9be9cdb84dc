"""Personal data stays out of shared and browser caches: every answer to a signed-in
request, and every API answer, is ``Cache-Control: private, no-store``."""

from django.urls import reverse
from rest_framework.test import APIClient

from leadflow.services import api_token_create

NO_STORE = "private, no-store"


def test_a_logged_in_page_is_not_stored(marketer_client):
    response = marketer_client.get("/campaigns/")
    assert response.status_code == 200
    assert response["Cache-Control"] == NO_STORE


def test_the_csv_export_is_not_stored(marketer_client):
    response = marketer_client.get(reverse("leads:export"))
    assert response.status_code == 200
    assert response["Cache-Control"] == NO_STORE


def test_an_api_answer_with_a_token_is_not_stored(marketer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=marketer)[1]}")
    response = client.get("/api/v1/leads/")
    assert response.status_code == 200
    assert response["Cache-Control"] == NO_STORE


def test_an_api_refusal_is_not_stored_either(db):
    response = APIClient().get("/api/v1/leads/")
    assert response.status_code == 401
    assert response["Cache-Control"] == NO_STORE


def test_a_views_own_cache_control_is_kept(client, marketer):
    client.force_login(marketer)
    response = client.post("/accounts/profile/", {"name": "ad platform"})
    assert response["Cache-Control"] == "no-store"


def test_health_still_says_no_store(client, db):
    assert "no-store" in client.get("/health/")["Cache-Control"]


def test_the_login_page_keeps_djangos_own_never_cache(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "must-revalidate" in response["Cache-Control"]
