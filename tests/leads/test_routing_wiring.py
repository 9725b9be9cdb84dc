"""Issue 18's parts working together: the escalation ladder reassigns by the assignment
rules and never back to the rep it takes the lead from; a deactivation can hand the
leads out by the rules; the escalation reaches the rep's team lead; the users API names
each user's teams."""

from rest_framework.test import APIClient

from leads.models import FlagKind, Stage
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import drain_flag_outbox, flag_recipients, team_leads_of
from sales import services as sales
from sales.models import AssignmentRule, Handoff, HandoffKind, RuleTarget, Team, TeamMembership
from tests import factories

from .conftest import T0, H


def team_of(*reps, lead, name="Benelux"):
    team = Team.objects.create(name=name, lead=lead)
    for rep in reps:
        TeamMembership.objects.create(team=team, user=rep)
    return team


def test_the_ladder_reassigns_by_the_rules_to_the_next_rep_of_the_team_not_the_holder(
    clock, make_lead, rep, other_rep, manager, policy
):
    third = factories.rep(username="rep3")
    team = team_of(rep, third, lead=manager)
    AssignmentRule.objects.create(
        name="Benelux", position=1, target=RuleTarget.TEAM, target_team=team
    )
    policy.set(escalation_minutes=60, auto_reassign_minutes=60)
    lead = make_lead(Stage.HANDED_OFF)  # to rep1, who is in the team
    clock.at(T0 + 26 * H)
    sweep_flags()
    drain_flag_outbox()
    lead.refresh_from_db()
    # The rules' team, with its holder passed over: rep3, not rep1 again, nor rep2 (who
    # is in no team the rule names).
    assert lead.owner == third
    move = Handoff.objects.get(lead=lead, kind=HandoffKind.REASSIGN)
    assert move.from_user is None and move.to_user == third


def test_the_ladder_leaves_the_lead_when_the_rules_team_has_nobody_else(
    clock, make_lead, rep, other_rep, manager, policy
):
    team = team_of(rep, lead=manager)
    AssignmentRule.objects.create(
        name="Only rep1", position=1, target=RuleTarget.TEAM, target_team=team
    )
    policy.set(escalation_minutes=60, auto_reassign_minutes=60)
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 26 * H)
    sweep_flags()
    drain_flag_outbox()
    lead.refresh_from_db()
    assert lead.owner == rep  # the flag says it is overdue; nobody else may have it


def test_the_escalation_goes_to_the_team_lead_of_the_reps_team(make_lead, rep, manager):
    team_lead = factories.manager(username="boss")
    team_of(rep, lead=team_lead)
    assert team_leads_of(rep) == [team_lead]
    lead = make_lead(Stage.HANDED_OFF)
    flag = lead.flags.model(lead=lead, kind=FlagKind.RESPONSE_ESCALATED, responsible=rep)
    assert team_lead in flag_recipients(flag, [manager])
    assert rep not in flag_recipients(flag, [manager])


def test_a_deactivation_can_hand_the_leads_out_by_the_rules(make_lead, rep, other_rep, manager):
    team = team_of(other_rep, lead=manager)
    AssignmentRule.objects.create(name="All", position=1, target=RuleTarget.TEAM, target_team=team)
    accepted, waiting = make_lead(Stage.ACCEPTED), make_lead(Stage.HANDED_OFF)
    sales.user_deactivate(user=rep, by=manager, reassign=sales.REASSIGN_RULES)
    for lead in (accepted, waiting):
        lead.refresh_from_db()
        assert lead.owner == other_rep


def test_the_users_api_names_each_users_teams(rep, other_rep, manager):
    team_of(rep, lead=manager, name="Noord")
    team_of(rep, other_rep, lead=manager, name="Benelux")
    api = APIClient()
    api.force_authenticate(other_rep)
    body = api.get("/api/v1/users/?role=sales").json()
    rows = body["results"] if isinstance(body, dict) else body
    teams = {row["username"]: row["teams"] for row in rows}
    assert teams["rep1"] == ["Benelux", "Noord"]
    assert teams["rep2"] == ["Benelux"]


def test_a_lead_waiting_in_a_teams_queue_is_posted_to_the_teams_chat_channel(
    settings, make_lead, rep, manager
):
    from leadflow.models import DeliveryChannel, WebhookDelivery
    from sales.routing import call_team
    from sales.routing import services as routing

    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    team = routing.team_save(
        by=manager,
        name="Benelux",
        lead=manager,
        members=[(rep, 1)],
        slack_webhook_url="https://127.0.0.1/services/T0/B0/x",
    )
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    call_team(lead, team)
    posted = WebhookDelivery.objects.get(channel=DeliveryChannel.SLACK)
    assert posted.url == "https://127.0.0.1/services/T0/B0/x"
    assert f"/leads/{lead.pk}/" in str(posted.payload)


def test_a_teams_chat_channel_is_checked_against_ssrf(manager, rep):
    import pytest

    from leadflow.errors import InvalidInput
    from sales.routing import services as routing

    with pytest.raises(InvalidInput):
        routing.team_save(
            by=manager,
            name="Noord",
            lead=manager,
            members=[(rep, 1)],
            slack_webhook_url="https://169.254.169.254/latest",
        )
