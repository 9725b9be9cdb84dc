"""/api/v1/leads/: the list (the lead list's filters and scope, keyset cursor), detail and
create through lead_intake (dedupe into a touch)."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from leads.models import Lead, Origin, Stage, Touch

from .conftest import UNAUTHENTICATED


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def three_leads(make_lead, other_rep):
    """A new lead, one handed to rep1, one handed to rep2, one in the unassigned queue."""
    return {
        "new": make_lead(Stage.NEW),
        "mine": make_lead(Stage.ACCEPTED),
        "theirs": make_lead(Stage.ACCEPTED, owner=other_rep),
        "queue": make_lead(Stage.HANDED_OFF, owner=None),
    }


@pytest.mark.parametrize(
    "role, visible",
    [
        ("marketer", {"new", "mine", "theirs", "queue"}),
        ("manager", {"new", "mine", "theirs", "queue"}),
        ("rep", {"mine", "queue"}),
        ("other_rep", {"theirs", "queue"}),
    ],
)
def test_list_shows_each_role_its_scope(client_as, three_leads, role, visible):
    expected = {three_leads[name].pk for name in visible}
    assert ids(client_as(role).get("/api/v1/leads/")) == expected


@pytest.mark.parametrize("role", UNAUTHENTICATED)
def test_list_and_detail_refuse_the_unauthenticated(client_as, three_leads, role):
    client = client_as(role)
    assert client.get("/api/v1/leads/").status_code == 401
    assert client.get(f"/api/v1/leads/{three_leads['new'].pk}/").status_code == 401


@pytest.mark.parametrize(
    "role, lead, status",
    [
        ("marketer", "theirs", 200),
        ("manager", "theirs", 200),
        ("rep", "mine", 200),
        ("rep", "queue", 200),
        ("rep", "theirs", 404),
        ("rep", "new", 404),
        ("other_rep", "mine", 404),
        ("other_rep", "theirs", 200),
    ],
)
def test_detail_is_scoped_and_another_reps_lead_is_404(client_as, three_leads, role, lead, status):
    response = client_as(role).get(f"/api/v1/leads/{three_leads[lead].pk}/")
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": "Not found."}
    else:
        assert response.json()["id"] == three_leads[lead].pk


def test_detail_shows_the_lead_fields(client_as, make_lead, rep):
    lead = make_lead(Stage.ACCEPTED, company="Acme")
    body = client_as("manager").get(f"/api/v1/leads/{lead.pk}").json()
    assert body["url"].endswith(f"/api/v1/leads/{lead.pk}/")
    assert (body["stage"], body["owner"], body["owner_username"]) == ("accepted", rep.pk, "rep1")
    assert body["owner_side"] == "sales" and body["company"] == "Acme"
    assert body["campaign_name"] == lead.campaign.name
    assert body["accepted_at"] is not None and body["open_flags"] == []


def test_unknown_lead_and_non_numeric_id_are_404(client_as, db):
    client = client_as("manager")
    assert client.get("/api/v1/leads/999999/").status_code == 404
    assert client.get("/api/v1/leads/abc/").status_code == 404
    assert client.get("/api/v1/leads/99999999999999999999999999/").status_code == 404


# --- filters, search, sort -------------------------------------------------------------


def test_list_reuses_the_lead_lists_filters(client_as, three_leads, rep):
    client = client_as("marketer")
    assert ids(client.get("/api/v1/leads/", {"stage": ["new", "handed_off"]})) == {
        three_leads["new"].pk,
        three_leads["queue"].pk,
    }
    assert ids(client.get("/api/v1/leads/", {"owner": rep.pk})) == {three_leads["mine"].pk}
    assert ids(client.get("/api/v1/leads/", {"owner": "none", "stage": "handed_off"})) == {
        three_leads["queue"].pk
    }
    email = three_leads["theirs"].email
    assert ids(client.get("/api/v1/leads/", {"q": email.upper()})) == {three_leads["theirs"].pk}


def test_owner_me_means_the_caller(client_as, three_leads):
    assert ids(client_as("rep").get("/api/v1/leads/", {"owner": "me"})) == {three_leads["mine"].pk}


def test_a_rep_cannot_filter_their_way_into_another_reps_leads(client_as, three_leads, other_rep):
    response = client_as("rep").get("/api/v1/leads/", {"owner": other_rep.pk})
    assert ids(response) == set()


def test_sort_follows_the_lead_list(client_as, make_lead):
    make_lead(Stage.NEW, last_name="Zeta")
    make_lead(Stage.NEW, last_name="Alpha")
    rows = client_as("marketer").get("/api/v1/leads/", {"sort": "name"}).json()["results"]
    assert [r["last_name"] for r in rows] == ["Alpha", "Zeta"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"stage": "bogus"}, "stage"),
        ({"owner": "someone"}, "owner"),
        ({"owner": "99999999999999999999"}, "owner"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_from": "0001-01-01"}, "created_from"),
        ({"created_to": "9999-12-31"}, "created_to"),
        ({"created_from": "2026-02-01", "created_to": "2026-01-01"}, "created_to"),
        ({"sort": "salary"}, "sort"),
        ({"campaign": "abc"}, "campaign"),
        ({"campaign": "99999999999999999999999"}, "campaign"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_size": "\u00b2"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_filters_are_400_with_the_field(client_as, three_leads, params, field):
    response = client_as("marketer").get("/api/v1/leads/", params)
    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"] and body["detail"]


@pytest.mark.parametrize(
    "values",
    [["x", "y"], [{"t": "not a time"}, 1], [{"t": "2026-01-01T00:00:00+00:00"}, "abc"]],
)
def test_hand_made_cursors_are_400_not_500(client_as, three_leads, values):
    raw = json.dumps({"v": values, "d": "next"}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client_as("marketer").get("/api/v1/leads/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_cursor_walks_every_lead_once_forwards_and_back(client_as, make_lead):
    created = {make_lead(Stage.NEW).pk for _ in range(7)}
    client = client_as("marketer")
    seen, pages, url = [], [], "/api/v1/leads/?page_size=3&sort=name"
    while url:
        body = client.get(url).json()
        pages.append(body)
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 7 and set(seen) == created
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert pages[0]["previous"] is None
    # The last page's "previous" gives back the middle page.
    back = client.get(pages[-1]["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in pages[1]["results"]]
    # Links keep the filters.
    query = parse_qs(urlsplit(pages[0]["next"]).query)
    assert query["sort"] == ["name"] and query["page_size"] == ["3"]


def test_list_query_count_does_not_grow_with_leads(
    client_as, make_lead, other_rep, django_assert_max_num_queries
):
    client = client_as("marketer")
    for _ in range(3):
        make_lead(Stage.HANDED_OFF)
    client.get("/api/v1/leads/")  # warm the token's last_used_at write
    with django_assert_max_num_queries(6) as few:
        client.get("/api/v1/leads/?stage=handed_off&flag=&q=")
    for _ in range(12):
        make_lead(Stage.ACCEPTED, owner=other_rep)
    lead = Lead.objects.filter(stage="accepted").first()
    lead.flags.create(kind="stalled", side="sales", raised_at=lead.created_at)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/leads/")
    assert len(response.json()["results"]) == 15


# --- create ----------------------------------------------------------------------------


def test_marketer_logs_a_lead_201(client_as, campaign):
    response = client_as("marketer").post(
        "/api/v1/leads/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "campaign": campaign.pk,
            "inquiry_type": "phone_call",
            "utm_source": "newsletter",
            "notes": "Wants a demo",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] is True
    lead = Lead.objects.get(pk=body["lead"]["id"])
    assert response["Location"].endswith(f"/api/v1/leads/{lead.pk}/")
    assert (lead.stage, lead.origin, lead.inquiry_type) == ("new", "marketing", "phone_call")
    assert lead.utm_source == "newsletter" and lead.campaign == campaign
    touch = Touch.objects.get(pk=body["touch_id"])
    assert (touch.lead, touch.source, touch.message) == (lead, "api", "Wants a demo")


def test_known_email_becomes_a_touch_200(client_as, make_lead, campaign):
    lead = make_lead(Stage.MQL, email="known@example.com")
    response = client_as("marketer").post(
        "/api/v1/leads/",
        {"last_name": "Known", "email": "KNOWN@example.com", "campaign": campaign.pk},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["created"] is False and body["lead"]["id"] == lead.pk
    assert Lead.objects.count() == 1
    assert Touch.objects.filter(lead=lead).count() == 2


def test_rep_logs_a_sales_generated_lead(client_as, rep):
    response = client_as("rep").post(
        "/api/v1/leads/", {"last_name": "Found", "phone": "+31 6 1"}, format="json"
    )
    assert response.status_code == 201
    lead = Lead.objects.get(pk=response.json()["lead"]["id"])
    assert (lead.origin, lead.stage, lead.owner) == (Origin.SALES, Stage.ACCEPTED, rep)


def test_reps_touch_on_another_reps_lead_does_not_reveal_it(client_as, make_lead, other_rep):
    lead = make_lead(Stage.ACCEPTED, owner=other_rep, email="taken@example.com")
    response = client_as("rep").post(
        "/api/v1/leads/", {"last_name": "X", "email": "taken@example.com"}, format="json"
    )
    # 202 and nulls: neither "created: false", the lead nor the touch's id (issue 15, #7).
    assert response.status_code == 202
    body = response.json()
    assert (body["created"], body["touch_id"], body["lead"]) == (None, None, None)
    assert "another salesperson" in body["detail"]
    assert Touch.objects.filter(lead=lead).count() == 2


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "a@example.com"}, "last_name"),
        ({"last_name": "X", "email": "not-an-email"}, "email"),
        ({"last_name": "X"}, "email"),  # neither email nor phone: the service's rule
        ({"last_name": "X", "email": "a@example.com", "campaign": None}, "campaign"),
        ({"last_name": "X", "email": "a@example.com", "campaign": 999999}, "campaign"),
        ({"last_name": "X" * 101, "email": "a@example.com"}, "last_name"),
        ({"last_name": "X\x00", "email": "a@example.com"}, "last_name"),
        ({"last_name": "X", "email": "a@example.com", "inquiry_type": "pigeon"}, "inquiry_type"),
    ],
)
def test_bad_lead_input_is_400_per_field(client_as, campaign, data, field):
    data = {"campaign": campaign.pk, **data}
    response = client_as("marketer").post("/api/v1/leads/", data, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"], body
    assert isinstance(body["errors"][field], list) and body["detail"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("role, status", [*((r, 401) for r in UNAUTHENTICATED)])
def test_create_refuses_the_unauthenticated(client_as, campaign, role, status):
    response = client_as(role).post(
        "/api/v1/leads/", {"last_name": "X", "email": "x@example.com"}, format="json"
    )
    assert response.status_code == status
    assert not Lead.objects.exists()


def test_create_refuses_a_user_without_role(token_client, no_role_user, campaign):
    response = token_client(no_role_user).post(
        "/api/v1/leads/",
        {"last_name": "X", "email": "x@example.com", "campaign": campaign.pk},
        format="json",
    )
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_lead_is_read_only_through_put_and_delete(client_as, make_lead):
    lead = make_lead(Stage.NEW)
    client = client_as("manager")
    assert client.put(f"/api/v1/leads/{lead.pk}/", {}, format="json").status_code == 405
    assert client.delete(f"/api/v1/leads/{lead.pk}/").status_code == 405
    assert Lead.objects.filter(pk=lead.pk).exists()
