"""Two reps answering one lead through the API at the same moment: exactly one 200 and one
409 with a readable message (the services' row lock decides). Needs PostgreSQL."""

import threading

import pytest
from django.conf import settings

from leadflow.names import person
from leads import lifecycle
from leads.models import Lead, Stage, StageChange
from sales import services as sales
from tests import races
from tests.races import hold_until_blocked

# Skipped at collection on SQLite, so the transactional flush never runs there.
pytestmark = [
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL (set DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
]


@pytest.fixture
def slow_moves(monkeypatch):
    """The first move waits, row lock held, until the rival request queues behind it."""
    hold_until_blocked(monkeypatch, lifecycle, "move")


def race(*requests):
    responses = races.race(*requests)
    assert not races.failures(responses), responses
    return responses


def test_two_reps_accepting_one_queued_lead_get_200_and_409(make_lead, client_as, slow_moves):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    first, second = client_as("rep"), client_as("other_rep")
    path = f"/api/v1/leads/{lead.pk}/accept/"
    responses = race(
        lambda: first.post(path, {}, format="json"),
        lambda: second.post(path, {}, format="json"),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409], [r.content for r in responses]
    loser = next(r for r in responses if r.status_code == 409)
    assert "already accepted" in loser.json()["detail"]
    assert StageChange.objects.filter(lead_id=lead.pk, to_stage="accepted").count() == 1


def test_won_racing_lost_leaves_one_outcome(make_lead, client_as, slow_moves):
    lead = make_lead(Stage.OPPORTUNITY)
    rep, manager = client_as("rep"), client_as("manager")
    responses = race(
        lambda: rep.post(f"/api/v1/leads/{lead.pk}/won/", {"value": "10"}, format="json"),
        lambda: manager.post(f"/api/v1/leads/{lead.pk}/lost/", {"reason": "price"}, format="json"),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert Lead.objects.get(pk=lead.pk).stage in (Stage.WON, Stage.LOST)


def test_an_accept_that_waited_behind_a_claim_is_a_409_not_a_403(
    make_lead, client_as, rep, monkeypatch
):
    """rep2's request reads the lead while it is still queued and then waits for the row
    lock that rep1's claim holds: once rep1 commits, the lead is no longer rep2's to
    answer, because someone acted first, not because rep2 never could."""
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    hold_until_blocked(monkeypatch, sales, "_claim_into")
    held, claiming = sales._claim_into, threading.Event()

    def claim_into(*args, **kwargs):
        claiming.set()  # rep1 holds the lead's row lock from here until it commits
        return held(*args, **kwargs)

    monkeypatch.setattr(sales, "_claim_into", claim_into)
    first, second = client_as("rep"), client_as("other_rep")

    def accept():
        assert claiming.wait(races.WAIT_FOR_OTHERS)
        return second.post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json")

    responses = race(lambda: first.post(f"/api/v1/leads/{lead.pk}/claim/"), accept)
    assert [r.status_code for r in responses] == [200, 409], [r.content for r in responses]
    assert responses[1].json() == {"detail": f"{person(rep)} claimed this lead first."}
    assert Lead.objects.get(pk=lead.pk).stage == Stage.HANDED_OFF
