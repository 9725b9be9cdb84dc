"""Hand-offs by the rules at the same moment (PostgreSQL): the locks of sales.routing's
engine (the team row, then the candidates' profiles in user-id order) make them take
turns, so no rep goes above their capacity and the round-robin keeps its order."""

from collections import Counter

import pytest
from django.db import connection

from leadflow.models import Profile
from leads import services as marketing
from leads.models import Lead, Stage
from sales.models import AssignmentRule, RuleTarget, Team, TeamMembership
from sales.routing import engine
from tests import races
from tests.races import hold_until_blocked

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def slow_counts(monkeypatch):
    """The first hand-off, holding the routing locks, waits before it counts open leads
    until the rival transaction is blocked behind one of its locks."""
    hold_until_blocked(monkeypatch, engine, "_open_leads")


def team_of(name, *reps, lead):
    team = Team.objects.create(name=name, lead=lead)
    for rep in reps:
        TeamMembership.objects.create(team=team, user=rep)
    return team


def hand_off_all(leads, marketer):
    outcomes = races.race(
        *(
            lambda lead=lead: marketing.lead_hand_off(lead=lead.pk, by=marketer, automatic=True)
            for lead in leads
        )
    )
    assert not races.failures(outcomes), outcomes
    return outcomes


def test_two_hand_offs_through_one_team_never_put_a_rep_above_capacity(
    make_lead, marketer, manager, rep, other_rep, slow_counts
):
    Profile.objects.create(user=rep, max_open_leads=1)
    Profile.objects.create(user=other_rep, is_available=False)
    team = team_of("Benelux", rep, other_rep, lead=manager)
    AssignmentRule.objects.create(name="All", target=RuleTarget.TEAM, target_team=team)
    leads = [make_lead(Stage.MQL) for _ in range(2)]
    hand_off_all(leads, marketer)
    owners = sorted(str(Lead.objects.get(pk=x.pk).owner) for x in leads)
    assert owners == ["None", "rep1"]
    assert Lead.objects.filter(owner=rep, stage=Stage.HANDED_OFF).count() == 1


def test_two_teams_sharing_a_rep_at_capacity_take_turns_on_that_rep(
    make_lead, marketer, manager, rep, slow_counts
):
    Profile.objects.create(user=rep, max_open_leads=1)
    AssignmentRule.objects.create(
        name="NL",
        countries="NL",
        target=RuleTarget.TEAM,
        target_team=team_of("NL", rep, lead=manager),
        position=1,
    )
    AssignmentRule.objects.create(
        name="BE",
        countries="BE",
        target=RuleTarget.TEAM,
        target_team=team_of("BE", rep, lead=manager),
        position=2,
    )
    leads = [make_lead(Stage.MQL, country="NL"), make_lead(Stage.MQL, country="BE")]
    handoffs = hand_off_all(leads, marketer)
    assert sorted(str(h.to_user) for h in handoffs) == ["None", "rep1"]
    queued = next(h for h in handoffs if h.to_user is None)
    assert queued.routing["skipped"][0]["reason"] == engine.AT_CAPACITY


def test_concurrent_hand_offs_keep_the_round_robin_order(
    make_lead, marketer, manager, rep, other_rep, third_rep, slow_counts, monkeypatch
):
    team = team_of("Benelux", rep, other_rep, third_rep, lead=manager)
    AssignmentRule.objects.create(name="All", target=RuleTarget.TEAM, target_team=team)
    leads = [make_lead(Stage.MQL) for _ in range(6)]
    # The order the hand-offs took their turns: each notes its pick under the team's lock.
    turns = []
    note = engine._note_assignment
    monkeypatch.setattr(
        engine,
        "_note_assignment",
        lambda profile, at: (turns.append(profile.user.username), note(profile, at)),
    )
    handoffs = hand_off_all(leads, marketer)
    assert Counter(h.to_user.username for h in handoffs) == {"rep1": 2, "rep2": 2, "rep3": 2}
    assert turns == ["rep1", "rep2", "rep3", "rep1", "rep2", "rep3"]
    assert sorted(TeamMembership.objects.values_list("credit", flat=True)) == [0, 0, 0]
