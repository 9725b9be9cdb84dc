"""Someone else acted first: the loser of a race on a lead (the winner committed while the
loser waited for the row lock) is told so with a 409 (a message on the pages), not a 403
or a 404. A lead already out of the user's scope when their request reads it is a 404
that names no one, whatever its history (issue 15, finding 6)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leadflow.errors import ActionForbidden, TransitionNotAllowed
from leadflow.names import person
from leads import services as marketing
from leads.models import Lead, Stage
from sales import services as sales
from sales.models import Task
from tests.races import rival_first

from .helpers import messages_of, snapshot

HOUR = dt.timedelta(hours=1)
NO_LONGER_YOURS = (
    "This lead is no longer yours (it was reassigned or handed back), so nothing was done."
)


def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def seen(lead):
    """The lead as a page or a request reads it, before the service locks it."""
    return Lead.objects.get(pk=lead.pk)


# --- the winner commits while the loser waits for the lock --------------------------------


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_answering_a_queued_lead_another_rep_claimed_meanwhile_is_a_conflict(
    make_lead, rep, other_rep, monkeypatch, answer
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    read = seen(lead)
    rival_first(monkeypatch, lambda: sales.lead_claim(lead=lead.pk, by=rep))
    call = {"accept": sales.lead_accept, "reject": sales.lead_reject}[answer]
    extra = {"reason": "not_a_fit"} if answer == "reject" else {}
    with pytest.raises(TransitionNotAllowed, match=f"^{person(rep)} claimed this lead first.$"):
        call(lead=read, by=other_rep, **extra)


def test_a_rep_whose_lead_was_reassigned_meanwhile_is_told_it_is_no_longer_theirs(
    make_lead, rep, other_rep, manager, monkeypatch
):
    lead = make_lead(Stage.OPPORTUNITY)
    read = seen(lead)
    rival_first(
        monkeypatch, lambda: sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    )
    with pytest.raises(TransitionNotAllowed) as refused:
        sales.lead_win(lead=read, by=rep, value="100")
    assert refused.value.message == NO_LONGER_YOURS
    assert refused.value.status == 409
    assert seen(lead).stage == Stage.OPPORTUNITY


def test_editing_the_contact_of_a_lead_reassigned_meanwhile_is_a_conflict(
    make_lead, rep, other_rep, manager, monkeypatch
):
    lead = make_lead(Stage.ACCEPTED)
    read = seen(lead)
    rival_first(
        monkeypatch, lambda: sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    )
    with pytest.raises(TransitionNotAllowed, match="no longer yours"):
        marketing.lead_update_contact(lead=read, by=rep, data={"last_name": "X", "phone": "1"})


def test_a_task_on_a_lead_reassigned_meanwhile_is_a_conflict_and_adds_nothing(
    make_lead, rep, other_rep, manager, monkeypatch
):
    lead = make_lead(Stage.CONTACTED)
    read = seen(lead)
    rival_first(
        monkeypatch, lambda: sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    )
    with pytest.raises(TransitionNotAllowed) as refused:
        sales.task_add(lead=read, by=rep, kind="call_back", title="", due_at=timezone.now() + HOUR)
    assert (refused.value.status, refused.value.message) == (409, NO_LONGER_YOURS)
    assert not Task.objects.filter(lead=lead).exists()


def test_the_api_answers_a_task_on_a_lead_reassigned_meanwhile_with_409(
    make_lead, rep, other_rep, manager, monkeypatch
):
    lead = make_lead(Stage.CONTACTED)
    rival_first(
        monkeypatch, lambda: sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    )
    due = (timezone.now() + HOUR).isoformat()
    response = api(rep).post(
        "/api/v1/tasks/", {"lead": lead.pk, "kind": "call_back", "due_at": due}, format="json"
    )
    assert (response.status_code, response.json()) == (409, {"detail": NO_LONGER_YOURS})
    assert not Task.objects.filter(lead=lead).exists()


def test_a_task_on_another_reps_lead_is_still_forbidden(make_lead, rep, other_rep):
    lead = make_lead(Stage.CONTACTED, owner=other_rep)
    with pytest.raises(ActionForbidden, match="not assigned to you"):
        sales.task_add(
            lead=seen(lead), by=rep, kind="call_back", title="", due_at=timezone.now() + HOUR
        )


def test_a_rep_who_never_had_the_lead_is_still_forbidden(make_lead, rep, other_rep):
    lead = make_lead(Stage.HANDED_OFF, owner=other_rep)
    with pytest.raises(ActionForbidden, match="not assigned to you"):
        sales.lead_accept(lead=seen(lead), by=rep)


def test_a_queued_lead_claimed_meanwhile_is_no_race_for_an_action_never_taken_on_the_queue(
    make_lead, rep, other_rep, monkeypatch
):
    # Logging a call needs the lead claimed first: the rep could not have, queued or not.
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    read = seen(lead)
    rival_first(monkeypatch, lambda: sales.lead_claim(lead=lead.pk, by=other_rep))
    with pytest.raises(ActionForbidden):
        sales.activity_log(lead=read, by=rep, kind="note")


def test_the_api_answers_a_claim_won_under_the_lock_with_409_not_403(
    make_lead, rep, other_rep, monkeypatch
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    rival_first(monkeypatch, lambda: sales.lead_claim(lead=lead.pk, by=rep))
    response = api(other_rep).post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": f"{person(rep)} claimed this lead first."}


def test_the_page_answers_a_claim_won_under_the_lock_with_a_message_not_a_403(
    make_lead, rep, other_rep_client, monkeypatch
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    before_claim = snapshot(lead)
    rival_first(monkeypatch, lambda: sales.lead_claim(lead=lead.pk, by=rep))
    response = other_rep_client.post(
        reverse("sales:reject", args=[lead.pk]),
        {"reason": "not_a_fit", "note": "Typed on a stale page", "next": "/sales/"},
        follow=True,
    )
    # The form again, with the refusal and what was typed (not a redirect that drops it).
    assert response.status_code == 409
    body = response.content.decode()
    assert f"{person(rep)} claimed this lead first." in body and "Typed on a stale page" in body
    assert snapshot(lead)[0] == before_claim[0] == Stage.HANDED_OFF


def test_the_contact_form_saved_after_a_reassign_under_the_lock_says_so(
    make_lead, rep_client, other_rep, manager, monkeypatch
):
    lead = make_lead(Stage.ACCEPTED)
    rival_first(
        monkeypatch, lambda: sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    )
    response = rep_client.post(
        reverse("leads:edit", args=[lead.pk]), {"last_name": "Renamed", "phone": "1"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert messages_of(response) == [NO_LONGER_YOURS]
    assert seen(lead).last_name != "Renamed"


# --- the winner committed before the request read the lead: no race, a 404 -----------------
# (issue 15, finding 6: an action URL must not tell who holds another rep's lead).


def test_the_api_answers_a_claim_made_before_the_request_with_404_naming_no_one(
    make_lead, rep, other_rep
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    sales.lead_accept(lead=lead.pk, by=rep)
    before = snapshot(lead)
    for path, body in [("reject/", {"reason": "spam"}), ("accept/", {}), ("claim/", {})]:
        response = api(other_rep).post(f"/api/v1/leads/{lead.pk}/{path}", body, format="json")
        assert response.status_code == 404, path
        assert "rep1" not in response.content.decode()
    assert snapshot(lead) == before


@pytest.mark.parametrize(
    "path, body",
    [
        ("won/", {"value": "10"}),
        ("lost/", {"reason": "price"}),
        ("activities/", {"kind": "call"}),
        ("accept/", {}),
    ],
)
def test_the_api_answers_a_rep_whose_lead_was_reassigned_before_with_404(
    make_lead, rep, other_rep, manager, path, body
):
    lead = make_lead(Stage.OPPORTUNITY)
    sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    before = snapshot(lead)
    response = api(rep).post(f"/api/v1/leads/{lead.pk}/{path}", body, format="json")
    assert response.status_code == 404
    assert snapshot(lead) == before
    assert api(rep).get(f"/api/v1/leads/{lead.pk}/").status_code == 404


def test_the_api_answers_a_rep_who_rejected_in_another_tab_404(make_lead, rep):
    lead = make_lead(Stage.HANDED_OFF)
    assert (
        api(rep)
        .post(f"/api/v1/leads/{lead.pk}/reject/", {"reason": "spam"}, format="json")
        .status_code
        == 200
    )
    response = api(rep).post(f"/api/v1/leads/{lead.pk}/accept/", {}, format="json")
    assert response.status_code == 404


def test_the_api_keeps_404_for_a_lead_the_rep_never_had(make_lead, rep, other_rep):
    lead = make_lead(Stage.OPPORTUNITY, owner=other_rep)
    for path, body in [("won/", {"value": "10"}), ("accept/", {}), ("claim/", {})]:
        response = api(rep).post(f"/api/v1/leads/{lead.pk}/{path}", body, format="json")
        assert response.status_code == 404, path
    assert api(rep).post("/api/v1/leads/99999999999999999999/won/", {}).status_code == 404
    assert api(rep).post("/api/v1/leads/abc/won/", {}).status_code == 404


def test_the_contact_form_saved_after_a_reassign_before_is_a_404(
    make_lead, rep_client, other_rep, manager
):
    lead = make_lead(Stage.ACCEPTED)
    sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    response = rep_client.post(
        reverse("leads:edit", args=[lead.pk]), {"last_name": "Renamed", "phone": "1"}
    )
    assert response.status_code == 404
    assert seen(lead).last_name != "Renamed"
    assert rep_client.get(reverse("leads:edit", args=[lead.pk])).status_code == 404


# A stale page: another rep claimed the queued lead before this rep's Claim was read.
CLAIMED_BY_ANOTHER = "Another rep claimed this lead first, so nothing was done."


def test_claiming_from_a_stale_page_a_lead_another_rep_claimed_says_they_claimed_it_first(
    make_lead, rep, other_rep_client
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    sales.lead_claim(lead=lead.pk, by=rep)
    before = snapshot(lead)
    url = reverse("sales:claim", args=[lead.pk])
    # Without JavaScript: still the 404 of a lead out of scope, now saying why.
    response = other_rep_client.post(url, {"next": "/sales/"})
    assert response.status_code == 404
    body = response.content.decode()
    assert CLAIMED_BY_ANOTHER in body and person(rep) not in body
    as_json = other_rep_client.post(url, headers={"accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.json() == {"detail": CLAIMED_BY_ANOTHER}
    assert snapshot(lead) == before


def test_rejecting_from_a_stale_page_a_lead_another_rep_claimed_keeps_the_typed_note(
    make_lead, rep, other_rep_client
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    sales.lead_claim(lead=lead.pk, by=rep)
    response = other_rep_client.post(
        reverse("sales:reject", args=[lead.pk]),
        {"reason": "not_a_fit", "note": "Typed on a stale page"},
    )
    assert response.status_code == 404
    body = response.content.decode()
    assert CLAIMED_BY_ANOTHER in body and "Typed on a stale page" in body
    assert person(rep) not in body


def test_a_claimed_lead_later_reassigned_away_from_its_claimer_is_no_longer_theirs(
    make_lead, rep, rep_client, other_rep, manager
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    sales.lead_claim(lead=lead.pk, by=rep)
    sales.lead_reassign(lead=lead.pk, by=manager, to_user=other_rep)
    response = rep_client.post(
        reverse("sales:accept", args=[lead.pk]), headers={"accept": "application/json"}
    )
    assert response.status_code == 404
    assert "no longer yours" in response.json()["detail"]
