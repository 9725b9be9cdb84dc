"""The lifecycle actions under /api/v1/leads/{id}/: each calls the page's service, so the
same role (403), scope (404), stage (409) and input (400) rules hold, and a refusal
changes nothing."""

import datetime as dt

import pytest
from django.utils import timezone

from leads.models import Lead, Stage, StageChange
from sales.models import Activity, Dispute

from .conftest import UNAUTHENTICATED

# action -> (stage the lead starts at, request body, the stage a success leads to)
# Sales-side leads belong to rep1 ("rep"); the queue lead of claim has no owner.
ACTIONS = {
    "qualify": (Stage.NEW, {"score": 70, "note": "fits"}, Stage.MQL),
    "nurture": (Stage.NEW, {}, Stage.NURTURE),
    "disqualify": (Stage.NEW, {"reason": "spam"}, Stage.DISQUALIFIED),
    "recycle": (Stage.REJECTED, {}, Stage.NURTURE),
    "hand-off": (Stage.MQL, {"mode": "queue"}, Stage.HANDED_OFF),
    "dispute": (Stage.REJECTED, {"comment": "They never called."}, Stage.REJECTED),
    "claim": (Stage.HANDED_OFF, {}, Stage.HANDED_OFF),
    "accept": (Stage.HANDED_OFF, {"note": "on it"}, Stage.ACCEPTED),
    "reject": (Stage.HANDED_OFF, {"reason": "not_a_fit"}, Stage.REJECTED),
    "activities": (Stage.ACCEPTED, {"kind": "call", "outcome": "connected"}, Stage.CONTACTED),
    "opportunity": (Stage.CONTACTED, {"value": "1200.50"}, Stage.OPPORTUNITY),
    "won": (Stage.OPPORTUNITY, {"value": "9000"}, Stage.WON),
    "lost": (Stage.CONTACTED, {"reason": "price"}, Stage.LOST),
    "reopen": (Stage.WON, {}, Stage.OPPORTUNITY),
    "reassign": (Stage.ACCEPTED, {"to_user": "other_rep"}, Stage.ACCEPTED),
}
MARKETING = {"marketer": 200, "manager": 200, "rep": 404, "other_rep": 404}
SALES = {"rep": 200, "manager": 200, "marketer": 403, "other_rep": 404}
EXPECTED = {
    "qualify": MARKETING,
    "nurture": MARKETING,
    "disqualify": MARKETING,
    "recycle": MARKETING,
    "hand-off": MARKETING,
    "dispute": {"marketer": 201, "manager": 201, "rep": 404, "other_rep": 404},
    # A queued lead is visible to every rep; only salespeople claim.
    "claim": {"rep": 200, "other_rep": 200, "marketer": 403, "manager": 403},
    "accept": SALES,
    "reject": SALES,
    "activities": {**SALES, "rep": 201, "manager": 201},
    "opportunity": SALES,
    "won": SALES,
    "lost": SALES,
    "reopen": {"manager": 200, "rep": 403, "marketer": 403, "other_rep": 404},
    "reassign": {"manager": 200, "rep": 403, "marketer": 403, "other_rep": 404},
}
CASES = [
    (action, role, status)
    for action, by_role in EXPECTED.items()
    for role, status in [*by_role.items(), *((r, 401) for r in UNAUTHENTICATED)]
]


def build(make_lead, action):
    stage = ACTIONS[action][0]
    return make_lead(stage, owner=None if action == "claim" else "rep")


def body_for(action, users):
    body = dict(ACTIONS[action][1])
    if body.get("to_user") in users:
        body["to_user"] = users[body["to_user"]].pk
    return body


@pytest.mark.parametrize("action, role, status", CASES)
def test_every_action_for_every_role(client_as, make_lead, users, action, role, status):
    lead = build(make_lead, action)
    before = StageChange.objects.filter(lead=lead).count()
    response = client_as(role).post(
        f"/api/v1/leads/{lead.pk}/{action}/", body_for(action, users), format="json"
    )
    assert response.status_code == status, response.content
    assert "detail" in response.json() if status >= 400 else True
    lead.refresh_from_db()
    if status < 400:
        assert lead.stage == ACTIONS[action][2]
        if action not in ("dispute", "claim", "reassign"):
            assert StageChange.objects.filter(lead=lead).count() > before
    else:
        assert lead.stage == ACTIONS[action][0]
        assert StageChange.objects.filter(lead=lead).count() == before


@pytest.mark.parametrize("role", ["marketer", "manager"])
def test_unslashed_action_url_works_too(client_as, make_lead, role):
    lead = make_lead(Stage.NEW)
    response = client_as(role).post(f"/api/v1/leads/{lead.pk}/qualify", {}, format="json")
    assert response.status_code == 200
    assert response.json()["stage"] == "mql"


def test_action_answers_with_the_lead_after_the_change(client_as, make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    body = client_as("rep").post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json").json()
    assert body["id"] == lead.pk and body["stage"] == "accepted"
    assert body["accepted_at"] is not None and body["owner"] == rep.pk


def test_rejecting_answers_even_though_the_lead_leaves_the_reps_scope(client_as, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    client = client_as("rep")
    response = client.post(f"/api/v1/leads/{lead.pk}/reject/", {"reason": "spam"}, format="json")
    assert response.status_code == 200
    assert response.json()["stage"] == "rejected"
    assert client.get(f"/api/v1/leads/{lead.pk}/").status_code == 404


# --- stage refusals: 409 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "role, stage, action, body",
    [
        ("marketer", Stage.MQL, "qualify", {}),
        ("marketer", Stage.NEW, "recycle", {}),
        ("marketer", Stage.NEW, "hand-off", {"mode": "queue"}),
        ("marketer", Stage.WON, "disqualify", {"reason": "spam"}),
        ("marketer", Stage.MQL, "dispute", {"comment": "why"}),
        ("rep", Stage.ACCEPTED, "accept", {}),
        ("rep", Stage.HANDED_OFF, "claim", {}),
        ("rep", Stage.ACCEPTED, "won", {"value": "10"}),  # from contacted it is one step
        ("rep", Stage.OPPORTUNITY, "opportunity", {}),
        ("rep", Stage.CONTACTED, "reject", {"reason": "spam"}),
        ("manager", Stage.ACCEPTED, "reopen", {}),
        ("manager", Stage.NEW, "activities", {"kind": "note"}),
        ("manager", Stage.MQL, "reassign", {"to_user": "other_rep"}),
        ("manager", Stage.WON, "lost", {"reason": "price"}),
    ],
)
def test_a_move_the_stage_does_not_allow_is_409(
    client_as, make_lead, users, role, stage, action, body
):
    lead = make_lead(stage)
    if body.get("to_user") in users:
        body = {**body, "to_user": users[body["to_user"]].pk}
    response = client_as(role).post(f"/api/v1/leads/{lead.pk}/{action}/", body, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["detail"]
    assert Lead.objects.get(pk=lead.pk).stage == stage


def test_manager_cannot_accept_a_queued_lead_409(client_as, make_lead):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    response = client_as("manager").post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json")
    assert response.status_code == 409
    assert "unassigned queue" in response.json()["detail"]


def test_disputed_rejection_blocks_recycle_409(client_as, make_lead):
    lead = make_lead(Stage.REJECTED)
    client = client_as("marketer")
    assert (
        client.post(f"/api/v1/leads/{lead.pk}/dispute/", {"comment": "c"}, format="json")
    ).status_code == 201
    response = client.post(f"/api/v1/leads/{lead.pk}/recycle/", {}, format="json")
    assert response.status_code == 409
    assert "disputed" in response.json()["detail"]


# --- input refusals: 400 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "role, stage, action, body, field",
    [
        ("rep", Stage.HANDED_OFF, "reject", {}, "reason"),
        ("rep", Stage.HANDED_OFF, "reject", {"reason": "boring"}, "reason"),
        ("marketer", Stage.NEW, "disqualify", {}, "reason"),
        ("marketer", Stage.NEW, "qualify", {"score": 101}, "score"),
        ("marketer", Stage.MQL, "hand-off", {}, "mode"),
        ("marketer", Stage.MQL, "hand-off", {"mode": "rep"}, "to_user"),
        ("marketer", Stage.MQL, "hand-off", {"mode": "rep", "to_user": 999999}, "to_user"),
        # A marketer is no salesperson: the service refuses the pick.
        ("marketer", Stage.MQL, "hand-off", {"mode": "rep", "to_user": "marketer"}, "to_user"),
        ("marketer", Stage.REJECTED, "dispute", {"comment": ""}, "comment"),
        ("rep", Stage.OPPORTUNITY, "won", {}, "value"),
        ("rep", Stage.OPPORTUNITY, "won", {"value": "0"}, "value"),
        ("rep", Stage.OPPORTUNITY, "won", {"value": "-5"}, "value"),
        ("rep", Stage.OPPORTUNITY, "won", {"value": "1e12"}, "value"),
        ("rep", Stage.OPPORTUNITY, "won", {"value": "lots"}, "value"),
        ("rep", Stage.CONTACTED, "lost", {"reason": ""}, "reason"),
        ("rep", Stage.ACCEPTED, "activities", {"kind": "fax"}, "kind"),
        ("rep", Stage.ACCEPTED, "activities", {"kind": "call", "objections": ["x"]}, "objections"),
        (
            "rep",
            Stage.ACCEPTED,
            "activities",
            {"kind": "call", "occurred_at": "soon"},
            "occurred_at",
        ),
        ("manager", Stage.ACCEPTED, "reassign", {}, "to_user"),
        ("manager", Stage.ACCEPTED, "reassign", {"to_user": "rep"}, "to_user"),
        ("manager", Stage.ACCEPTED, "reassign", {"to_user": 123456789}, "to_user"),
    ],
)
def test_bad_input_is_400_with_field_errors(
    client_as, make_lead, users, role, stage, action, body, field
):
    lead = make_lead(stage)
    if body.get("to_user") in users:
        body = {**body, "to_user": users[body["to_user"]].pk}
    before = StageChange.objects.filter(lead=lead).count()
    response = client_as(role).post(f"/api/v1/leads/{lead.pk}/{action}/", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors and all(isinstance(m, str) for m in errors[field])
    assert StageChange.objects.filter(lead=lead).count() == before


def test_activity_in_the_future_is_refused_by_the_service(client_as, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = client_as("rep").post(
        f"/api/v1/leads/{lead.pk}/activities/",
        {"kind": "call", "occurred_at": future},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"occurred_at": ["An activity cannot be in the future."]}


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:00", "9999-12-31T23:59:00+01:00", "9999-12-31T23:59:00-01:00"]
)
def test_a_follow_up_at_the_calendars_end_is_400_not_500(client_as, make_lead, moment):
    lead = make_lead(Stage.ACCEPTED)
    response = client_as("rep").post(
        f"/api/v1/leads/{lead.pk}/activities/",
        {"kind": "call", "next_follow_up_at": moment},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "next_follow_up_at" in response.json()["errors"]
    assert not lead.activities.exists()


@pytest.mark.parametrize("field", ["occurred_at", "next_follow_up_at"])
def test_a_naive_moment_in_year_one_is_400_not_500(client_as, make_lead, field):
    """Year 1 at midnight in the site's time zone is before year 1 in UTC: DRF's own check
    of the moment overflowed."""
    lead = make_lead(Stage.ACCEPTED)
    response = client_as("rep").post(
        f"/api/v1/leads/{lead.pk}/activities/",
        {"kind": "call", field: "0001-01-01T00:00:00"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not lead.activities.exists()


def test_an_activity_without_a_follow_up_keeps_the_scheduled_one_null_clears_it(
    client_as, make_lead
):
    lead = make_lead(Stage.CONTACTED)
    ahead = (timezone.now() + dt.timedelta(days=3)).replace(microsecond=0)
    client = client_as("rep")
    url = f"/api/v1/leads/{lead.pk}/activities/"
    client.post(url, {"kind": "call", "next_follow_up_at": ahead.isoformat()}, format="json")
    client.post(url, {"kind": "note", "notes": "left a message"}, format="json")
    lead.refresh_from_db()
    assert lead.next_follow_up_at == ahead
    client.post(url, {"kind": "note", "next_follow_up_at": None}, format="json")
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None


def test_body_that_is_not_an_object_is_400(client_as, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    response = client_as("rep").post(f"/api/v1/leads/{lead.pk}/reject/", ["spam"], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


# --- details of particular actions -----------------------------------------------------


def test_hand_off_to_a_chosen_rep_and_by_round_robin(client_as, make_lead, rep, other_rep):
    client = client_as("marketer")
    first, second = make_lead(Stage.MQL), make_lead(Stage.MQL)
    response = client.post(
        f"/api/v1/leads/{first.pk}/hand-off/", {"mode": "rep", "to_user": rep.pk}, format="json"
    )
    assert response.json()["owner"] == rep.pk
    response = client.post(
        f"/api/v1/leads/{second.pk}/hand-off/", {"mode": "round_robin"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["owner"] == other_rep.pk  # assigned longest ago (never)


def test_activities_list_and_create(client_as, make_lead, rep):
    lead = make_lead(Stage.ACCEPTED)
    client = client_as("rep")
    follow_up = (timezone.now() + dt.timedelta(days=2)).isoformat()
    response = client.post(
        f"/api/v1/leads/{lead.pk}/activities/",
        {
            "kind": "meeting",
            "outcome": "objection",
            "objections": ["price", "timing"],
            "notes": "Too expensive for now",
            "next_follow_up_at": follow_up,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["kind"] == "meeting" and created["is_contact"] is True
    assert sorted(created["objections"]) == ["price", "timing"]
    assert created["user_username"] == "rep1"
    client.post(f"/api/v1/leads/{lead.pk}/activities/", {"kind": "note"}, format="json")
    rows = client.get(f"/api/v1/leads/{lead.pk}/activities/").json()
    assert [r["kind"] for r in rows] == ["note", "meeting"]
    assert Activity.objects.filter(lead=lead).count() == 2
    # Marketing reads the follow-ups of any lead (they see all leads).
    assert len(client_as("marketer").get(f"/api/v1/leads/{lead.pk}/activities/").json()) == 2


def test_reassign_moves_the_lead_to_the_other_rep(client_as, make_lead, other_rep):
    lead = make_lead(Stage.CONTACTED)
    response = client_as("manager").post(
        f"/api/v1/leads/{lead.pk}/reassign/", {"to_user": other_rep.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["owner_username"] == "rep2"
    assert client_as("rep").get(f"/api/v1/leads/{lead.pk}/").status_code == 404


def test_a_claim_after_another_reps_claim_is_a_404_naming_no_one(client_as, make_lead):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    assert client_as("rep").post(f"/api/v1/leads/{lead.pk}/claim/").status_code == 200
    # It left the queue before rep2's request read it: no race, and nothing of who has it.
    response = client_as("other_rep").post(f"/api/v1/leads/{lead.pk}/claim/")
    assert response.status_code == 404
    assert "rep1" not in response.content.decode()
    assert client_as("other_rep").get(f"/api/v1/leads/{lead.pk}/").status_code == 404


def test_won_and_reopen_keep_the_deal_value(client_as, make_lead):
    lead = make_lead(Stage.OPPORTUNITY)
    response = client_as("rep").post(
        f"/api/v1/leads/{lead.pk}/won/", {"value": 4321.5}, format="json"
    )
    assert response.json()["deal_value"] == "4321.50"
    response = client_as("manager").post(f"/api/v1/leads/{lead.pk}/reopen/", {}, format="json")
    assert response.json()["stage"] == "opportunity"


def test_dispute_answers_with_the_dispute(client_as, make_lead, marketer):
    lead = make_lead(Stage.REJECTED)
    response = client_as("marketer").post(
        f"/api/v1/leads/{lead.pk}/dispute/", {"comment": "They never called."}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    dispute = Dispute.objects.get(pk=body["id"])
    assert (body["lead"], body["raised_by"], body["is_open"]) == (lead.pk, marketer.pk, True)
    assert dispute.comment == "They never called."


def test_actions_need_post(client_as, make_lead):
    lead = make_lead(Stage.NEW)
    response = client_as("marketer").get(f"/api/v1/leads/{lead.pk}/qualify/")
    assert response.status_code == 405
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "role, status",
    [
        ("marketer", 200),
        ("manager", 200),
        ("rep", 200),
        ("other_rep", 404),
        *((r, 401) for r in UNAUTHENTICATED),
    ],
)
def test_reading_follow_ups_by_role(client_as, make_lead, role, status):
    lead = make_lead(Stage.CONTACTED)
    response = client_as(role).get(f"/api/v1/leads/{lead.pk}/activities/")
    assert response.status_code == status
    if status == 200:
        assert [a["kind"] for a in response.json()] == ["call"]
