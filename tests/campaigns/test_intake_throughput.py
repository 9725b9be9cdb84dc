"""The public intake's round trips (issue 20, item 5): one post reads its campaign, and in
that same statement whether any webhook endpoint is active and any manager exists, so it
skips those queries when there is none; nothing is cached, so a change made now counts
for the very next post; the whole post is still one transaction; and a lead that lost
the race for its email still becomes a touch (tests/leads/test_intake_race.py races it
for real)."""

import json

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from campaigns import services as campaign_services
from campaigns.models import new_intake_key
from leadflow.models import NotificationKind, WebhookDelivery, WebhookEndpoint, WebhookEvent
from leads.models import Lead, StageChange, Touch
from leads.services import lead_intake_in_transaction
from tests import factories


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ownerless(db):
    return factories.CampaignFactory(owner=None)


def post(campaign, n, key=None):
    body = {"last_name": f"Lead {n}", "email": f"lead-{n}@example.com"}
    return Client().post(
        f"/intake/{key or campaign.intake_key}/", json.dumps(body), content_type="application/json"
    )


def created_events():
    return WebhookDelivery.objects.filter(event_type=WebhookEvent.LEAD_CREATED)


def test_a_new_lead_costs_six_statements_when_nobody_is_to_be_told(
    ownerless, django_assert_max_num_queries
):
    assert post(ownerless, 0).status_code == 200  # the SLA policies, read once a minute
    # campaign (with the two checks), duplicate lookup, SAVEPOINT (never released), lead,
    # stage change, touch; plus the SAVEPOINT and RELEASE that stand for BEGIN and COMMIT
    # in the test's transaction (BEGIN and COMMIT themselves are not cursor statements).
    with django_assert_max_num_queries(6 + 2):
        assert post(ownerless, 1).status_code == 200
    assert Lead.objects.count() == Touch.objects.count() == StageChange.objects.count() == 2


def test_an_endpoint_made_active_now_gets_the_very_next_intakes_event(ownerless):
    assert post(ownerless, 1).status_code == 200
    assert not created_events().exists()
    endpoint = WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/", events=[WebhookEvent.LEAD_CREATED], secret="x"
    )
    assert post(ownerless, 2).status_code == 200
    [delivery] = created_events()
    assert delivery.endpoint == endpoint
    assert delivery.payload["lead"]["id"] == Lead.objects.get(email="lead-2@example.com").pk
    endpoint.is_active = False
    endpoint.save()
    assert post(ownerless, 3).status_code == 200
    assert created_events().count() == 1


def test_a_manager_added_now_hears_of_the_very_next_lead(ownerless):
    assert post(ownerless, 1).status_code == 200
    boss = factories.manager(username="boss")
    assert post(ownerless, 2).status_code == 200
    [note] = boss.notifications.filter(kind=NotificationKind.NEW_HAND_RAISER)
    assert note.lead.email == "lead-2@example.com"


def test_an_active_owner_is_told_and_the_managers_are_not(campaign, marketer, manager):
    assert post(campaign, 1).status_code == 200
    assert marketer.notifications.filter(kind=NotificationKind.NEW_HAND_RAISER).count() == 1
    assert not manager.notifications.exists()


def test_a_rotated_key_stops_working_for_the_very_next_post(ownerless):
    old = ownerless.intake_key
    assert post(ownerless, 1).status_code == 200
    ownerless.intake_key = new_intake_key()
    ownerless.save()
    assert post(ownerless, 2, key=old).status_code == 404
    assert post(ownerless, 3).status_code == 200
    assert set(Lead.objects.values_list("email", flat=True)) == {
        "lead-1@example.com",
        "lead-3@example.com",
    }


def test_a_failure_after_the_lead_undoes_the_whole_post(ownerless, manager, monkeypatch):
    """Without lead_intake's own savepoint the post is still one transaction: an error in
    the notice leaves no lead, touch, stage change or event behind."""
    WebhookEndpoint.objects.create(
        url="http://127.0.0.1:9/", events=[WebhookEvent.LEAD_CREATED], secret="x"
    )

    def broken(lead):
        raise RuntimeError("notice failed")

    monkeypatch.setattr(campaign_services, "notify_new_hand_raiser", broken)
    with pytest.raises(RuntimeError):
        post(ownerless, 1)
    assert not Lead.objects.exists() and not Touch.objects.exists()
    assert not StageChange.objects.exists() and not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_lead_intake_in_transaction_refuses_to_run_outside_one():
    campaign = factories.CampaignFactory(owner=None)
    with pytest.raises(transaction.TransactionManagementError):
        lead_intake_in_transaction(
            by=None, data={"last_name": "X", "email": "x@example.com"}, campaign=campaign
        )
    assert not Lead.objects.exists()


def test_a_post_that_loses_the_race_for_its_email_becomes_a_touch(ownerless, monkeypatch):
    """The other post's lead committed between this post's duplicate lookup and its
    INSERT: the unique index refuses the INSERT, the post rolls back to just before it and
    adds a touch to that lead; the rest of the post's transaction stands."""
    from leads import services as lead_services

    assert post(ownerless, 1).status_code == 200
    first = Lead.objects.get()
    real = lead_services.find_open_lead_by_email
    calls = []

    def missed_once(email, **kwargs):
        calls.append(email)
        return None if len(calls) == 1 else real(email, **kwargs)

    monkeypatch.setattr(lead_services, "find_open_lead_by_email", missed_once)
    assert post(ownerless, 1).status_code == 200
    assert len(calls) == 2
    assert Lead.objects.get() == first
    assert Touch.objects.filter(lead=first).count() == 2
    assert StageChange.objects.filter(lead=first).count() == 1
