"""/api/v1/users/: the active users with role, availability and teams, readable by every
role, so an API client can find the ``to_user`` id of a hand-off (issue 18, item 8)."""

import pytest

from leadflow.models import Profile
from sales import services
from sales.services import REASSIGN_ROUND_ROBIN
from tests import factories

from .conftest import UNAUTHENTICATED


@pytest.fixture
def team(users):
    factories.UserFactory(username="outsider")  # no role
    first = users["rep"]
    first.first_name, first.last_name = "Sanne", "Bakker"
    first.save()
    Profile.objects.update_or_create(user=users["other_rep"], defaults={"is_available": False})
    return users


def listing(client, query=""):
    response = client.get(f"/api/v1/users/{query}")
    assert response.status_code == 200, response.content
    return {row["username"]: row for row in response.json()["results"]}


@pytest.mark.parametrize("role", ["marketer", "rep", "other_rep", "manager"])
def test_every_role_reads_the_users(client_as, team, role):
    rows = listing(client_as(role))
    assert set(rows) == {"marketer", "rep1", "rep2", "manager", "outsider"}
    assert rows["rep1"] == {
        "id": team["rep"].pk,
        "username": "rep1",
        "full_name": "Sanne Bakker",
        "role": "sales",
        "available": True,
        "teams": [],
    }
    assert rows["rep2"]["available"] is False
    assert (rows["manager"]["role"], rows["marketer"]["role"], rows["outsider"]["role"]) == (
        "manager",
        "marketing",
        None,
    )


@pytest.mark.parametrize("role", UNAUTHENTICATED)
def test_unauthenticated_callers_get_401(client_as, team, role):
    assert client_as(role).get("/api/v1/users/").status_code == 401


def test_filter_by_role_and_availability(client_as, team):
    client = client_as("marketer")
    assert set(listing(client, "?role=sales")) == {"rep1", "rep2"}
    assert set(listing(client, "?role=sales&available=true")) == {"rep1"}
    assert set(listing(client, "?role=sales&available=false")) == {"rep2"}
    assert set(listing(client, "?role=manager")) == {"manager"}


def test_deactivated_users_are_not_listed(client_as, team):
    services.user_deactivate(user=team["rep"], by=team["manager"], reassign=REASSIGN_ROUND_ROBIN)
    assert "rep1" not in listing(client_as("marketer"), "?role=sales")


@pytest.mark.parametrize("query", ["?role=admin", "?available=maybe"])
def test_bad_filters_are_a_400_with_detail(client_as, team, query):
    response = client_as("rep").get(f"/api/v1/users/{query}")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_listed_id_is_a_valid_hand_off_target(client_as, team, make_lead):
    from leads.models import Stage

    lead = make_lead(Stage.MQL)
    client = client_as("marketer")
    rep_id = listing(client, "?role=sales&available=true")["rep1"]["id"]
    response = client.post(
        f"/api/v1/leads/{lead.pk}/hand-off/", {"mode": "rep", "to_user": rep_id}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["owner"] == rep_id


def test_query_count_does_not_grow_with_users(client_as, team, django_assert_max_num_queries):
    client = client_as("manager")
    for n in range(20):
        factories.rep(username=f"extra{n}")
    with django_assert_max_num_queries(8):
        client.get("/api/v1/users/")
