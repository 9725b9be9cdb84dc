"""The sales actions on one lead, through the views: who may do what (SPEC §1), what the
forms refuse, and that a refusal writes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from leadflow.names import person
from leads.models import Stage, StageChange
from sales import services as sales
from sales.models import Activity, Handoff
from tests.races import rival_first

from .helpers import messages_of, snapshot, unlabelled_fields

# action -> (stage the lead must be at for it, a valid POST)
ACTIONS = {
    "claim": (Stage.HANDED_OFF, {}),
    "accept": (Stage.HANDED_OFF, {}),
    "reject": (Stage.HANDED_OFF, {"reason": "not_a_fit"}),
    "log": (Stage.ACCEPTED, {"kind": "call", "outcome": "connected"}),
    "opportunity": (Stage.CONTACTED, {"value": "1000"}),
    "win": (Stage.OPPORTUNITY, {"value": "2500"}),
    "lose": (Stage.CONTACTED, {"reason": "price"}),
    "reopen": (Stage.WON, {}),
    "reassign": (Stage.ACCEPTED, {}),
}


def url(action, lead):
    return reverse(f"sales:{action}", args=[lead.pk])


def local_input(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


# --- permissions -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_is_sent_to_login_and_nothing_changes(client, make_lead, action):
    stage, data = ACTIONS[action]
    lead = make_lead(stage)
    before = snapshot(lead)
    response = client.post(url(action, lead), data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_rep_acting_on_another_reps_lead_gets_404_and_nothing_changes(
    rep_client, make_lead, other_rep, third_rep, action
):
    stage, data = ACTIONS[action]
    lead = make_lead(stage, owner=other_rep)
    before = snapshot(lead)
    if action == "reassign":
        data = {"to_user": third_rep.pk}
    assert rep_client.post(url(action, lead), data).status_code == 404
    assert rep_client.get(url(action, lead)).status_code in (404, 405)
    assert snapshot(lead) == before


def test_acting_on_a_lead_reassigned_before_the_request_is_a_404_that_changes_nothing(
    rep_client, make_lead, rep, other_rep, manager
):
    # Out of the rep's scope when the request reads it: no race to tell of (that is the
    # refusal under the lock, tests/sales/test_lost_races.py), and a 404 names no one.
    lead = make_lead(Stage.HANDED_OFF, owner=rep)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    before = snapshot(lead)
    response = rep_client.post(url("accept", lead), {"next": "/sales/"})
    assert response.status_code == 404
    assert messages_of(rep_client.get("/sales/")) == []
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_marketer_cannot_take_sales_actions(marketer_client, make_lead, other_rep, action):
    stage, data = ACTIONS[action]
    lead = make_lead(stage)
    before = snapshot(lead)
    if action == "reassign":
        data = {"to_user": other_rep.pk}
    response = marketer_client.post(url(action, lead), data)
    assert response.status_code == 403
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", ["reopen", "reassign"])
def test_rep_cannot_reopen_or_reassign_even_their_own_lead(
    rep_client, make_lead, other_rep, action
):
    stage, data = ACTIONS[action]
    lead = make_lead(stage)
    before = snapshot(lead)
    response = rep_client.post(url(action, lead), {**data, "to_user": other_rep.pk})
    assert response.status_code == 403
    assert b"Only managers" in response.content
    assert snapshot(lead) == before


def test_rep_cannot_close_a_queued_lead_they_can_see(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    before = snapshot(lead)
    response = rep_client.post(url("log", lead), {"kind": "call", "notes": "Typed"})
    assert snapshot(lead) == before
    # The form comes back with the refusal and what was typed.
    assert response.status_code == 409
    body = response.content.decode()
    assert "Claim this lead from the queue first." in body and "Typed" in body


def test_one_click_actions_refuse_get(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    assert rep_client.get(url("accept", lead)).status_code == 405
    assert snapshot(lead)[0] == Stage.HANDED_OFF


# --- accept, reject, claim ------------------------------------------------------------------


def test_rep_accepts_a_lead_and_returns_to_the_inbox(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    response = rep_client.post(url("accept", lead), {"next": "/sales/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/sales/"
    assert f"Accepted {lead}." in messages_of(response)
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED


def test_accepting_an_accepted_lead_says_so_and_changes_nothing(rep_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    response = rep_client.post(url("accept", lead), follow=True)
    assert "You already accepted this lead." in messages_of(response)
    assert snapshot(lead) == before


def test_reject_needs_a_reason_and_keeps_the_note_typed(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    before = snapshot(lead)
    response = rep_client.post(url("reject", lead), {"reason": "", "note": "Bot traffic"})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["Choose a reason for rejecting."]
    assert b"Bot traffic" in response.content
    assert snapshot(lead) == before
    response = rep_client.post(url("reject", lead), {"reason": "bored"})
    assert "reason" in response.context["form"].errors
    assert snapshot(lead) == before


def test_rep_rejecting_goes_back_to_marketing_and_lands_on_the_inbox(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    response = rep_client.post(
        url("reject", lead), {"reason": "spam", "note": "bot traffic"}, follow=True
    )
    # The lead is marketing's now and no longer visible to the rep: not a 404 page.
    assert response.redirect_chain[-1][0] == reverse("sales:inbox")
    lead.refresh_from_db()
    assert (lead.stage, lead.owner_side) == ("rejected", "marketing")
    assert lead.rejection_reason == "spam"
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.response_note, handoff.note) == ("bot traffic", "")
    assert handoff.rejected_at == lead.rejected_at


def test_rep_claims_a_queued_lead(rep_client, make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    response = rep_client.post(url("claim", lead), {"next": "/sales/"}, follow=True)
    assert any("Claimed" in m for m in messages_of(response))
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.HANDED_OFF, rep)


@pytest.mark.parametrize("first", ["claim", "accept"])
@pytest.mark.parametrize(
    "action, data", [("claim", {}), ("accept", {}), ("reject", {"reason": "not_a_fit"})]
)
def test_a_queued_lead_another_rep_took_before_the_request_is_a_404_naming_no_one(
    rep_client, other_rep, make_lead, first, action, data
):
    """rep2 took the lead from the queue before rep1's request read it: for rep1 it is
    another rep's lead, and its action URLs say nothing of who has it (GET or POST)."""
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    getattr(sales, f"lead_{first}")(lead=lead, by=other_rep)
    before = snapshot(lead)
    for response in (
        rep_client.get(url(action, lead)),
        rep_client.post(url(action, lead), {"next": "/sales/", **data}),
    ):
        assert response.status_code == 404
        assert "rep2" not in response.content.decode()
    assert messages_of(rep_client.get("/sales/")) == []
    assert snapshot(lead) == before


def test_the_loser_of_a_claim_under_the_lock_sees_who_claimed_it_first(
    rep_client, other_rep, make_lead, monkeypatch
):
    # Queued when rep1's request read it; rep2's claim commits while rep1 waits for the
    # row lock: rep1 took part in the race and is told who won.
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    rival_first(monkeypatch, lambda: sales.lead_claim(lead=lead.pk, by=other_rep))
    response = rep_client.post(url("claim", lead), {"next": "/sales/"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/sales/"
    assert messages_of(response) == [f"{person(other_rep)} claimed this lead first."]


def test_a_page_gone_stale_under_the_lock_after_a_reassign_says_so(
    rep_client, make_lead, rep, other_rep, manager, monkeypatch
):
    lead = make_lead(Stage.HANDED_OFF, owner=rep)
    rival_first(
        monkeypatch, lambda: sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    )
    response = rep_client.post(url("accept", lead), {"next": "/sales/"})
    assert response.status_code == 302 and response["Location"] == "/sales/"
    assert messages_of(rep_client.get("/sales/")) == [
        "This lead is no longer yours (it was reassigned or handed back), so nothing was done."
    ]


def test_a_lead_never_in_the_queue_stays_a_404_for_other_reps(rep_client, other_rep, make_lead):
    lead = make_lead(Stage.HANDED_OFF, owner=other_rep)
    assert rep_client.post(url("claim", lead)).status_code == 404


def test_manager_cannot_claim(manager_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    assert manager_client.post(url("claim", lead)).status_code == 403
    assert snapshot(lead)[1] is None


# --- follow-ups ------------------------------------------------------------------------


def test_logging_a_call_on_a_handed_off_lead_accepts_and_contacts_it(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    follow_up = timezone.now() + dt.timedelta(days=2)
    response = rep_client.post(
        url("log", lead),
        {
            "kind": "call",
            "outcome": "objection",
            "objections": ["price", "timing"],
            "notes": "Wants a discount",
            "next_follow_up_at": local_input(follow_up),
            "next": "/sales/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/sales/"
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert lead.next_follow_up_at is not None
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.outcome, activity.notes) == (
        "call",
        "objection",
        "Wants a discount",
    )
    assert sorted(activity.objection_tags) == ["price", "timing"]
    assert abs(activity.occurred_at - timezone.now()) < dt.timedelta(minutes=1)


def test_a_note_does_not_accept_or_contact(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    rep_client.post(url("note", lead), {"notes": "Tried LinkedIn"})
    lead.refresh_from_db()
    assert lead.stage == Stage.HANDED_OFF and lead.first_contact_at is None
    assert Activity.objects.filter(lead=lead, kind="note").count() == 1


def test_activity_in_the_future_is_a_form_error_that_keeps_the_input(rep_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    response = rep_client.post(
        url("log", lead),
        {
            "kind": "meeting",
            "notes": "Demo at their office",
            "occurred_at": local_input(timezone.now() + dt.timedelta(hours=3)),
            "next": "/sales/",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["occurred_at"] == [
        "An activity cannot be in the future."
    ]
    body = response.content.decode()
    assert "Demo at their office" in body
    assert 'name="next" value="/sales/"' in body
    assert snapshot(lead) == before


def test_next_follow_up_before_the_activity_is_refused(rep_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    response = rep_client.post(
        url("log", lead),
        {"kind": "call", "next_follow_up_at": local_input(timezone.now() - dt.timedelta(days=1))},
    )
    assert "next_follow_up_at" in response.context["form"].errors
    assert snapshot(lead) == before


def test_a_follow_up_at_the_calendars_end_is_a_form_error_not_a_500(rep_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    response = rep_client.post(
        url("log", lead), {"kind": "call", "next_follow_up_at": "9999-12-31T23:59"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["next_follow_up_at"] == [
        "Schedule the next follow-up within the next two years."
    ]
    assert snapshot(lead) == before


def test_the_log_forms_show_the_scheduled_follow_up_so_a_note_keeps_it(rep_client, make_lead):
    lead = make_lead(Stage.CONTACTED)
    ahead = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=2)
    sales.activity_log(lead=lead, by=lead.owner, kind="call", next_follow_up_at=ahead)
    shown = f'value="{local_input(ahead)}"'
    assert shown in rep_client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    page = rep_client.get(url("log", lead))
    assert page.context["form"].initial["next_follow_up_at"] == ahead
    # A note (its own form, without a follow-up field) keeps it.
    rep_client.post(url("note", lead), {"notes": "Asked for the price list"})
    lead.refresh_from_db()
    assert lead.next_follow_up_at == ahead
    # The browser posts the pre-filled value back with a call: it stays.
    rep_client.post(url("log", lead), {"kind": "call", "next_follow_up_at": local_input(ahead)})
    lead.refresh_from_db()
    assert lead.next_follow_up_at == ahead
    # Clearing the field clears it.
    rep_client.post(url("log", lead), {"kind": "call", "next_follow_up_at": ""})
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None


def test_a_follow_up_already_due_is_done_by_the_next_activity(make_lead):
    lead = make_lead(Stage.CONTACTED)
    type(lead).objects.filter(pk=lead.pk).update(
        next_follow_up_at=timezone.now() - dt.timedelta(hours=1)
    )
    lead.refresh_from_db()
    sales.activity_log(lead=lead, by=lead.owner, kind="call")
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None and lead.follow_up_due_at is None


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "fax"},
        {"kind": ""},
        {"kind": "call", "outcome": "meh"},
        {"kind": "call", "objections": ["price", "vibes"]},
        {"kind": "call", "occurred_at": "yesterday-ish"},
    ],
)
def test_bad_follow_up_input_is_a_form_error_not_a_500(rep_client, make_lead, data):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    response = rep_client.post(url("log", lead), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert snapshot(lead) == before


def test_log_form_page_has_every_field_labelled(rep_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    response = rep_client.get(url("log", lead) + "?next=/sales/")
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("kind", "outcome", "objections", "notes", "occurred_at", "next_follow_up_at"):
        assert f'name="{name}"' in body
    assert unlabelled_fields(body) == ([], set())
    assert 'value="/sales/"' in body


def test_manager_may_log_a_follow_up_on_any_reps_lead(manager_client, make_lead, manager):
    lead = make_lead(Stage.ACCEPTED)
    manager_client.post(url("log", lead), {"kind": "email", "outcome": "replied"})
    assert Activity.objects.get(lead=lead).user == manager


# --- opportunity, won, lost, reopen -----------------------------------------------------


def test_opportunity_with_estimated_value(rep_client, make_lead):
    lead = make_lead(Stage.CONTACTED)
    rep_client.post(url("opportunity", lead), {"value": "12500.50"})
    lead.refresh_from_db()
    assert (lead.stage, lead.deal_value) == (Stage.OPPORTUNITY, Decimal("12500.50"))


def test_opportunity_refuses_a_negative_value(rep_client, make_lead):
    lead = make_lead(Stage.CONTACTED)
    before = snapshot(lead)
    response = rep_client.post(url("opportunity", lead), {"value": "-1"})
    assert "value" in response.context["form"].errors
    assert snapshot(lead) == before


@pytest.mark.parametrize(
    "value, error",
    [
        ("", "A won deal needs a value above zero."),
        ("0", "A won deal needs a value above zero."),
        ("-10", "Enter an amount between 0 and 9,999,999,999.99."),
        ("abc", "Enter a number."),
        ("1e15", None),
    ],
)
def test_won_requires_a_value_above_zero(rep_client, make_lead, value, error):
    lead = make_lead(Stage.OPPORTUNITY)
    before = snapshot(lead)
    response = rep_client.post(url("win", lead), {"value": value})
    assert response.status_code == 200
    errors = response.context["form"].errors["value"]
    assert errors and (error is None or errors == [error])
    assert snapshot(lead) == before
    assert not StageChange.objects.filter(lead=lead, to_stage="won").exists()


def test_won_with_a_value(rep_client, make_lead):
    lead = make_lead(Stage.OPPORTUNITY)
    response = rep_client.post(url("win", lead), {"value": "8000"}, follow=True)
    assert f"Won: {lead}." in messages_of(response)
    lead.refresh_from_db()
    assert (lead.stage, lead.deal_value, lead.owner_side) == (
        Stage.WON,
        Decimal("8000.00"),
        "closed",
    )


@pytest.mark.parametrize("reason", ["", "bad vibes"])
def test_lost_requires_a_reason_from_the_list(rep_client, make_lead, reason):
    lead = make_lead(Stage.CONTACTED)
    before = snapshot(lead)
    response = rep_client.post(url("lose", lead), {"reason": reason, "note": "gone quiet"})
    assert "reason" in response.context["form"].errors
    assert snapshot(lead) == before


def test_lost_with_a_reason(rep_client, make_lead):
    lead = make_lead(Stage.OPPORTUNITY)
    rep_client.post(url("lose", lead), {"reason": "competitor", "note": "Went with Acme"})
    lead.refresh_from_db()
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "competitor")
    assert lead.stage_changes.last().note == "Went with Acme"


def test_a_move_the_stage_does_not_allow_is_a_message(rep_client, make_lead):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    response = rep_client.post(url("win", lead), {"value": "100"}, follow=True)
    assert response.status_code == 409
    assert "Cannot mark this lead as won: it is at the “Accepted” stage." in (
        response.content.decode()
    )
    assert snapshot(lead) == before


def test_only_a_manager_reopens_a_closed_lead(rep_client, manager_client, make_lead):
    lead = make_lead(Stage.LOST)
    assert rep_client.post(url("reopen", lead)).status_code == 403
    assert snapshot(lead)[0] == Stage.LOST
    response = manager_client.post(url("reopen", lead), {"note": "They called back"}, follow=True)
    assert f"Reopened {lead}." in messages_of(response)
    lead.refresh_from_db()
    assert (lead.stage, lead.closed_at, lead.lost_reason) == (Stage.OPPORTUNITY, None, "")


def test_reopen_form_on_an_open_lead_sends_back_to_the_lead(manager_client, make_lead):
    lead = make_lead(Stage.CONTACTED)
    response = manager_client.get(url("reopen", lead), follow=True)
    assert response.redirect_chain[-1][0] == lead.get_absolute_url()
    assert "That action is not available for this lead now." in messages_of(response)


# --- next, redirects --------------------------------------------------------------------


def test_next_pointing_off_site_is_ignored(rep_client, make_lead):
    lead = make_lead(Stage.HANDED_OFF)
    response = rep_client.post(url("accept", lead), {"next": "https://evil.example/"})
    assert response["Location"] == lead.get_absolute_url()


def test_without_next_an_action_returns_to_the_lead_page(rep_client, make_lead):
    lead = make_lead(Stage.CONTACTED)
    response = rep_client.post(url("opportunity", lead), {"value": ""})
    assert response["Location"] == lead.get_absolute_url()


def test_forms_work_without_javascript_and_carry_csrf(make_lead, rep):
    from django.test import Client

    lead = make_lead(Stage.HANDED_OFF)
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(url("accept", lead)).status_code == 403
    page = client.get(lead.get_absolute_url())
    token = page.context["csrf_token"]
    response = client.post(url("accept", lead), {"csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert snapshot(lead)[0] == Stage.ACCEPTED
