"""The sales actions card on the lead page offers exactly what this user may do now."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from leads import services as marketing
from leads.models import Stage

from .helpers import unlabelled_fields


def offered(client, lead):
    """The sales actions whose forms the lead page shows."""
    response = client.get(lead.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert unlabelled_fields(body) == ([], set())
    return set(re.findall(rf'action="/sales/leads/{lead.pk}/(\w+)/"', body))


@pytest.mark.parametrize(
    "stage, actions",
    [
        (Stage.HANDED_OFF, {"accept", "reject", "log", "note"}),
        (Stage.ACCEPTED, {"reject", "log", "note", "lose"}),
        # Won in one step from contacted (through opportunity).
        (Stage.CONTACTED, {"log", "note", "opportunity", "win", "lose"}),
        (Stage.OPPORTUNITY, {"log", "note", "win", "lose"}),
        # A note or a contact that changes no stage.
        (Stage.WON, {"log", "note"}),
        (Stage.LOST, {"log", "note"}),
    ],
)
def test_rep_sees_the_actions_of_the_stage(rep_client, make_lead, stage, actions):
    assert offered(rep_client, make_lead(stage)) == actions


@pytest.mark.parametrize(
    "stage, actions",
    [
        (Stage.HANDED_OFF, {"accept", "reject", "log", "note", "reassign"}),
        (Stage.OPPORTUNITY, {"log", "note", "win", "lose", "reassign"}),
        (Stage.WON, {"log", "note", "reopen"}),
        (Stage.LOST, {"log", "note", "reopen"}),
        (Stage.MQL, set()),
    ],
)
def test_manager_also_reassigns_and_reopens(manager_client, make_lead, stage, actions):
    assert offered(manager_client, make_lead(stage)) == actions


def test_rep_sees_claim_on_a_queued_lead_and_manager_sees_assign(
    rep_client, manager_client, make_lead
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    assert offered(rep_client, lead) == {"claim", "accept", "reject"}
    assert offered(manager_client, lead) == {"reassign"}


def test_marketer_sees_no_sales_actions(marketer_client, make_lead):
    for stage in (Stage.HANDED_OFF, Stage.OPPORTUNITY, Stage.WON):
        assert offered(marketer_client, make_lead(stage)) == set()


def test_overdue_response_on_the_lead_page_says_overdue(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=26)):
        body = rep_client.get(lead.get_absolute_url()).content.decode()
    card = body[body.index('id="sales-actions"') :]
    assert "overdue by 2" in card and 'class="overdue"' in card


def test_manager_rules_a_dispute_from_the_lead_page_and_both_sides_see_it(
    manager_client, rep_client, marketer_client, make_lead, marketer, rep, other_rep
):
    lead = make_lead(Stage.REJECTED)
    marketing.dispute_raise(lead=lead, by=marketer, comment="They asked for a demo twice.")
    page = manager_client.get(lead.get_absolute_url()).content.decode()
    assert "They asked for a demo twice." in page
    assert 'action="/sales/disputes/' in page
    dispute = lead.disputes.get()
    response = manager_client.post(
        f"/sales/disputes/{dispute.pk}/rule/",
        {
            "ruling": "overturned",
            "to_user": other_rep.pk,
            "note": "Clear buying signal",
            "next": lead.get_absolute_url(),
        },
    )
    assert response["Location"] == lead.get_absolute_url()
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.HANDED_OFF, other_rep)
    for client in (marketer_client, manager_client):
        body = client.get(lead.get_absolute_url()).content.decode()
        timeline = body[body.index('class="list-unstyled timeline') :]
        assert "Rejection disputed" in timeline
        assert "They asked for a demo twice." in timeline
        assert "Rejection overturned" in timeline and "Clear buying signal" in timeline
    # The rep who rejected it no longer sees the lead, but hears of the ruling.
    assert rep_client.get(lead.get_absolute_url()).status_code == 404
    assert rep.notifications.filter(kind="dispute_ruled", lead=lead).exists()


def test_upheld_ruling_shows_on_the_timeline_for_marketing(
    manager_client, marketer_client, make_lead, marketer
):
    lead = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=lead, by=marketer, comment="Please look again")
    manager_client.post(
        f"/sales/disputes/{dispute.pk}/rule/", {"ruling": "upheld", "note": "Spam, really"}
    )
    body = marketer_client.get(lead.get_absolute_url()).content.decode()
    assert "Rejection upheld" in body and "Spam, really" in body
    lead.refresh_from_db()
    assert lead.stage == Stage.REJECTED and lead.disputed_at is None
