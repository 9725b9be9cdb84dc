"""Two people acting on one lead at the same moment: the database decides, exactly one
wins and the other is told (SPEC §3). Real concurrency needs PostgreSQL row locks."""

import threading

import pytest
from django.db import connection

from leadflow.errors import LeadflowError
from leads import lifecycle
from leads import services as marketing
from leads.models import Lead, Stage, StageChange
from sales import services as sales
from sales.models import Handoff
from tests import races
from tests.races import hold_until_blocked

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def slow_moves(monkeypatch):
    """The first move waits, row lock held, until the rival transaction queues behind it."""
    hold_until_blocked(monkeypatch, lifecycle, "move")


def race(*calls):
    """Run the service calls at once: "ok" for each that went through, else its refusal."""
    outcomes = races.race(*calls)
    assert all(isinstance(o, LeadflowError) for o in races.failures(outcomes)), outcomes
    return ["ok" if not isinstance(o, Exception) else o for o in outcomes]


def test_two_reps_accepting_one_queued_lead_exactly_one_wins(
    make_lead, rep, other_rep, slow_moves
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    results = race(
        lambda: sales.lead_accept(lead=lead.pk, by=rep),
        lambda: sales.lead_accept(lead=lead.pk, by=other_rep),
    )
    assert results.count("ok") == 1
    loser = next(r for r in results if r != "ok")
    assert "already accepted" in loser.message
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.stage == Stage.ACCEPTED
    assert StageChange.objects.filter(lead=lead, to_stage="accepted").count() == 1
    assert Handoff.objects.get(lead=lead).to_user == lead.owner


def test_rep_and_manager_accepting_at_once_write_one_acceptance(
    make_lead, rep, manager, slow_moves
):
    lead = make_lead(Stage.HANDED_OFF)
    results = race(
        lambda: sales.lead_accept(lead=lead.pk, by=rep),
        lambda: sales.lead_accept(lead=lead.pk, by=manager),
    )
    assert results.count("ok") == 1
    assert StageChange.objects.filter(lead_id=lead.pk, to_stage="accepted").count() == 1


def test_two_reps_claiming_one_lead_exactly_one_gets_it(make_lead, rep, other_rep, monkeypatch):
    hold_until_blocked(monkeypatch, sales, "_claim_into")
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    results = race(
        lambda: sales.lead_claim(lead=lead.pk, by=rep),
        lambda: sales.lead_claim(lead=lead.pk, by=other_rep),
    )
    assert results.count("ok") == 1
    loser = next(r for r in results if r != "ok")
    assert "claimed this lead first" in loser.message
    assert Lead.objects.get(pk=lead.pk).owner in (rep, other_rep)


def test_reject_racing_accept_leaves_one_consistent_outcome(make_lead, rep, manager, slow_moves):
    lead = make_lead(Stage.HANDED_OFF)
    results = race(
        lambda: sales.lead_accept(lead=lead.pk, by=rep),
        lambda: sales.lead_reject(lead=lead.pk, by=manager, reason="spam"),
    )
    lead = Lead.objects.get(pk=lead.pk)
    # Reject is allowed after accept, so both may succeed in that order; never a mix.
    handoff = Handoff.objects.get(lead=lead)
    if results.count("ok") == 2:
        assert lead.stage == Stage.REJECTED and handoff.outcome == "rejected"
    else:
        assert lead.stage in (Stage.ACCEPTED, Stage.REJECTED)
        assert handoff.outcome == lead.stage


def test_the_stage_log_never_runs_backwards_when_reject_and_re_hand_off_race(
    make_lead, rep, marketer, monkeypatch
):
    """The hand-off is asked for first, then waits for the row lock the reject holds; it
    moves the lead only once the reject committed, so its logged time is the later one."""
    lead = make_lead(Stage.HANDED_OFF)
    hand_off_asked, reject_holds_lock = threading.Event(), threading.Event()
    hand_off_thread = []
    real_lock = lifecycle.lock
    hold_until_blocked(monkeypatch, lifecycle, "move")  # the reject's, until the hand-off waits
    held_move = lifecycle.move

    def lock(lead_ref):
        if threading.get_ident() in hand_off_thread:
            hand_off_asked.set()
            assert reject_holds_lock.wait(races.WAIT_FOR_OTHERS)
        return real_lock(lead_ref)

    def move(*args, **kwargs):
        reject_holds_lock.set()
        return held_move(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "lock", lock)
    monkeypatch.setattr(lifecycle, "move", move)

    def hand_off():
        hand_off_thread.append(threading.get_ident())
        return marketing.lead_hand_off(lead=lead.pk, by=marketer, to_user=rep)

    def reject():
        assert hand_off_asked.wait(races.WAIT_FOR_OTHERS)
        return sales.lead_reject(lead=lead.pk, by=rep, reason="not_a_fit")

    assert race(hand_off, reject) == ["ok", "ok"]
    log = list(StageChange.objects.filter(lead_id=lead.pk).order_by("pk"))
    assert [c.to_stage for c in log[-2:]] == [Stage.REJECTED, Stage.HANDED_OFF]
    rejected, handed_off = log[-2].at, log[-1].at
    assert handed_off >= rejected, (rejected, handed_off)
    assert [c.at for c in log] == sorted(c.at for c in log)
