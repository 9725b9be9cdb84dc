"""The managers' routing pages: teams, capacity, the rules in order, and the preview."""

import pytest

from leadflow.models import Profile
from leadflow.names import person
from leads.models import Stage
from sales.models import AssignmentRule, RuleTarget, Team, TeamMembership
from tests import factories

from .helpers import messages_of

PAGES = ["/sales/teams/", "/sales/teams/new/", "/sales/rules/", "/sales/rules/new/"]


@pytest.mark.parametrize("url", PAGES)
def test_only_managers_open_the_routing_pages(url, manager_client, rep_client, marketer_client):
    assert manager_client.get(url).status_code == 200
    assert rep_client.get(url).status_code == 403
    assert marketer_client.get(url).status_code == 403


def test_a_rep_cannot_change_a_team_or_a_rule(rep_client, rep, manager):
    team = Team.objects.create(name="A", lead=manager)
    rule = AssignmentRule.objects.create(name="r", target=RuleTarget.QUEUE, position=1)
    assert rep_client.post(f"/sales/teams/{team.pk}/delete/").status_code == 403
    assert rep_client.post(f"/sales/rules/{rule.pk}/delete/").status_code == 403
    assert Team.objects.exists() and AssignmentRule.objects.exists()


def test_a_manager_creates_a_team_with_weighted_members(manager_client, manager, rep, other_rep):
    response = manager_client.post(
        "/sales/teams/new/",
        {
            "name": "Benelux",
            "lead": manager.pk,
            f"member_{rep.pk}": "on",
            f"weight_{rep.pk}": "3",
            f"member_{other_rep.pk}": "on",
            f"weight_{other_rep.pk}": "",
        },
    )
    assert response.status_code == 302
    team = Team.objects.get(name="Benelux")
    assert team.lead == manager
    assert dict(team.memberships.values_list("user__username", "weight")) == {
        "rep1": 3,
        "rep2": 1,
    }
    page = manager_client.get("/sales/teams/").content.decode()
    assert "Benelux" in page and "(3)" in page


def test_a_team_name_is_unique_in_any_case(manager_client, manager):
    Team.objects.create(name="Benelux", lead=manager)
    response = manager_client.post("/sales/teams/new/", {"name": "benelux", "lead": manager.pk})
    assert response.status_code == 200
    assert "Another team already has this name." in response.content.decode()
    assert Team.objects.count() == 1


def test_editing_a_team_keeps_a_staying_members_turn(manager_client, manager, rep, other_rep):
    team = Team.objects.create(name="A", lead=manager)
    TeamMembership.objects.create(team=team, user=rep, credit=-1)
    TeamMembership.objects.create(team=team, user=other_rep, credit=1)
    manager_client.post(
        f"/sales/teams/{team.pk}/",
        {"name": "A", "lead": manager.pk, f"member_{rep.pk}": "on", f"weight_{rep.pk}": "2"},
    )
    assert list(team.memberships.values_list("user__username", "weight", "credit")) == [
        ("rep1", 2, -1)
    ]


def test_a_team_a_rule_targets_cannot_be_deleted(manager_client, manager):
    team = Team.objects.create(name="A", lead=manager)
    AssignmentRule.objects.create(name="To A", target=RuleTarget.TEAM, target_team=team)
    response = manager_client.post(f"/sales/teams/{team.pk}/delete/", follow=True)
    assert "Assignment rules send leads to this team (To A): change them first." in (
        messages_of(response)
    )
    assert Team.objects.exists()


def test_a_manager_sets_and_clears_a_reps_capacity(manager_client, rep):
    manager_client.post(f"/sales/team/{rep.pk}/capacity/", {"max_open_leads": "5"})
    assert Profile.objects.get(user=rep).max_open_leads == 5
    manager_client.post(f"/sales/team/{rep.pk}/capacity/", {"max_open_leads": ""})
    assert Profile.objects.get(user=rep).max_open_leads is None
    response = manager_client.post(
        f"/sales/team/{rep.pk}/capacity/", {"max_open_leads": "-1"}, follow=True
    )
    assert Profile.objects.get(user=rep).max_open_leads is None
    assert messages_of(response)


def rule_data(**fields):
    return {"name": "Rule", "is_active": "on", "target": "queue", **fields}


def test_a_manager_adds_rules_that_go_last_and_reorders_them(manager_client, rep):
    manager_client.post("/sales/rules/new/", rule_data(name="First"))
    manager_client.post(
        "/sales/rules/new/", rule_data(name="Second", target="rep", target_user=rep.pk)
    )
    assert list(AssignmentRule.objects.values_list("name", "position")) == [
        ("First", 1),
        ("Second", 2),
    ]
    second = AssignmentRule.objects.get(name="Second")
    manager_client.post(f"/sales/rules/{second.pk}/move/", {"direction": "up"})
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["Second", "First"]
    manager_client.post(f"/sales/rules/{second.pk}/delete/")
    assert list(AssignmentRule.objects.values_list("name", "position")) == [("First", 1)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target": "rep"}, "Choose an active salesperson."),
        ({"target": "team"}, "Choose the team."),
        ({"min_score": "80", "max_score": "20"}, "The lowest score cannot be above the highest."),
        ({"name": " "}, "This field is required."),
    ],
)
def test_a_rule_with_bad_input_is_refused_with_a_message(manager_client, fields, message):
    response = manager_client.post("/sales/rules/new/", rule_data(**fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AssignmentRule.objects.exists()


def test_a_rule_whose_campaign_and_channel_disagree_is_refused(manager_client, campaign):
    response = manager_client.post(
        "/sales/rules/new/", rule_data(campaign=campaign.pk, channel="events")
    )
    assert "this rule could never match" in response.content.decode()


def test_a_rule_for_an_inactive_rep_is_refused(manager_client):
    gone = factories.rep(username="gone", is_active=False)
    response = manager_client.post(
        "/sales/rules/new/", rule_data(target="rep", target_user=gone.pk)
    )
    assert response.status_code == 200 and not AssignmentRule.objects.exists()


def test_the_preview_shows_the_rule_the_rep_and_who_was_passed_over(
    manager_client, manager, rep, other_rep, make_lead
):
    Profile.objects.create(user=rep, is_available=False)
    team = Team.objects.create(name="Benelux", lead=manager)
    for r in (rep, other_rep):
        TeamMembership.objects.create(team=team, user=r)
    AssignmentRule.objects.create(
        name="NL", countries="Netherlands", target=RuleTarget.TEAM, target_team=team, position=1
    )
    page = manager_client.get(
        "/sales/rules/", {"try": "1", "country": "netherlands", "origin": "marketing"}
    ).content.decode()
    assert "It would go to" in page and other_rep.get_full_name() in page
    assert "Assignment rule “NL”. Team Benelux. Passed over: rep1: unavailable." in page
    lead = make_lead(Stage.MQL, country="Germany")
    page = manager_client.get("/sales/rules/", {"try": "1", "lead": lead.pk}).content.decode()
    assert "No assignment rule matched: to the unassigned queue." in page
    page = manager_client.get("/sales/rules/", {"try": "1", "lead": 999999}).content.decode()
    assert "No lead has this number." in page


def test_the_lead_page_offers_hand_off_by_the_rules(marketer_client, make_lead, rep):
    AssignmentRule.objects.create(name="All", target=RuleTarget.REP, target_user=rep)
    lead = make_lead(Stage.MQL)
    page = marketer_client.get(lead.get_absolute_url()).content.decode()
    assert "Whoever the assignment rules pick" in page
    response = marketer_client.post(f"/leads/{lead.pk}/hand-off/", {"mode": "auto"}, follow=True)
    assert f"Handed off to {person(rep)}." in messages_of(response)


def test_the_campaign_form_sets_routing_on_intake(marketer_client, campaign):
    page = marketer_client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert "route web-form leads to sales at once" in page.lower()
