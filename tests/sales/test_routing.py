"""Assignment rules and teams (issue 18): the first matching rule wins, its target gets
the lead when someone in it is eligible (available, active, below capacity), else the
team's queue, which calls that team; the decision is kept on the handoff and shown on the
timeline; a campaign may route its web-form leads straight to sales on intake."""

import pytest

from campaigns.models import Channel
from leadflow.models import Notification, NotificationKind, Profile
from leadflow.names import person
from leads import services as marketing
from leads.models import Lead, Origin, Stage
from leads.timeline import build_timeline
from sales import routing
from sales.models import AssignmentRule, Handoff, RuleTarget, Team, TeamMembership
from sales.routing import engine
from tests import factories


def team_of(*members, name="Benelux", lead=None):
    team = Team.objects.create(name=name, lead=lead)
    for member in members:
        rep, weight = member if isinstance(member, tuple) else (member, 1)
        TeamMembership.objects.create(team=team, user=rep, weight=weight)
    return team


def rule(name="rule", position=None, **fields):
    if "target" not in fields:
        fields["target"] = (
            RuleTarget.TEAM
            if "target_team" in fields
            else RuleTarget.REP
            if "target_user" in fields
            else RuleTarget.QUEUE
        )
    position = position or AssignmentRule.objects.count() + 1
    return AssignmentRule.objects.create(name=name, position=position, **fields)


def capacity(rep, n=None, available=True):
    Profile.objects.update_or_create(
        user=rep, defaults={"max_open_leads": n, "is_available": available}
    )


def auto_hand_off(make_lead, marketer, **data):
    lead = make_lead(Stage.MQL, **data)
    return marketing.lead_hand_off(lead=lead, by=marketer, automatic=True)


# --- rules × eligibility × capacity -----------------------------------------------------

CASES = {
    # name: (setup of rep1 then rep2, expected owner, expected skips)
    "both free: the first in turn": ([{}, {}], "rep1", []),
    "first unavailable": ([{"available": False}, {}], "rep2", [("rep1", "unavailable")]),
    "first deactivated": ([{"active": False}, {}], "rep2", [("rep1", "inactive")]),
    "first at capacity": ([{"cap": 1, "held": 1}, {}], "rep2", [("rep1", "at_capacity")]),
    "first below capacity": ([{"cap": 2, "held": 1}, {}], "rep1", []),
    "capacity counts only open leads": ([{"cap": 1, "held_won": 1}, {}], "rep1", []),
    "nobody eligible: the team's queue": (
        [{"available": False}, {"cap": 1, "held": 1}],
        None,
        [("rep1", "unavailable"), ("rep2", "at_capacity")],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rules_eligibility_and_capacity(case, make_lead, marketer, rep, other_rep):
    setups, expected, skips = CASES[case]
    for who, setup in zip((rep, other_rep), setups, strict=True):
        for _ in range(setup.get("held", 0)):
            make_lead(Stage.ACCEPTED, owner=who)
        for _ in range(setup.get("held_won", 0)):
            make_lead(Stage.WON, owner=who)
        capacity(who, setup.get("cap"), setup.get("available", True))
        if setup.get("active") is False:
            who.is_active = False
            who.save()
    team = team_of(rep, other_rep)
    rule(target_team=team)
    handoff = auto_hand_off(make_lead, marketer)
    assert (handoff.to_user.username if handoff.to_user else None) == expected
    assert [(s["name"], s["reason"]) for s in handoff.routing["skipped"]] == skips
    assert handoff.team == team
    assert handoff.rule.name == "rule"
    if expected is None:
        assert handoff.routing["fallback"] == engine.TEAM_QUEUE
        assert Lead.objects.get(pk=handoff.lead_id).in_unassigned_queue


def test_a_rep_target_at_capacity_sends_the_lead_to_the_unassigned_queue(make_lead, marketer, rep):
    make_lead(Stage.ACCEPTED, owner=rep)
    capacity(rep, 1)
    rule(target_user=rep)
    handoff = auto_hand_off(make_lead, marketer)
    assert handoff.to_user is None and handoff.team is None
    assert handoff.routing["fallback"] == engine.QUEUE
    assert handoff.routing["skipped"] == [
        {"user": rep.pk, "name": "rep1", "reason": "at_capacity", "open": 1, "max": 1}
    ]


# --- matching ---------------------------------------------------------------------------


def test_the_first_matching_rule_wins(make_lead, marketer, rep, other_rep, campaign):
    rule("Germany", countries="Germany", target_user=other_rep)
    rule("Dutch web forms", countries="netherlands, Belgium", target_user=rep)
    rule("Everyone else", target_user=other_rep)
    handoff = auto_hand_off(make_lead, marketer, country="Netherlands")
    assert (handoff.rule.name, handoff.to_user) == ("Dutch web forms", rep)
    handoff = auto_hand_off(make_lead, marketer, country="France")
    assert (handoff.rule.name, handoff.to_user) == ("Everyone else", other_rep)


@pytest.mark.parametrize(
    ("condition", "matching", "other"),
    [
        ({"channel": Channel.SEARCH_ADS}, {}, {"channel": Channel.EVENTS}),
        ({"inquiry_type": "event"}, {"inquiry_type": "event"}, {"inquiry_type": "web_form"}),
        ({"countries": "NL, BE"}, {"country": " be "}, {"country": "DE"}),
        ({"min_score": 50, "max_score": 80}, {"score": 80}, {"score": 81}),
        ({"min_score": 50}, {"score": 50}, {"score": None}),
        ({"origin": Origin.SALES}, {"origin": Origin.SALES}, {"origin": Origin.MARKETING}),
    ],
)
def test_each_condition_matches_only_its_leads(db, campaign, rep, condition, matching, other):
    rule("only", target_user=rep, **condition)
    base = {
        "campaign_id": campaign.pk,
        "channel": campaign.channel,
        "inquiry_type": "web_form",
        "country": "",
        "score": None,
        "origin": Origin.MARKETING,
    }
    assert engine.first_match(engine.Facts(**(base | matching))) is not None
    assert engine.first_match(engine.Facts(**(base | other))) is None


def test_a_campaign_condition_matches_that_campaign_only(db, campaign, rep):
    other = factories.CampaignFactory()
    rule("c", campaign=campaign, target_user=rep)
    assert engine.first_match(engine.Facts(campaign_id=campaign.pk)) is not None
    assert engine.first_match(engine.Facts(campaign_id=other.pk)) is None


def test_an_inactive_rule_is_not_tried(make_lead, marketer, rep, other_rep):
    rule("off", target_user=rep).__class__.objects.filter(name="off").update(is_active=False)
    rule("on", target_user=other_rep)
    assert auto_hand_off(make_lead, marketer).to_user == other_rep


def test_no_matching_rule_leaves_the_lead_in_the_unassigned_queue(make_lead, marketer, rep):
    rule("Germany", countries="DE", target_user=rep)
    handoff = auto_hand_off(make_lead, marketer, country="NL")
    assert handoff.to_user is None and handoff.rule is None
    assert handoff.routing["fallback"] == engine.NO_RULE


# --- weighted round-robin ---------------------------------------------------------------


def test_weighted_round_robin_interleaves_by_weight(make_lead, marketer, rep, other_rep):
    rule(target_team=team_of((rep, 2), (other_rep, 1)))
    owners = [auto_hand_off(make_lead, marketer).to_user.username for _ in range(6)]
    assert owners == ["rep1", "rep2", "rep1", "rep1", "rep2", "rep1"]


def test_equal_weights_take_turns_and_a_skipped_rep_keeps_their_turn(
    make_lead, marketer, rep, other_rep, third_rep
):
    rule(target_team=team_of(rep, other_rep, third_rep))
    owners = [auto_hand_off(make_lead, marketer).to_user.username for _ in range(3)]
    assert owners == ["rep1", "rep2", "rep3"]
    capacity(other_rep, available=False)
    owners = [auto_hand_off(make_lead, marketer).to_user.username for _ in range(2)]
    assert owners == ["rep1", "rep3"]
    capacity(other_rep, available=True)
    assert auto_hand_off(make_lead, marketer).to_user == other_rep


# --- the team's queue calls the team ----------------------------------------------------


def test_a_lead_entering_a_teams_queue_notifies_that_teams_available_reps_only(
    make_lead, marketer, rep, other_rep, manager, mailoutbox, django_capture_on_commit_callbacks
):
    outsider = factories.rep(username="outsider")
    away = factories.rep(username="away")
    capacity(away, available=False)
    full = team_of(rep, other_rep, away)
    team_of(outsider, name="DACH")
    capacity(rep, 1)
    capacity(other_rep, 1)
    make_lead(Stage.ACCEPTED, owner=rep)
    make_lead(Stage.ACCEPTED, owner=other_rep)
    rule(target_team=full)
    Notification.objects.all().delete()
    lead = make_lead(Stage.MQL, last_name="O'Brien (Smith & Sons)")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        handoff = marketing.lead_hand_off(lead=lead, by=marketer, automatic=True)
    assert handoff.to_user is None
    told = Notification.objects.filter(kind=NotificationKind.TEAM_QUEUE, lead=handoff.lead)
    assert sorted(told.values_list("user__username", flat=True)) == ["rep1", "rep2"]
    assert sorted(m.to[0] for m in mailoutbox) == ["rep1@example.com", "rep2@example.com"]
    assert "Benelux" in told.first().text
    assert "O'Brien (Smith & Sons)" in mailoutbox[0].subject
    assert "queue of team Benelux" in mailoutbox[0].body
    # The first to claim it wins, as for any queued lead.
    from sales import services as sales

    sales.lead_claim(lead=handoff.lead_id, by=other_rep)
    assert Lead.objects.get(pk=handoff.lead_id).owner == other_rep


def test_a_queued_lead_without_a_team_notifies_nobody(make_lead, marketer, rep):
    rule("queue")
    Notification.objects.all().delete()
    handoff = auto_hand_off(make_lead, marketer)
    assert handoff.to_user is None and handoff.team is None
    assert not Notification.objects.exists()


# --- the record and the timeline --------------------------------------------------------


def test_the_timeline_shows_the_rule_and_why_reps_were_passed_over(
    make_lead, marketer, rep, other_rep
):
    capacity(rep, available=False)
    rule("Benelux web", target_team=team_of(rep, other_rep))
    handoff = auto_hand_off(make_lead, marketer)
    entry = next(e for e in build_timeline(handoff.lead) if e.kind == "handoff")
    assert entry.title == f"Handoff to {person(other_rep)}"
    assert entry.detail == (
        "Assignment rule “Benelux web”. Team Benelux. Passed over: rep1: unavailable."
    )


def test_the_timeline_names_the_teams_queue(make_lead, marketer, rep):
    capacity(rep, available=False)
    rule("All", target_team=team_of(rep))
    handoff = auto_hand_off(make_lead, marketer)
    entry = next(e for e in build_timeline(handoff.lead) if e.kind == "handoff")
    assert entry.title == "Handoff to the queue of team Benelux"
    assert "Nobody in the team was eligible: to the team's queue." in entry.detail


def test_chosen_rep_and_round_robin_handoffs_record_no_routing(make_lead, marketer, rep):
    rule(target_user=rep)
    lead = make_lead(Stage.MQL)
    handoff = marketing.lead_hand_off(lead=lead, by=marketer, round_robin=True)
    assert handoff.routing == {} and handoff.rule is None


def test_bulk_hand_off_in_automatic_mode_routes_each_lead(
    make_lead, marketer_client, rep, other_rep
):
    rule(target_team=team_of(rep, other_rep))
    leads = [make_lead(Stage.MQL) for _ in range(2)]
    response = marketer_client.post(
        "/leads/bulk/", {"action": "hand_off", "mode": "auto", "ids": [x.pk for x in leads]}
    )
    assert response.status_code == 302
    owners = {Lead.objects.get(pk=x.pk).owner.username for x in leads}
    assert owners == {"rep1", "rep2"}
    assert Handoff.objects.filter(rule__isnull=False).count() == 2


# --- the preview ------------------------------------------------------------------------


def test_the_preview_names_rule_and_rep_without_moving_the_round_robin(
    make_lead, marketer, rep, other_rep
):
    capacity(rep, available=False)
    team = team_of(rep, other_rep)
    rule("Germany", countries="DE", target_user=rep)
    rule("Rest", target_team=team)
    facts = engine.Facts(country="NL")
    decision = routing.route(facts, at=None, commit=False)
    assert (decision.rule.name, decision.rep) == ("Rest", other_rep)
    assert [(s.user, s.reason) for s in decision.skipped] == [(rep, "unavailable")]
    assert routing.route(facts, at=None, commit=False).rep == other_rep
    assert not TeamMembership.objects.exclude(credit=0).exists()
    assert not TeamMembership.objects.exclude(last_assigned_at=None).exists()


def test_team_names_lists_a_users_teams(db, rep, other_rep):
    team_of(rep, name="Benelux")
    team_of(rep, other_rep, name="Accounts")
    assert routing.team_names(rep) == ["Accounts", "Benelux"]
    assert routing.team_names(other_rep) == ["Accounts"]


# --- straight routing on intake ---------------------------------------------------------


def post_intake(client, campaign, **fields):
    data = {"last_name": "Jansen", "email": "jan@example.com", **fields}
    return client.post(f"/intake/{campaign.intake_key}/", data, HTTP_ACCEPT="application/json")


def test_a_web_form_lead_of_a_routing_campaign_reaches_a_rep_at_once(
    client, campaign, rep, other_rep, mailoutbox, django_capture_on_commit_callbacks
):
    campaign.route_on_intake = True
    campaign.save()
    capacity(rep, available=False)
    rule("Web", campaign=campaign, target_team=team_of(rep, other_rep))
    with django_capture_on_commit_callbacks(execute=True):
        assert post_intake(client, campaign).status_code == 200
    lead = Lead.objects.get(email="jan@example.com")
    assert (lead.stage, lead.owner) == (Stage.HANDED_OFF, other_rep)
    assert list(lead.stage_changes.order_by("id").values_list("to_stage", "by")) == [
        (Stage.NEW, None),
        (Stage.MQL, None),
        (Stage.HANDED_OFF, None),
    ]
    handoff = lead.handoffs.get()
    assert handoff.rule.name == "Web" and handoff.from_user is None
    assert handoff.response_minutes is not None  # the SLA contract of a handoff
    assert Notification.objects.filter(user=other_rep, kind=NotificationKind.HANDED_TO_YOU)
    assert [m.to for m in mailoutbox] == [[other_rep.email]]


@pytest.mark.parametrize(
    ("route_on_intake", "inquiry_type"), [(False, "web_form"), (True, "event")]
)
def test_intake_routes_only_hand_raisers_of_campaigns_that_ask_for_it(
    client, campaign, rep, route_on_intake, inquiry_type
):
    campaign.route_on_intake = route_on_intake
    campaign.save()
    rule(target_user=rep)
    assert post_intake(client, campaign, inquiry_type=inquiry_type).status_code == 200
    assert Lead.objects.get(email="jan@example.com").stage == Stage.NEW


def test_a_second_inquiry_of_an_open_lead_is_a_touch_and_routes_nothing(
    client, campaign, rep, make_lead
):
    lead = make_lead(Stage.NEW, email="jan@example.com")
    campaign.route_on_intake = True
    campaign.save()
    rule(target_user=rep)
    assert post_intake(client, campaign).status_code == 200
    lead.refresh_from_db()
    assert lead.stage == Stage.NEW and lead.touches.count() == 2


def test_the_inbox_names_the_team_whose_queue_holds_a_lead(make_lead, marketer, rep, rep_client):
    capacity(rep, available=False)
    rule(target_team=team_of(rep))
    handoff = auto_hand_off(make_lead, marketer)
    page = rep_client.get("/sales/").content.decode()
    assert f'id="queue-{handoff.lead_id}"' in page
    assert "queue of team Benelux" in page
