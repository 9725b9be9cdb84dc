"""The API's error format and its edges: always JSON {"detail": ...}, never a 5xx."""

import pytest
from django.test import override_settings

from leads.models import Stage


def test_unknown_api_path_is_json_404(client_as, db):
    for client in (client_as("anonymous"), client_as("manager")):
        response = client.get("/api/v1/nothing/here")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


def test_malformed_json_is_400(client_as, make_lead):
    lead = make_lead(Stage.NEW)
    response = client_as("marketer").post(
        f"/api/v1/leads/{lead.pk}/qualify/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_form_encoded_body_is_415(client_as, make_lead):
    lead = make_lead(Stage.NEW)
    response = client_as("marketer").post(f"/api/v1/leads/{lead.pk}/qualify/", {"note": "x"})
    assert response.status_code == 415
    assert response.json()["detail"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_oversized_json_body_is_413(client_as, campaign):
    body = '{"last_name": "' + "x" * 5000 + '"}'
    response = client_as("marketer").post("/api/v1/leads/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"]


def test_validation_error_body_lists_fields(client_as, make_lead):
    lead = make_lead(Stage.NEW)
    response = client_as("marketer").post(
        f"/api/v1/leads/{lead.pk}/disqualify/", {"reason": "x", "note": "n" * 600}, format="json"
    )
    body = response.json()
    assert response.status_code == 400
    assert set(body["errors"]) == {"reason", "note"}
    assert body["detail"].startswith("Invalid input: ")


def test_service_refusal_with_field_is_reported_per_field(client_as, make_lead):
    lead = make_lead(Stage.OPPORTUNITY)
    response = client_as("rep").post(f"/api/v1/leads/{lead.pk}/won/", {"value": 0}, format="json")
    assert response.json() == {
        "detail": "A won deal needs a value above zero.",
        "errors": {"value": ["A won deal needs a value above zero."]},
    }


@pytest.mark.parametrize("language, word", [("nl", "Niet gevonden"), ("en", "Not found")])
def test_errors_follow_the_accept_language(client_as, db, language, word):
    response = client_as("manager").get("/api/v1/leads/999/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 404
    # Dutch falls back to English until the nl catalogue has the string; no crash either way.
    assert response.json()["detail"] in (f"{word}.", "Not found.")


@pytest.mark.parametrize("role, status", [("anonymous", 401), ("marketer", 400)])
def test_deeply_nested_json_is_a_4xx_not_500(client_as, campaign, role, status):
    # Thousands of brackets exhaust the JSON decoder's stack (a RecursionError).
    body = "[" * 5000 + "]" * 5000
    response = client_as(role).post("/api/v1/leads/", body, content_type="application/json")
    assert response.status_code == status
    assert response.json()["detail"]
