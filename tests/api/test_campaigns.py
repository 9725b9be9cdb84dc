"""/api/v1/campaigns/: marketers and managers list, read, create and edit campaigns and see
the intake key; salespeople get a 403 (SPEC §1)."""

from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign
from tests import factories

from .conftest import UNAUTHENTICATED

NEW = {"name": "Spring webinar", "channel": "events", "start_date": "2026-03-01"}


@pytest.mark.parametrize(
    "role, status",
    [
        ("marketer", 200),
        ("manager", 200),
        ("rep", 403),
        ("other_rep", 403),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_list_and_detail_by_role(client_as, campaign, role, status):
    client = client_as(role)
    listed = client.get("/api/v1/campaigns/")
    detail = client.get(f"/api/v1/campaigns/{campaign.pk}/")
    assert (listed.status_code, detail.status_code) == (status, status)
    if status == 200:
        assert [c["id"] for c in listed.json()["results"]] == [campaign.pk]
        assert detail.json()["intake_key"] == campaign.intake_key
        assert detail.json()["intake_url"].endswith(f"/intake/{campaign.intake_key}/")
    else:
        assert "intake_key" not in detail.content.decode()


@pytest.mark.parametrize(
    "role, status",
    [
        ("marketer", 201),
        ("manager", 201),
        ("rep", 403),
        ("other_rep", 403),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_create_by_role(client_as, users, role, status):
    response = client_as(role).post("/api/v1/campaigns/", NEW, format="json")
    assert response.status_code == status, response.content
    if status == 201:
        campaign = Campaign.objects.get(name="Spring webinar")
        assert campaign.owner == users[role]
        assert response.json()["intake_key"] == campaign.intake_key
    else:
        assert not Campaign.objects.filter(name="Spring webinar").exists()


@pytest.mark.parametrize(
    "role, status",
    [
        ("marketer", 200),
        ("manager", 200),
        ("rep", 403),
        ("other_rep", 403),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_record_spend_by_role(client_as, campaign, role, status):
    response = client_as(role).patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"spend": "7250.10"}, format="json"
    )
    assert response.status_code == status
    entries = list(campaign.spend_entries.values_list("start", "end", "amount"))
    if status == 200:
        # "Set the total": one entry of it over the campaign's dates replaces the others.
        assert entries == [(campaign.start_date, timezone.localdate(), Decimal("7250.10"))]
        assert response.json()["spend"] == "7250.10"
    else:
        assert [amount for _s, _e, amount in entries] == [Decimal("5000.00")]


def test_put_replaces_the_fields(client_as, campaign):
    response = client_as("marketer").put(
        f"/api/v1/campaigns/{campaign.pk}/",
        {**NEW, "budget": "100.00", "allowed_origin": "https://www.example.com"},
        format="json",
    )
    assert response.status_code == 200, response.content
    campaign.refresh_from_db()
    assert (campaign.name, campaign.allowed_origin) == (
        "Spring webinar",
        "https://www.example.com",
    )


def test_intake_key_cannot_be_set_through_the_api(client_as, campaign):
    key = campaign.intake_key
    client_as("marketer").patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"intake_key": "chosen"}, format="json"
    )
    campaign.refresh_from_db()
    assert campaign.intake_key == key


@pytest.mark.parametrize(
    "data, field",
    [
        ({**NEW, "end_date": "2026-02-01"}, "end_date"),
        ({**NEW, "budget": "-1"}, "budget"),
        ({**NEW, "spend": "99999999999"}, "spend"),
        ({**NEW, "channel": "radio"}, "channel"),
        ({**NEW, "utm_campaign": "CAMP-TAKEN"}, "utm_campaign"),
        ({**NEW, "allowed_origin": "https://user:pw@www.example.com"}, "allowed_origin"),
        ({**NEW, "allowed_origin": "ftp://www.example.com"}, "allowed_origin"),
        ({**NEW, "allowed_origin": "javascript:alert(1)"}, "allowed_origin"),
        ({**NEW, "owner": "rep"}, "owner"),
        ({"channel": "events", "start_date": "2026-03-01"}, "name"),
    ],
)
def test_bad_campaigns_are_400_not_database_errors(client_as, users, data, field):
    factories.CampaignFactory(utm_campaign="camp-taken")
    if data.get("owner") in users:
        data = {**data, "owner": users[data["owner"]].pk}
    response = client_as("marketer").post("/api/v1/campaigns/", data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert Campaign.objects.count() == 1


def test_list_filters_by_channel_and_paginates(client_as):
    for i in range(3):
        factories.CampaignFactory(channel="email", name=f"Mail {i}")
    factories.CampaignFactory(channel="events")
    client = client_as("manager")
    body = client.get("/api/v1/campaigns/", {"channel": "email", "page_size": 2}).json()
    assert len(body["results"]) == 2 and body["next"]
    rest = client.get(body["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert client.get("/api/v1/campaigns/", {"channel": "radio"}).status_code == 400


def test_edit_checks_the_same_rules_as_the_page(client_as, campaign):
    factories.CampaignFactory(utm_campaign="taken")
    client = client_as("marketer")
    response = client.patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"utm_campaign": "TAKEN"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "utm_campaign": ["Another campaign already uses this UTM code."]
    }
    response = client.patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"end_date": "2025-01-01"}, format="json"
    )
    assert response.status_code == 400 and "end_date" in response.json()["errors"]


@pytest.mark.parametrize(
    "role, status",
    [
        ("marketer", 200),
        ("manager", 200),
        ("rep", 403),
        ("other_rep", 403),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_rotate_key_by_role(client_as, campaign, role, status):
    old = campaign.intake_key
    response = client_as(role).post(f"/api/v1/campaigns/{campaign.pk}/rotate-key/")
    assert response.status_code == status
    campaign.refresh_from_db()
    if status == 200:
        assert campaign.intake_key != old
        assert response.json()["intake_key"] == campaign.intake_key
        # The old key stops working at once.
        intake = APIClient().post(
            f"/intake/{old}/", {"last_name": "X", "email": "x@example.com"}, format="json"
        )
        assert intake.status_code == 404
    else:
        assert campaign.intake_key == old


def test_campaigns_cannot_be_deleted(client_as, campaign):
    assert client_as("manager").delete(f"/api/v1/campaigns/{campaign.pk}/").status_code == 405
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_leads_do_not_expose_the_intake_key(client_as, make_lead, campaign):
    lead = make_lead("accepted")
    body = client_as("rep").get(f"/api/v1/leads/{lead.pk}/").content.decode()
    assert campaign.intake_key not in body
