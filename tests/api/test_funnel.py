"""/api/v1/funnel/ (the dashboard's numbers) answers API clients with a token too."""

import pytest

from leads.models import Stage

from .conftest import UNAUTHENTICATED

KEYS = {
    "generated",
    "mql",
    "handed_off",
    "accepted",
    "contacted",
    "opportunity",
    "won",
    "lost",
    "won_value",
    "acceptance_rate",
    "contact_in_sla_rate",
    "median_hours_to_first_contact",
    "win_rate",
    "ball_dropped",
    # Issue 16: added after the others, none renamed.
    "spend",
    "cost_per_lead",
    "cost_per_won",
    "speed_to_lead",
    "court_time",
    "attempts",
    "honesty",
    # Issue 19: the attribution under ?model= (default first touch).
    "attribution",
    # Issue 19.
    "revenue_at_risk",
}


@pytest.mark.parametrize(
    "role, status",
    [
        ("marketer", 200),
        ("manager", 200),
        ("rep", 200),
        ("other_rep", 200),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_funnel_by_role(client_as, make_lead, role, status):
    make_lead(Stage.WON)
    response = client_as(role).get("/api/v1/funnel/")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert set(body) == KEYS
        assert body["generated"] == 1 and body["won"] == 1 and body["won_value"] == "6000.00"


def test_funnel_refuses_a_user_without_role(token_client, no_role_user):
    assert token_client(no_role_user).get("/api/v1/funnel/").status_code == 403


def test_funnel_bad_filters_are_400(client_as, db):
    response = client_as("manager").get("/api/v1/funnel/?start=soon")
    assert response.status_code == 400
    assert "start" in response.json()["errors"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("end=9999-12-31", "end"),
        ("start=0001-01-01&end=0001-01-02", "start"),
        ("start=0001-01-01", "start"),
    ],
)
def test_funnel_dates_out_of_range_are_400_not_500(client_as, db, query, field):
    response = client_as("manager").get(f"/api/v1/funnel/?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]
