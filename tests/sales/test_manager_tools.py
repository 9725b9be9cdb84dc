"""Managers' tools: the team overview, reassigning one or many leads, availability for
round-robin, and the queue of disputed rejections."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from leadflow.models import Notification, Profile
from leadflow.names import person
from leads import services as marketing
from leads.models import Flag, FlagKind, Stage
from sales import services as sales
from sales.models import Handoff
from tests import factories

from .helpers import messages_of, snapshot, unlabelled_fields

TEAM = reverse("sales:team")
DISPUTES = reverse("sales:disputes")


def row_of(body, user):
    return re.search(rf'<tr id="rep-{user.pk}">.*?</tr>', body, re.S).group(0)


def cells(row):
    found = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in found]


# --- permissions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args",
    [("team", []), ("rep_leads", ["rep"]), ("disputes", []), ("dispute_rule", ["dispute"])],
)
def test_manager_pages_are_for_managers_only(
    client, rep_client, marketer_client, manager_client, rep, make_lead, marketer, name, args
):
    lead = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=lead, by=marketer, comment="Why?")
    url = reverse(f"sales:{name}", args=[{"rep": rep.pk, "dispute": dispute.pk}[a] for a in args])
    assert client.get(url)["Location"].startswith(reverse("login"))
    assert rep_client.get(url).status_code == 403
    assert marketer_client.get(url).status_code == 403
    assert manager_client.get(url).status_code == 200


@pytest.mark.parametrize("client_name", ["rep_client", "marketer_client"])
def test_only_managers_reassign_rule_and_change_availability(
    request, client_name, make_lead, marketer, other_rep
):
    client = request.getfixturevalue(client_name)
    lead = make_lead(Stage.ACCEPTED)
    rejected = make_lead(Stage.REJECTED)
    dispute = marketing.dispute_raise(lead=rejected, by=marketer, comment="Why?")
    before = snapshot(lead), snapshot(rejected)
    posts = [
        (reverse("sales:bulk_reassign"), {"ids": [lead.pk], "to_user": other_rep.pk}),
        (reverse("sales:dispute_rule", args=[dispute.pk]), {"ruling": "upheld"}),
        (reverse("sales:rep_availability", args=[other_rep.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403
    assert (snapshot(lead), snapshot(rejected)) == before
    dispute.refresh_from_db()
    assert dispute.ruled_at is None
    assert not Profile.objects.filter(user=other_rep, is_available=False).exists()


# --- team overview -----------------------------------------------------------------------


def test_team_counts_each_reps_open_leads_and_due_follow_ups(
    manager_client, make_lead, rep, other_rep
):
    with time_machine.travel(timezone.now() - dt.timedelta(hours=30)):
        make_lead(Stage.HANDED_OFF)  # response overdue by now
        late = make_lead(Stage.CONTACTED)
        soon = make_lead(Stage.ACCEPTED)
    make_lead(Stage.HANDED_OFF)
    make_lead(Stage.OPPORTUNITY)  # value 5000
    make_lead(Stage.WON)  # closed: not open
    make_lead(Stage.ACCEPTED, owner=other_rep)
    make_lead(Stage.HANDED_OFF, owner=None)
    now = timezone.now()
    sales.activity_log(
        lead=late,
        by=rep,
        kind="note",
        occurred_at=now - dt.timedelta(hours=29),
        next_follow_up_at=now - dt.timedelta(hours=2),
    )
    tonight = timezone.localtime(now).replace(hour=23, minute=59)
    if tonight > now + dt.timedelta(minutes=1):
        sales.activity_log(lead=soon, by=rep, kind="note", next_follow_up_at=tonight)
    Flag.objects.create(
        lead=late, kind=FlagKind.STALLED, side="sales", responsible=rep, raised_at=now
    )
    response = manager_client.get(TEAM)
    body = response.content.decode()
    due_today = "1" if tonight > now + dt.timedelta(minutes=1) else "0"
    # awaiting (overdue), accepted, contacted, opportunity (value), open, fu overdue, today, flags
    assert cells(row_of(body, rep))[1:] == [
        "2 (1 overdue)",
        "1",
        "1",
        "1 (5,000)",
        "5",
        "1 overdue",
        due_today,
        "1",
    ]
    assert cells(row_of(body, other_rep))[1:] == ["0", "1", "0", "0", "1", "0", "0", "0"]
    totals = response.context["totals"]
    assert (totals["open_total"], totals["queue"], totals["awaiting"]) == (7, 1, 2)
    assert unlabelled_fields(body) == ([], set())


def test_team_lists_a_deactivated_rep_only_while_they_hold_leads(manager_client, make_lead):
    gone = factories.rep(username="gone")
    make_lead(Stage.ACCEPTED, owner=gone)
    retired = factories.rep(username="retired", is_active=False)
    gone.is_active = False
    gone.save()
    body = manager_client.get(TEAM).content.decode()
    assert "deactivated" in row_of(body, gone)
    assert f'id="rep-{retired.pk}"' not in body


@pytest.mark.parametrize("n", [1, 8])
def test_team_query_count_does_not_grow_with_leads_or_reps(
    manager_client, make_lead, django_assert_max_num_queries, n
):
    reps = [factories.rep(username=f"r{n}-{i}") for i in range(n)]
    for rep in reps:
        make_lead(Stage.HANDED_OFF, owner=rep)
        make_lead(Stage.CONTACTED, owner=rep)
        make_lead(Stage.HANDED_OFF, owner=None)
    with django_assert_max_num_queries(9):  # the reps' open flags: one grouped query
        response = manager_client.get(TEAM)
    assert len(response.context["reps"]) == n + 1  # and the rep1 fixture


def test_team_counts_each_reps_open_sales_flags(manager_client, make_lead, rep, other_rep):
    now = timezone.now()
    lead = make_lead(Stage.CONTACTED, owner=rep)
    other = make_lead(Stage.CONTACTED, owner=other_rep)

    def flag(kind, side, responsible, resolved=None, on=lead):
        Flag.objects.create(
            lead=on,
            kind=kind,
            side=side,
            responsible=responsible,
            raised_at=now,
            resolved_at=resolved,
        )

    flag(FlagKind.FOLLOW_UP_OVERDUE, "sales", rep)
    flag(FlagKind.STALLED, "sales", rep)
    flag(FlagKind.UNCONVERTED, "sales", rep, resolved=now)  # resolved: not counted
    flag(FlagKind.MQL_WAITING, "marketing", rep)  # marketing's side: not counted
    flag(FlagKind.STALLED, "sales", other_rep, on=other)
    body = manager_client.get(TEAM).content.decode()
    assert cells(row_of(body, rep))[-1] == "2"
    assert cells(row_of(body, other_rep))[-1] == "1"


# --- availability ------------------------------------------------------------------------


def test_manager_marks_a_rep_unavailable_and_available_again(manager_client, other_rep):
    url = reverse("sales:rep_availability", args=[other_rep.pk])
    response = manager_client.post(url, {"next": TEAM}, follow=True)
    assert f"{person(other_rep)} is unavailable: round-robin skips them." in messages_of(response)
    assert Profile.objects.get(user=other_rep).is_available is False
    assert "unavailable" in row_of(response.content.decode(), other_rep)
    manager_client.post(url, {"available": "on"})
    assert Profile.objects.get(user=other_rep).is_available is True


def test_unavailable_rep_is_skipped_by_round_robin(manager_client, rep, other_rep, make_lead):
    manager_client.post(reverse("sales:rep_availability", args=[rep.pk]))
    lead = make_lead(Stage.MQL)
    handoff = marketing.lead_hand_off(lead=lead, by=make_lead.marketer, round_robin=True)
    assert handoff.to_user == other_rep


def test_availability_of_a_non_rep_is_a_404(manager_client, marketer):
    url = reverse("sales:rep_availability", args=[marketer.pk])
    assert manager_client.post(url).status_code == 404


# --- reassignment ------------------------------------------------------------------------


def test_manager_reassigns_one_lead_with_a_handoff_and_a_notification(
    manager_client, make_lead, rep, other_rep, manager
):
    lead = make_lead(Stage.CONTACTED)
    response = manager_client.post(
        reverse("sales:reassign", args=[lead.pk]),
        {"to_user": other_rep.pk, "note": "Rep1 on leave"},
        follow=True,
    )
    assert f"Reassigned {lead} to {other_rep.get_full_name()}." in messages_of(response)
    lead.refresh_from_db()
    assert (lead.owner, lead.stage) == (other_rep, Stage.CONTACTED)
    handoff = Handoff.objects.filter(lead=lead).last()
    assert (handoff.kind, handoff.from_user, handoff.to_user, handoff.note) == (
        "reassign",
        manager,
        other_rep,
        "Rep1 on leave",
    )
    assert Notification.objects.filter(user=other_rep, kind="reassigned", lead=lead).exists()


def test_reassigning_to_the_current_owner_or_a_non_rep_is_a_form_error(
    manager_client, make_lead, rep, marketer
):
    lead = make_lead(Stage.ACCEPTED)
    before = snapshot(lead)
    url = reverse("sales:reassign", args=[lead.pk])
    response = manager_client.post(url, {"to_user": rep.pk})
    assert response.context["form"].errors["to_user"] == [
        "This lead is already assigned to that rep."
    ]
    response = manager_client.post(url, {"to_user": marketer.pk})
    assert "to_user" in response.context["form"].errors
    assert snapshot(lead) == before


def test_manager_reassigns_many_leads_and_hears_which_were_refused(
    manager_client, make_lead, rep, other_rep
):
    open_leads = [make_lead(Stage.ACCEPTED), make_lead(Stage.HANDED_OFF)]
    won = make_lead(Stage.WON)
    page = reverse("sales:rep_leads", args=[rep.pk])
    response = manager_client.post(
        reverse("sales:bulk_reassign"),
        {
            "ids": [lead.pk for lead in open_leads] + [won.pk, 999999],
            "to_user": other_rep.pk,
            "next": page,
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == page
    shown = messages_of(response)
    assert f"2 leads reassigned to {person(other_rep)}." in shown
    assert f"Lead #{won.pk}: Cannot reassign this lead: it is at the “Won” stage." in shown
    assert "1 selected lead was not found." in shown
    for lead in open_leads:
        lead.refresh_from_db()
        assert lead.owner == other_rep
    assert Notification.objects.filter(user=other_rep, kind="reassigned").count() == 2
    won.refresh_from_db()
    assert won.owner == rep


@pytest.mark.parametrize(
    "data, error",
    [
        ({"ids": []}, "Select at least one lead."),
        ({"ids": ["x"]}, "The selection is not valid."),
        ({"ids": ["1"], "to_user": ""}, "This field is required."),
    ],
)
def test_bulk_reassign_bad_input_is_a_message(manager_client, other_rep, db, data, error):
    data = {"to_user": other_rep.pk, **data}
    response = manager_client.post(reverse("sales:bulk_reassign"), data, follow=True)
    assert error in messages_of(response)


@pytest.mark.parametrize("n", [2, 12])
def test_rep_leads_page_query_count_does_not_grow(
    manager_client, make_lead, rep, django_assert_max_num_queries, n
):
    for _ in range(n):
        make_lead(Stage.CONTACTED)
        make_lead(Stage.HANDED_OFF)
    with django_assert_max_num_queries(10):
        response = manager_client.get(reverse("sales:rep_leads", args=[rep.pk]))
    assert len(response.context["leads"]) == 2 * n
    assert unlabelled_fields(response.content.decode()) == ([], set())


# --- disputes ----------------------------------------------------------------------------


@pytest.fixture
def dispute(make_lead, marketer):
    lead = make_lead(Stage.REJECTED)
    return marketing.dispute_raise(lead=lead, by=marketer, comment="They asked for pricing.")


def test_dispute_queue_shows_both_sides_of_the_argument(manager_client, dispute):
    body = manager_client.get(DISPUTES).content.decode()
    assert "They asked for pricing." in body
    assert "Not a fit" in body  # the rep's rejection reason
    assert f'action="/sales/disputes/{dispute.pk}/rule/"' in body
    assert unlabelled_fields(body) == ([], set())


def test_manager_upholds_a_rejection(manager_client, dispute, marketer, rep):
    response = manager_client.post(
        reverse("sales:dispute_rule", args=[dispute.pk]),
        {"ruling": "upheld", "next": DISPUTES},
        follow=True,
    )
    assert any(m.startswith("Rejection upheld") for m in messages_of(response))
    dispute.refresh_from_db()
    dispute.lead.refresh_from_db()
    assert (dispute.ruling, dispute.lead.stage) == ("upheld", Stage.REJECTED)
    body = response.content.decode()
    assert "No disputes await a ruling." in body and "Recent rulings" in body
    for user in (marketer, rep):
        assert Notification.objects.filter(user=user, kind="dispute_ruled").exists()


def test_overturning_needs_a_rep_and_changes_nothing_without_one(manager_client, dispute):
    before = snapshot(dispute.lead)
    response = manager_client.post(
        reverse("sales:dispute_rule", args=[dispute.pk]), {"ruling": "overturned"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["to_user"] == ["Choose an active salesperson."]
    dispute.refresh_from_db()
    assert dispute.ruled_at is None and snapshot(dispute.lead) == before


def test_overturned_lead_goes_to_the_chosen_rep(manager_client, dispute, other_rep):
    manager_client.post(
        reverse("sales:dispute_rule", args=[dispute.pk]),
        {"ruling": "overturned", "to_user": other_rep.pk},
    )
    dispute.lead.refresh_from_db()
    assert (dispute.lead.stage, dispute.lead.owner) == (Stage.HANDED_OFF, other_rep)
    assert Notification.objects.filter(user=other_rep, kind="handed_to_you").exists()


def test_ruling_twice_is_a_message(manager_client, dispute, manager):
    sales.dispute_rule(dispute=dispute, by=manager, ruling="upheld")
    response = manager_client.post(
        reverse("sales:dispute_rule", args=[dispute.pk]), {"ruling": "upheld"}, follow=True
    )
    assert "This dispute has already been ruled on." in messages_of(response)


def test_a_ruling_without_a_choice_is_a_form_error(manager_client, dispute):
    response = manager_client.post(reverse("sales:dispute_rule", args=[dispute.pk]), {})
    assert "ruling" in response.context["form"].errors


@pytest.mark.parametrize("n", [1, 6])
def test_dispute_queue_query_count_does_not_grow(
    manager_client, make_lead, marketer, django_assert_max_num_queries, n
):
    for _ in range(n):
        lead = make_lead(Stage.REJECTED)
        marketing.dispute_raise(lead=lead, by=marketer, comment="Again")
    with django_assert_max_num_queries(8):
        assert manager_client.get(DISPUTES).status_code == 200
