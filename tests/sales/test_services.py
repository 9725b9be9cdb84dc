import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from leadflow.errors import InvalidInput, TransitionNotAllowed
from leadflow.models import Notification
from leadflow.names import person
from leads import services as marketing
from leads.models import Stage, StageChange
from sales import services as sales
from sales.models import Handoff, Objection
from tests import factories


def test_logging_a_call_on_handed_off_lead_accepts_then_contacts(make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    sales.activity_log(lead=lead, by=rep, kind="call", outcome="connected", objections=["price"])
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert lead.accepted_at is not None and lead.first_contact_at is not None
    assert list(lead.stage_changes.values_list("to_stage", flat=True))[-2:] == [
        "accepted",
        "contacted",
    ]
    assert Handoff.objects.get(lead=lead).outcome == "accepted"
    assert Objection.objects.get(lead=lead).tag == "price"


def test_a_note_never_counts_as_contact(make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    sales.activity_log(lead=lead, by=rep, kind="note", notes="tried LinkedIn")
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF
    assert lead.first_contact_at is None and lead.last_contact_at is None
    assert lead.contact_due_at is not None


def test_activity_in_the_future_is_refused(make_lead, rep):
    lead = make_lead(Stage.ACCEPTED)
    with pytest.raises(InvalidInput, match="future"):
        sales.activity_log(
            lead=lead, by=rep, kind="call", occurred_at=timezone.now() + dt.timedelta(hours=2)
        )


def test_next_follow_up_must_come_after_the_activity(make_lead, rep):
    lead = make_lead(Stage.ACCEPTED)
    with pytest.raises(InvalidInput):
        sales.activity_log(
            lead=lead, by=rep, kind="call", next_follow_up_at=timezone.now() - dt.timedelta(days=1)
        )


@pytest.mark.parametrize("value", [None, "", "0", "-5", "abc", "NaN", "1e12"])
def test_won_needs_a_positive_value(make_lead, rep, value):
    lead = make_lead(Stage.OPPORTUNITY)
    with pytest.raises(InvalidInput):
        sales.lead_win(lead=lead, by=rep, value=value)
    lead.refresh_from_db()
    assert lead.stage == Stage.OPPORTUNITY


def test_lost_needs_a_reason_from_the_list(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    with pytest.raises(InvalidInput):
        sales.lead_lose(lead=lead, by=rep, reason="")
    with pytest.raises(InvalidInput):
        sales.lead_lose(lead=lead, by=rep, reason="bad vibes")


def test_reject_needs_a_reason_and_gives_the_ball_back(make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    with pytest.raises(InvalidInput):
        sales.lead_reject(lead=lead, by=rep, reason="")
    sales.lead_reject(lead=lead, by=rep, reason="spam", note="bot traffic")
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_side, lead.owner, lead.rejection_reason) == (
        Stage.REJECTED,
        "marketing",
        None,
        "spam",
    )
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.outcome, handoff.rejection_reason, handoff.to_user) == (
        "rejected",
        "spam",
        rep,
    )
    assert lead.rejection_due_at is not None


def test_reopen_returns_to_the_stage_it_closed_from(make_lead, manager):
    lead = make_lead(Stage.LOST)
    sales.lead_reopen(lead=lead, by=manager)
    lead.refresh_from_db()
    assert lead.stage == Stage.OPPORTUNITY
    assert lead.closed_at is None and lead.lost_reason == ""


def test_reopen_refused_when_same_email_is_open_again(make_lead, manager, marketer, campaign):
    lead = make_lead(Stage.WON, email="twice@example.com")
    marketing.lead_intake(
        by=marketer, data={"last_name": "T", "email": "twice@example.com"}, campaign=campaign
    )
    with pytest.raises(TransitionNotAllowed, match="same email"):
        sales.lead_reopen(lead=lead, by=manager)


def test_queued_lead_is_claimed_then_accepted(make_lead, rep, other_rep):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    assert lead.owner is None
    sales.lead_claim(lead=lead, by=rep)
    with pytest.raises(TransitionNotAllowed, match=f"{person(rep)} claimed this lead first"):
        sales.lead_claim(lead=lead, by=other_rep)
    sales.lead_accept(lead=lead, by=rep)
    lead.refresh_from_db()
    handoff = Handoff.objects.get(lead=lead)
    assert (lead.stage, lead.owner, handoff.to_user) == (Stage.ACCEPTED, rep, rep)
    assert handoff.claimed_at is not None


def test_reassign_writes_handoff_notifies_and_restarts_contact_clock(
    make_lead, manager, rep, other_rep
):
    lead = make_lead(Stage.ACCEPTED)
    old_due = lead.contact_due_at
    with time_machine.travel(timezone.now() + dt.timedelta(hours=5)):
        sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    lead.refresh_from_db()
    assert lead.owner == other_rep and lead.stage == Stage.ACCEPTED
    assert lead.contact_due_at > old_due
    last = Handoff.objects.filter(lead=lead).last()
    assert (last.kind, last.from_user, last.to_user) == ("reassign", manager, other_rep)
    assert Notification.objects.filter(user=other_rep, kind="reassigned", lead=lead).exists()
    assert Notification.objects.filter(user=rep, kind="reassigned", lead=lead).exists()


def test_round_robin_takes_turns_and_skips_unavailable(marketer, manager, campaign):
    reps = [factories.rep(username=f"rr{i}") for i in range(3)]
    sales.rep_set_availability(rep=reps[1], by=manager, available=False)
    owners = []
    for i in range(4):
        lead = marketing.lead_intake(
            by=marketer, data={"last_name": f"L{i}", "email": f"l{i}@e.com"}, campaign=campaign
        ).lead
        marketing.lead_qualify(lead=lead, by=marketer)
        handoff = marketing.lead_hand_off(lead=lead, by=marketer, round_robin=True)
        owners.append(handoff.to_user.username)
    assert owners == ["rr0", "rr2", "rr0", "rr2"]


def test_hand_off_to_a_non_rep_is_refused(make_lead, marketer):
    lead = make_lead(Stage.MQL)
    with pytest.raises(InvalidInput):
        marketing.lead_hand_off(lead=lead, by=marketer, to_user=marketer)
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_dispute_overturned_hands_lead_to_chosen_rep(make_lead, marketer, manager, other_rep):
    lead = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=lead, by=marketer, comment="They asked twice.")
    lead.refresh_from_db()
    assert lead.disputed_at is not None and lead.rejection_due_at is None
    with pytest.raises(TransitionNotAllowed):
        marketing.lead_recycle(lead=lead, by=marketer)
    sales.dispute_rule(dispute=dispute, by=manager, ruling="overturned", to_user=other_rep)
    lead.refresh_from_db()
    dispute.refresh_from_db()
    assert (lead.stage, lead.owner, dispute.ruling) == (Stage.HANDED_OFF, other_rep, "overturned")
    assert StageChange.objects.filter(lead=lead, to_stage="handed_off").count() == 2
    assert Notification.objects.filter(kind="dispute_ruled", lead=lead).count() == 2


def test_dispute_upheld_keeps_rejection_and_restarts_the_clock(make_lead, marketer, manager):
    lead = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=lead, by=marketer, comment="Please reconsider")
    with time_machine.travel(timezone.now() + dt.timedelta(days=5)):
        sales.dispute_rule(dispute=dispute, by=manager, ruling="upheld")
        now = timezone.now()
    lead.refresh_from_db()
    assert lead.stage == Stage.REJECTED
    assert lead.rejection_due_at == lead.dispute_ruled_at + dt.timedelta(hours=72)
    assert lead.dispute_ruled_at >= now - dt.timedelta(seconds=5)
    with pytest.raises(TransitionNotAllowed, match="already been ruled"):
        sales.dispute_rule(dispute=dispute, by=manager, ruling="upheld")


def test_opportunity_value_is_kept_as_estimate(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    sales.lead_to_opportunity(lead=lead, by=rep, value="12500.5")
    lead.refresh_from_db()
    assert lead.deal_value == Decimal("12500.50")
