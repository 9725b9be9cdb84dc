"""/api/v1/disputes/: disputed rejections in the caller's scope; managers rule on them."""

import pytest

from leads.models import Lead, Stage
from sales.models import Dispute

from .conftest import UNAUTHENTICATED


@pytest.fixture
def dispute(make_lead, client_as):
    lead = make_lead(Stage.REJECTED)
    response = client_as("marketer").post(
        f"/api/v1/leads/{lead.pk}/dispute/", {"comment": "They never called."}, format="json"
    )
    assert response.status_code == 201
    return Dispute.objects.get(pk=response.json()["id"])


@pytest.mark.parametrize(
    "role, status, count",
    [
        ("marketer", 200, 1),
        ("manager", 200, 1),
        # The disputed lead is back with marketing: outside a rep's scope.
        ("rep", 200, 0),
        ("other_rep", 200, 0),
        *((r, 401, None) for r in UNAUTHENTICATED),
    ],
)
def test_list_by_role(client_as, dispute, role, status, count):
    response = client_as(role).get("/api/v1/disputes/")
    assert response.status_code == status
    if count is not None:
        assert len(response.json()["results"]) == count
        detail = client_as(role).get(f"/api/v1/disputes/{dispute.pk}/")
        assert detail.status_code == (200 if count else 404)


def test_open_filter(client_as, dispute):
    client = client_as("manager")
    assert len(client.get("/api/v1/disputes/?open=true").json()["results"]) == 1
    assert len(client.get("/api/v1/disputes/?open=false").json()["results"]) == 0
    assert client.get("/api/v1/disputes/?open=maybe").status_code == 400


@pytest.mark.parametrize(
    "role, status",
    [
        ("manager", 200),
        ("marketer", 403),
        ("rep", 404),
        ("other_rep", 404),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_rule_by_role(client_as, dispute, role, status):
    response = client_as(role).post(
        f"/api/v1/disputes/{dispute.pk}/rule/", {"ruling": "upheld"}, format="json"
    )
    assert response.status_code == status, response.content
    dispute.refresh_from_db()
    assert (dispute.ruling == "upheld") is (status == 200)


def test_overturn_hands_the_lead_to_the_chosen_rep(client_as, dispute, other_rep):
    response = client_as("manager").post(
        f"/api/v1/disputes/{dispute.pk}/rule/",
        {"ruling": "overturned", "to_user": other_rep.pk, "note": "Call them."},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["ruling"] == "overturned" and response.json()["is_open"] is False
    lead = Lead.objects.get(pk=dispute.lead_id)
    assert (lead.stage, lead.owner) == (Stage.HANDED_OFF, other_rep)


def test_overturn_needs_a_rep_and_ruling_twice_is_409(client_as, dispute):
    client = client_as("manager")
    response = client.post(
        f"/api/v1/disputes/{dispute.pk}/rule/", {"ruling": "overturned"}, format="json"
    )
    assert response.status_code == 400 and "to_user" in response.json()["errors"]
    response = client.post(
        f"/api/v1/disputes/{dispute.pk}/rule/", {"ruling": "maybe"}, format="json"
    )
    assert response.status_code == 400 and "ruling" in response.json()["errors"]
    assert (
        client.post(
            f"/api/v1/disputes/{dispute.pk}/rule/", {"ruling": "upheld"}, format="json"
        ).status_code
        == 200
    )
    again = client.post(
        f"/api/v1/disputes/{dispute.pk}/rule/", {"ruling": "upheld"}, format="json"
    )
    assert again.status_code == 409
    assert "already" in again.json()["detail"]
