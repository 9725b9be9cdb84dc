"""/api/v1/teams/ and /api/v1/assignment-rules/: managers read and write with the pages'
checks, other roles read teams only; the preview; hand-off in "auto" mode."""

import pytest
from rest_framework.test import APIClient

from leadflow.models import Profile
from leads.models import Lead, Stage
from sales.models import AssignmentRule, RuleTarget, Team, TeamMembership


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    client.default_format = "json"
    return client


@pytest.fixture
def team(db, manager, rep, other_rep):
    team = Team.objects.create(name="Benelux", lead=manager)
    TeamMembership.objects.create(team=team, user=rep, weight=2)
    TeamMembership.objects.create(team=team, user=other_rep)
    return team


def test_every_role_reads_teams_with_their_members(team, rep, marketer):
    for user in (rep, marketer):
        body = api(user).get("/api/v1/teams/").json()
        assert body["results"][0]["name"] == "Benelux"
        assert {(m["username"], m["weight"]) for m in body["results"][0]["members"]} == {
            ("rep1", 2),
            ("rep2", 1),
        }


def test_only_managers_write_teams(team, rep, marketer, manager):
    for user in (rep, marketer):
        assert (
            api(user).post("/api/v1/teams/", {"name": "X", "lead": manager.pk}).status_code == 403
        )
        assert api(user).delete(f"/api/v1/teams/{team.pk}/").status_code == 403
    assert Team.objects.count() == 1


def test_a_manager_creates_edits_and_deletes_a_team(manager, rep, other_rep):
    client = api(manager)
    response = client.post(
        "/api/v1/teams/",
        {"name": "DACH", "lead": manager.pk, "members": [{"user": rep.pk, "weight": 3}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    response = client.patch(
        f"/api/v1/teams/{pk}/", {"members": [{"user": other_rep.pk}]}, format="json"
    )
    assert response.status_code == 200
    assert [(m["username"], m["weight"]) for m in response.json()["members"]] == [("rep2", 1)]
    assert response.json()["name"] == "DACH"
    assert client.delete(f"/api/v1/teams/{pk}/").status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "benelux"}, "name"),
        ({"name": "X", "lead": "rep"}, "lead"),
        ({"name": "X", "members": [{"user": "marketer"}]}, "members"),
        ({"name": "X", "members": [{"user": "rep", "weight": 0}]}, "members"),
    ],
)
def test_a_bad_team_is_a_400_naming_the_field(team, manager, rep, marketer, body, field):
    users = {"rep": rep.pk, "marketer": marketer.pk}
    body = {"lead": manager.pk, **body}
    if body["lead"] == "rep":
        body["lead"] = rep.pk
    for m in body.get("members", []):
        m["user"] = users[m["user"]]
    response = api(manager).post("/api/v1/teams/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_rules_are_the_managers_only(rep, marketer, manager):
    for user in (rep, marketer):
        assert api(user).get("/api/v1/assignment-rules/").status_code == 403
    assert api(manager).get("/api/v1/assignment-rules/").status_code == 200


def test_a_manager_adds_rules_in_order_and_moves_one_first(manager, rep, team):
    client = api(manager)
    first = client.post(
        "/api/v1/assignment-rules/", {"name": "A", "target": "team", "target_team": team.pk}
    )
    assert first.status_code == 201, first.json()
    second = client.post(
        "/api/v1/assignment-rules/",
        {"name": "B", "target": "rep", "target_user": rep.pk, "countries": " nl ,be"},
    )
    assert second.json()["countries"] == "nl, be"
    assert second.json()["position"] == 2
    client.patch(f"/api/v1/assignment-rules/{second.json()['id']}/", {"position": 1})
    names = [r["name"] for r in client.get("/api/v1/assignment-rules/").json()["results"]]
    assert names == ["B", "A"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "rep"}, "target_user"),
        ({"target": "team"}, "target_team"),
        ({"target": "queue", "min_score": 90, "max_score": 10}, "max_score"),
        ({"target": "elsewhere"}, "target"),
        ({"target": "queue", "name": ""}, "name"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(manager, body, field):
    response = api(manager).post("/api/v1/assignment-rules/", {"name": "R", **body})
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not AssignmentRule.objects.exists()


def test_the_preview_says_rule_rep_and_skips(manager, rep, other_rep, team, make_lead):
    Profile.objects.create(user=rep, is_available=False)
    AssignmentRule.objects.create(name="All", target=RuleTarget.TEAM, target_team=team)
    body = api(manager).post("/api/v1/assignment-rules/preview/", {"country": "NL"}).json()
    assert (body["rule_name"], body["rep_username"], body["fallback"]) == ("All", "rep2", "")
    assert body["skipped"] == [
        {
            "user": rep.pk,
            "username": "rep1",
            "reason": "unavailable",
            "open_leads": None,
            "max_open_leads": None,
        }
    ]
    lead = make_lead(Stage.MQL)
    body = api(manager).post("/api/v1/assignment-rules/preview/", {"lead": lead.pk}).json()
    assert body["rep_username"] == "rep2"
    response = api(manager).post("/api/v1/assignment-rules/preview/", {"lead": 10**9})
    assert response.status_code == 400


def test_hand_off_in_auto_mode_follows_the_rules(marketer, rep, make_lead):
    AssignmentRule.objects.create(name="All", target=RuleTarget.REP, target_user=rep)
    lead = make_lead(Stage.MQL)
    response = api(marketer).post(f"/api/v1/leads/{lead.pk}/hand-off/", {"mode": "auto"})
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).owner == rep
    assert response.json()["stage"] == "handed_off"
