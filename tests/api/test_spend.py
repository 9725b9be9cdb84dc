"""The spend entries' API (issue 19): GET and POST /api/v1/campaigns/{id}/spend/, and
PATCH {"spend": X} as "set the total"."""

import datetime as dt
from decimal import Decimal

import pytest

from campaigns.models import SpendEntry
from tests import factories


def day(n, month=10):
    return dt.date(2026, month, n)


@pytest.fixture
def bare(db):
    return factories.CampaignFactory(name="Bare", utm_campaign="bare-code", spend=0)


def entry(campaign, start, end, amount):
    return SpendEntry.objects.create(
        campaign=campaign, start=start, end=end, amount=Decimal(amount)
    )


def test_api_records_and_lists_spend_entries(client_as, bare):
    api = client_as("marketer")
    url = f"/api/v1/campaigns/{bare.pk}/spend/"
    body = {"start": "2026-10-01", "end": "2026-10-31", "amount": "4200.00"}
    created = api.post(url, body, format="json")
    assert created.status_code == 201
    assert created.json()["amount"] == "4200.00" and created.json()["created_by"] == "marketer"
    listed = api.get(url).json()
    assert [(e["start"], e["end"], e["amount"]) for e in listed] == [
        ("2026-10-01", "2026-10-31", "4200.00")
    ]
    assert api.get(f"/api/v1/campaigns/{bare.pk}/").json()["spend"] == "4200.00"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"start": "2026-10-31", "end": "2026-10-01", "amount": "1"}, "end"),
        ({"start": "2026-10-01", "end": "2026-10-31", "amount": "-1"}, "amount"),
        ({"start": "first of October", "end": "2026-10-31", "amount": "1"}, "start"),
        ({"start": "2026-10-01", "end": "2026-10-31"}, "amount"),
        ({"start": "2026-10-01", "end": "2026-10-31", "amount": "1.234"}, "amount"),
    ],
)
def test_api_refuses_bad_spend_with_a_400_and_detail(client_as, bare, body, field):
    response = client_as("manager").post(
        f"/api/v1/campaigns/{bare.pk}/spend/", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] and field in response.json()["errors"]
    assert not SpendEntry.objects.exists()


@pytest.mark.parametrize("role, status", [("rep", 403), ("other_rep", 403), ("anonymous", 401)])
def test_api_spend_is_not_for_salespeople(client_as, bare, role, status):
    url = f"/api/v1/campaigns/{bare.pk}/spend/"
    body = {"start": "2026-10-01", "end": "2026-10-31", "amount": "1.00"}
    assert client_as(role).post(url, body, format="json").status_code == status
    assert client_as(role).get(url).status_code == status
    assert not SpendEntry.objects.exists()


def test_patch_spend_sets_the_total_over_the_campaigns_dates(client_as, bare):
    bare.end_date = day(31, 12)
    bare.save()
    entry(bare, day(1), day(31), "4200.00")
    entry(bare, day(1, 11), day(30, 11), "800.00")
    response = client_as("marketer").patch(
        f"/api/v1/campaigns/{bare.pk}/", {"spend": "1000.00"}, format="json"
    )
    assert response.status_code == 200 and response.json()["spend"] == "1000.00"
    assert list(bare.spend_entries.values_list("start", "end", "amount")) == [
        (bare.start_date, day(31, 12), Decimal("1000.00"))
    ]
    client_as("marketer").patch(f"/api/v1/campaigns/{bare.pk}/", {"spend": "0"}, format="json")
    assert not bare.spend_entries.exists()
