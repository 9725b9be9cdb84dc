"""Quick logging (issue 21 item 4): quick dates, contact vs note, logging on closed leads,
the one-step win, closed leads without follow-ups, the prefilled win value."""

import datetime as dt
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from leadflow.dates import quick_moments
from leadflow.errors import InvalidInput
from leads.models import Stage, StageChange
from sales import services
from sales.forms import ActivityForm
from sales.models import Activity

AMS = ZoneInfo("Europe/Amsterdam")
# A Wednesday, 15:20 in Amsterdam.
WEDNESDAY = dt.datetime(2026, 3, 4, 14, 20, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("tomorrow_9", dt.datetime(2026, 3, 5, 9, 0, tzinfo=AMS)),
        ("in_2_days", dt.datetime(2026, 3, 6, 15, 20, tzinfo=AMS)),
        ("next_monday_9", dt.datetime(2026, 3, 9, 9, 0, tzinfo=AMS)),
    ],
)
def test_quick_dates_are_read_on_the_site_calendar(choice, expected):
    assert quick_moments(WEDNESDAY)[choice] == expected


def test_next_monday_on_a_monday_is_the_week_after():
    monday = dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC)
    assert quick_moments(monday)["next_monday_9"] == dt.datetime(2026, 3, 16, 9, tzinfo=AMS)


def test_a_posted_quick_date_schedules_the_next_follow_up(make_lead, rep, rep_client):
    with time_machine.travel(WEDNESDAY, tick=False):
        lead = make_lead(Stage.ACCEPTED)
        response = rep_client.post(
            reverse("sales:log", args=[lead.pk]), {"kind": "call", "follow_up_quick": "tomorrow_9"}
        )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.next_follow_up_at == dt.datetime(2026, 3, 5, 9, 0, tzinfo=AMS)
    assert lead.stage == Stage.CONTACTED


def test_log_contact_offers_call_email_and_meeting_only(make_lead, rep, rep_client):
    lead = make_lead(Stage.ACCEPTED)
    assert [v for v, _l in ActivityForm().fields["kind"].choices] == ["call", "email", "meeting"]
    page = rep_client.get(lead.get_absolute_url()).content.decode()
    log_form = page.split('class="mt-2 log-contact"')[1].split("</form>")[0]
    assert 'value="note"' not in log_form
    assert 'value="call"' in log_form
    # The note form is separate and says a note is not contact.
    assert reverse("sales:note", args=[lead.pk]) in page
    assert "A note is not contact" in page


def test_the_log_form_refuses_a_note_posted_as_contact(make_lead, rep, rep_client):
    lead = make_lead(Stage.ACCEPTED)
    response = rep_client.post(reverse("sales:log", args=[lead.pk]), {"kind": "note"})
    assert response.status_code == 200  # the form again, with its error
    assert not Activity.objects.filter(lead=lead).exists()


def test_a_note_has_its_own_success_message_and_moves_no_stage(make_lead, rep, rep_client):
    lead = make_lead(Stage.ACCEPTED)
    response = rep_client.post(
        reverse("sales:note", args=[lead.pk]), {"notes": "Prefers mornings"}, follow=True
    )
    text = response.content.decode()
    assert "a note is not contact" in text
    assert "Contact logged" not in text
    lead.refresh_from_db()
    assert lead.stage == Stage.ACCEPTED
    assert Activity.objects.get(lead=lead).kind == "note"


@pytest.mark.parametrize("closed", [Stage.WON, Stage.LOST])
@pytest.mark.parametrize("kind", ["call", "note"])
def test_logging_after_a_win_or_loss_changes_no_stage(make_lead, rep, closed, kind):
    lead = make_lead(closed)
    changes = StageChange.objects.filter(lead=lead).count()
    later = timezone.now() + dt.timedelta(days=3)
    services.activity_log(lead=lead, by=rep, kind=kind, notes="Thanks", next_follow_up_at=later)
    lead.refresh_from_db()
    assert lead.stage == closed
    assert StageChange.objects.filter(lead=lead).count() == changes
    assert Activity.objects.filter(lead=lead, kind=kind, notes="Thanks").exists()
    assert lead.next_follow_up_at is None  # a closed lead keeps no follow-up


def test_the_lead_page_offers_logging_on_a_won_lead(make_lead, rep, rep_client):
    lead = make_lead(Stage.WON)
    page = rep_client.get(lead.get_absolute_url()).content.decode()
    assert reverse("sales:log", args=[lead.pk]) in page
    assert reverse("sales:note", args=[lead.pk]) in page


def test_winning_from_contacted_records_opportunity_and_win_in_one_step(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    services.lead_win(lead=lead, by=rep, value="1200")
    lead.refresh_from_db()
    assert lead.stage == Stage.WON
    assert lead.deal_value == Decimal("1200.00")
    assert lead.opportunity_at == lead.closed_at
    last_two = list(
        StageChange.objects.filter(lead=lead)
        .order_by("-at", "-id")[:2]
        .values_list("from_stage", "to_stage")
    )
    assert last_two == [("opportunity", "won"), ("contacted", "opportunity")]


def test_a_failed_one_step_win_leaves_neither_stage_change(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    before = StageChange.objects.filter(lead=lead).count()
    with (
        mock.patch("sales.services.events.emit", side_effect=RuntimeError("webhook down")),
        pytest.raises(RuntimeError),
    ):
        services.lead_win(lead=lead, by=rep, value="1200")
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED
    assert lead.opportunity_at is None
    assert StageChange.objects.filter(lead=lead).count() == before


@pytest.mark.parametrize("close", ["win", "lose"])
def test_won_and_lost_leads_clear_their_next_follow_up(make_lead, rep, rep_client, close):
    lead = make_lead(Stage.OPPORTUNITY)
    services.activity_log(
        lead=lead, by=rep, kind="call", next_follow_up_at=timezone.now() + dt.timedelta(days=2)
    )
    lead.refresh_from_db()
    assert lead.next_follow_up_at is not None
    if close == "win":
        services.lead_win(lead=lead, by=rep, value="10")
    else:
        services.lead_lose(lead=lead, by=rep, reason="price")
    lead.refresh_from_db()
    assert lead.next_follow_up_at is None
    assert lead.follow_up_due_at is None
    page = rep_client.get(lead.get_absolute_url()).content.decode()
    # Neither the lead's facts nor its actions show one (the timeline keeps its history).
    assert "Next follow-up</dt>" not in page
    assert "Next follow-up:" not in page.split('id="sales-actions"')[1].split("</section>")[0]


def test_the_full_page_win_form_is_prefilled_with_the_opportunity_value(
    make_lead, rep, rep_client
):
    lead = make_lead(Stage.OPPORTUNITY)  # value 5000
    page = rep_client.get(reverse("sales:win", args=[lead.pk])).content.decode()
    assert 'value="5000.00"' in page


def test_a_win_needs_a_value_even_in_one_step(make_lead, rep):
    lead = make_lead(Stage.CONTACTED)
    with pytest.raises(InvalidInput):
        services.lead_win(lead=lead, by=rep, value="0")
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def test_a_bad_quick_date_is_refused_under_a_label_that_reads_as_a_field_name(
    make_lead, rep, rep_client
):
    lead = make_lead(Stage.ACCEPTED)
    url = reverse("sales:log", args=[lead.pk])
    answer = rep_client.post(
        url, {"kind": "call", "follow_up_quick": "someday"}, headers={"accept": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("Quick follow-up date: Select a valid choice.")
    # The full-page form labels the select with it, below the next follow-up.
    page = rep_client.get(url).content.decode()
    label = page.split('for="id_follow_up_quick"')[1].split("</label>")[0]
    assert label.split(">")[1].strip() == "Quick follow-up date"
    assert page.index("Next follow-up") < page.index("Quick follow-up date")
    assert "or quickly" not in page
    assert not lead.activities.exists()
