"""The rep's Today (/sales/): missed today first, then due today, awaiting response, the
backlog and new in the queue; each its first 25, a count and a "show all" link; a fixed
number of queries however long the backlog. Snooze, tasks and the calendar feed."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from leadflow.errors import ActionForbidden, InvalidInput, TransitionNotAllowed
from leadflow.models import Profile
from leads.models import Flag, FlagKind, Lead, Side, Stage
from leads.timeline import build_timeline
from sales import services
from sales.forms import SnoozeForm
from sales.models import Snooze, Task
from tests import factories

INBOX = reverse("sales:inbox")
TZ = ZoneInfo(settings.TIME_ZONE)


@pytest.fixture
def morning():
    """Tuesday 1 December 2026, 11:00 in the site's time zone."""
    moment = dt.datetime(2026, 12, 1, 11, 0, tzinfo=TZ)
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller


def _at(hour, minute=0, days=0):
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=TZ) + dt.timedelta(days=days)


def _snooze_until(choice):
    """The moment the snooze form's quick ``choice`` puts a follow-up off to."""
    form = SnoozeForm(data={"snooze": choice, "reason": "x"})
    assert form.is_valid(), form.errors
    return form.cleaned_data["until"]


def _lead(owner, stage=Stage.CONTACTED, **fields):
    return factories.LeadFactory(stage=stage, owner=owner, **fields)


@pytest.fixture
def busy_rep(rep, other_rep, morning):
    """Hundreds of ancient overdue follow-ups, two missed this morning, two due later
    today, a task of each kind of moment, a flag raised last night, new and old queue."""
    backlog = [
        _lead(rep, last_name=f"Ancient{i}", next_follow_up_at=_at(9, days=-330 + i))
        for i in range(300)
    ]
    missed_early = _lead(rep, last_name="EarlyMiss", next_follow_up_at=_at(5, 40))
    missed = _lead(rep, last_name="MorningMiss", next_follow_up_at=_at(9, 31))
    due = [
        _lead(rep, last_name="Afternoon", next_follow_up_at=_at(14)),
        _lead(rep, stage=Stage.OPPORTUNITY, last_name="Evening", next_follow_up_at=_at(18)),
    ]
    flagged = _lead(rep, stage=Stage.ACCEPTED, last_name="Flagged")
    flag = Flag.objects.create(
        lead=flagged,
        kind=FlagKind.FOLLOW_UP_OVERDUE,
        side=Side.SALES,
        responsible=rep,
        raised_at=_at(20, days=-1),
    )
    Flag.objects.create(  # raised two days ago: not "since yesterday"
        lead=_lead(rep, stage=Stage.ACCEPTED, last_name="OldFlag"),
        kind=FlagKind.FOLLOW_UP_OVERDUE,
        side=Side.SALES,
        responsible=rep,
        raised_at=_at(20, days=-3),
    )
    task_lead = _lead(rep, stage=Stage.ACCEPTED, last_name="Tasked")
    tasks = {
        "missed": Task.objects.create(
            lead=task_lead, user=rep, kind="call_back", title="Ring back", due_at=_at(8)
        ),
        "due": Task.objects.create(
            lead=task_lead, user=rep, kind="send_quote", title="Quote", due_at=_at(16)
        ),
        "backlog": Task.objects.create(
            lead=task_lead, user=rep, kind="other", title="Old chore", due_at=_at(9, days=-5)
        ),
    }
    Task.objects.create(
        lead=task_lead, user=rep, kind="other", title="Done", due_at=_at(10), completed_at=_at(10)
    )
    awaiting = _lead(rep, stage=Stage.HANDED_OFF, last_name="Awaiting", response_due_at=_at(13))
    new_queue = _lead(None, stage=Stage.HANDED_OFF, last_name="NewQ", last_handed_off_at=_at(8))
    _lead(None, stage=Stage.HANDED_OFF, last_name="OldQ", last_handed_off_at=_at(8, days=-4))
    # Not this rep's: another rep's missed follow-up.
    _lead(other_rep, last_name="Theirs", next_follow_up_at=_at(10))
    return {
        "backlog": backlog,
        "missed": missed,
        "missed_early": missed_early,
        "due": due,
        "flag": flag,
        "tasks": tasks,
        "awaiting": awaiting,
        "new_queue": new_queue,
    }


def _keys(items):
    return [(item.kind, item.obj.pk if item.obj is not None else item.lead.pk) for item in items]


def test_this_mornings_missed_follow_up_comes_first_even_with_hundreds_overdue(
    rep_client, busy_rep, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = rep_client.get(INBOX)
    context = response.context
    missed = context["missed"]
    # Latest first: 09:31, the 08:00 task, 05:40, then last night's flag.
    assert _keys(missed) == [
        ("follow_up", busy_rep["missed"].pk),
        ("task", busy_rep["tasks"]["missed"].pk),
        ("follow_up", busy_rep["missed_early"].pk),
        ("flag", busy_rep["flag"].pk),
    ]
    assert _keys(context["due"]) == [
        ("follow_up", busy_rep["due"][0].pk),
        ("task", busy_rep["tasks"]["due"].pk),
        ("follow_up", busy_rep["due"][1].pk),
    ]
    assert [lead.pk for lead in context["awaiting"]] == [busy_rep["awaiting"].pk]
    # The backlog: most overdue first, 25 of 301 shown.
    backlog = context["backlog"]
    assert len(backlog) == 25
    assert _keys(backlog)[:2] == [("follow_up", busy_rep["backlog"][0].pk)] + [
        ("follow_up", busy_rep["backlog"][1].pk)
    ]
    assert ("task", busy_rep["tasks"]["backlog"].pk) not in _keys(backlog)  # 5 days: not top 25
    assert [lead.pk for lead in context["queue"]] == [busy_rep["new_queue"].pk]
    # In progress: the flagged lead, with no follow-up scheduled.
    assert busy_rep["flag"].lead in context["in_progress"]
    counts = context["counts"]
    assert (counts["missed"], counts["due"], counts["awaiting"]) == (4, 3, 1)
    assert (counts["backlog"], counts["queue"]) == (301, 1)
    body = response.content.decode()
    # The sections in their order, the missed one the page's first row.
    order = [body.index(f'id="{name}"') for name in ("missed", "due", "awaiting", "backlog")]
    assert order == sorted(order) and body.index('id="queue"') > order[-1]
    first_row = re.search(r'<tr id="([^"]+)"', body).group(1)
    assert first_row == f"missed-follow_up-{busy_rep['missed'].pk}"
    assert "Theirs" not in body
    assert "The 25 most urgent of 301 are shown." in body


def _listed(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert not response.context["form"].errors, response.context["form"].errors
    return {lead.pk for lead in response.context["leads"]}


def test_each_sections_show_all_link_lists_its_leads(rep_client, busy_rep):
    show_all = rep_client.get(INBOX).context["show_all"]
    assert _listed(rep_client, show_all["missed"]) == {
        busy_rep["missed"].pk,
        busy_rep["missed_early"].pk,
    }
    assert _listed(rep_client, show_all["missed_flags"]) == {busy_rep["flag"].lead_id}
    assert _listed(rep_client, show_all["due"]) == {lead.pk for lead in busy_rep["due"]}
    assert _listed(rep_client, show_all["awaiting"]) == {busy_rep["awaiting"].pk}
    assert _listed(rep_client, show_all["queue"]) == {busy_rep["new_queue"].pk}
    backlog = rep_client.get(show_all["backlog"])
    assert backlog.context["page"].total == 300
    assert {lead.pk for lead in backlog.context["leads"]} <= {
        lead.pk for lead in busy_rep["backlog"]
    }


def test_the_missed_sections_link_counts_the_follow_ups_it_lists(rep_client, busy_rep):
    body = rep_client.get(INBOX).content.decode()
    missed = body[body.index('id="missed"') : body.index('id="due"')]
    # Four missed items (two follow-ups, a task, a flag); the lead list shows the two.
    assert "Show all 2 follow-ups in the lead list" in missed
    assert "Leads with a flag raised since yesterday" in missed
    # A flag's moment is when it was raised, not a deadline it missed.
    flag_row = missed[missed.index(f'id="missed-flag-{busy_rep["flag"].pk}"') :]
    assert "raised " in flag_row[: flag_row.index("</tr>")]
    assert "overdue by" not in flag_row[: flag_row.index("</tr>")]


def test_todays_rows_carry_no_copy_of_the_log_snooze_or_reject_forms(rep_client, busy_rep):
    body = rep_client.get(INBOX).content.decode()
    # Each kind of form is in the page once, in a <template> for a stand-in lead; rows
    # hold a link to the form's own page (what a browser without JavaScript follows).
    for kind in ("log", "snooze", "reject"):
        assert body.count(f'<template data-row-form="{kind}"') == 1
    templates = re.findall(r"<template.*?</template>", body, re.S)
    rows = body
    for template in templates:
        rows = rows.replace(template, "")
    assert 'name="notes"' not in rows and 'name="until"' not in rows
    lead = busy_rep["missed"]
    assert f'href="/sales/leads/{lead.pk}/log/?next=%2Fsales%2F"' in rows
    assert f'href="/sales/leads/{lead.pk}/snooze/?next=%2Fsales%2F"' in rows
    # The log form copied into a row offers the quick dates and posts for that row's lead.
    log = next(t for t in templates if 'data-row-form="log"' in t)
    pk, prefix = re.search(r'data-stand-in-pk="(\d+)" data-stand-in-prefix="(\w+)"', log).groups()
    row_form = log.replace(pk, str(lead.pk)).replace(prefix, f"missed-follow_up-{lead.pk}")
    assert f'action="/sales/leads/{lead.pk}/log/"' in row_form
    assert 'name="follow_up_quick" value="tomorrow_9"' in row_form
    assert f'id="missed-follow_up-{lead.pk}-{lead.pk}-notes"' in row_form
    # The page is a fraction of what 125 rows of forms made (550 KB).
    assert len(body) < 200_000


def test_a_closed_leads_log_form_asks_for_no_next_follow_up(rep_client, rep, morning):
    won = _lead(rep, stage=Stage.WON, deal_value=100)
    page = rep_client.get(reverse("sales:log", args=[won.pk]))
    assert page.status_code == 200
    assert "next_follow_up_at" not in page.context["form"].fields
    lead_page = rep_client.get(won.get_absolute_url()).content.decode()
    assert 'name="next_follow_up_at"' not in lead_page
    rep_client.post(reverse("sales:log", args=[won.pk]), {"kind": "call", "notes": "Thanks"})
    won.refresh_from_db()
    assert (won.stage, won.next_follow_up_at) == (Stage.WON, None)
    assert won.activities.get().notes == "Thanks"


def test_logging_contact_on_an_awaiting_lead_says_it_accepted_the_lead(rep_client, rep, morning):
    lead = _lead(rep, stage=Stage.HANDED_OFF, last_handed_off_at=_at(10))
    response = rep_client.post(
        reverse("sales:log", args=[lead.pk]),
        {"kind": "call", "next": INBOX},
        headers={"accept": "application/json"},
    )
    assert response.json()["detail"] == f"Contact logged on {lead}: logging it accepted the lead."
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


@pytest.mark.parametrize("name", ["follow_up_after", "flag_since", "queue_since"])
def test_bad_today_filters_are_form_errors(marketer_client, name, db):
    response = marketer_client.get(f"{reverse('leads:list')}?{name}=0001-01-01")
    assert response.status_code == 200 and response.context["form"].errors


# --- snooze ------------------------------------------------------------------------


def test_snooze_moves_the_follow_up_and_is_on_the_timeline(rep, morning):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    choices = {value: _snooze_until(value) for value in SnoozeForm.QUICK_SNOOZES}
    assert choices["1h"] == _at(12)
    assert choices["tomorrow"] == _at(9, days=1)
    assert choices["monday"] == _at(9, days=6)  # Tuesday 1 Dec -> Monday 7 Dec
    services.follow_up_snooze(lead=lead, by=rep, until=choices["tomorrow"], reason="On leave")
    lead.refresh_from_db()
    assert lead.next_follow_up_at == _at(9, days=1)
    snooze = Snooze.objects.get(lead=lead)
    assert snooze.was_due_at == _at(9, 31) and snooze.reason == "On leave"
    entry = [e for e in build_timeline(lead) if e.kind == "snooze"]
    assert len(entry) == 1 and entry[0].detail == "On leave" and entry[0].who == rep


def test_snooze_refuses_another_reps_lead_the_past_and_no_reason(rep, other_rep, morning):
    lead = _lead(other_rep, next_follow_up_at=_at(9))
    with pytest.raises(ActionForbidden):
        services.follow_up_snooze(lead=lead, by=rep, until=_at(15), reason="x")
    mine = _lead(rep, next_follow_up_at=_at(9))
    with pytest.raises(InvalidInput):
        services.follow_up_snooze(lead=mine, by=rep, until=_at(10), reason="x")
    with pytest.raises(InvalidInput):
        services.follow_up_snooze(lead=mine, by=rep, until=_at(15), reason="  ")
    none = _lead(rep, next_follow_up_at=None)
    with pytest.raises(TransitionNotAllowed):
        services.follow_up_snooze(lead=none, by=rep, until=_at(15), reason="x")
    assert not Snooze.objects.exists()
    mine.refresh_from_db()
    assert mine.next_follow_up_at == _at(9)


def test_snooze_through_the_page_answers_json_when_asked(rep_client, rep, morning):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    url = reverse("sales:snooze", args=[lead.pk])
    response = rep_client.post(
        url, {"snooze": "1h", "reason": "Busy"}, headers={"accept": "application/json"}
    )
    assert response.status_code == 200 and response.json()["ok"]
    lead.refresh_from_db()
    assert lead.next_follow_up_at == _at(12)
    refused = rep_client.post(
        url, {"snooze": "at", "reason": "Busy"}, HTTP_ACCEPT="application/json"
    )
    assert refused.status_code == 400 and "Chosen time" in refused.json()["detail"]


# --- tasks -------------------------------------------------------------------------


def test_a_rep_adds_a_task_on_their_lead_and_completes_it(rep_client, rep, morning):
    lead = _lead(rep, stage=Stage.ACCEPTED)
    response = rep_client.post(
        reverse("sales:task", args=[lead.pk]),
        {"kind": "send_quote", "title": "", "due_at": "2026-12-01T15:00", "next": INBOX},
    )
    assert response.status_code == 302
    task = Task.objects.get(lead=lead)
    assert (task.user, task.title, task.due_at) == (rep, "Send a quote", _at(15))
    due = rep_client.get(INBOX).context["due"]
    assert ("task", task.pk) in _keys(due)
    rep_client.post(reverse("sales:task_complete", args=[task.pk]))
    task.refresh_from_db()
    assert task.completed_at is not None
    assert ("task", task.pk) not in _keys(rep_client.get(INBOX).context["due"])
    with pytest.raises(TransitionNotAllowed):
        services.task_complete(task=task, by=rep)


def test_a_rep_cannot_add_or_complete_tasks_outside_their_scope(
    rep, other_rep, other_rep_client, marketer, morning
):
    lead = _lead(rep, stage=Stage.ACCEPTED)
    with pytest.raises(ActionForbidden):
        services.task_add(lead=lead, by=other_rep, kind="call_back", title="", due_at=_at(15))
    with pytest.raises(ActionForbidden):
        services.task_add(lead=lead, by=marketer, kind="call_back", title="", due_at=_at(15))
    closed = _lead(rep, stage=Stage.WON)
    with pytest.raises(TransitionNotAllowed):
        services.task_add(lead=closed, by=rep, kind="call_back", title="", due_at=_at(15))
    task = services.task_add(lead=lead, by=rep, kind="call_back", title="", due_at=_at(15))
    # Another rep's lead and task are a 404 to the page, and nothing changes.
    assert other_rep_client.post(reverse("sales:task", args=[lead.pk])).status_code == 404
    assert other_rep_client.post(reverse("sales:task_complete", args=[task.pk])).status_code == 404
    task.refresh_from_db()
    assert task.completed_at is None and Task.objects.count() == 1


# --- the calendar feed ---------------------------------------------------------------


def _feed_url(client):
    response = client.post(reverse("sales:calendar_settings"), {"action": "renew"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    return response.context["feed_url"]


def test_the_calendar_feed_serves_follow_ups_and_tasks_as_icalendar(
    rep_client, client, rep, morning
):
    lead = _lead(rep, first_name="Fleur", last_name="Smit", next_follow_up_at=_at(14))
    task = Task.objects.create(lead=lead, user=rep, kind="call_back", title="Ring", due_at=_at(16))
    _lead(rep, stage=Stage.WON, next_follow_up_at=_at(15))  # closed: not in the feed
    url = _feed_url(rep_client)
    response = client.get(url)  # no login: the token is the credential
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"follow-up-{lead.pk}@leadflow", f"task-{task.pk}@leadflow"}
    event = events[f"follow-up-{lead.pk}@leadflow"]
    assert event.decoded("DTSTART") == _at(14)
    assert event.decoded("DTSTART").utcoffset() == dt.timedelta(0)
    assert "Fleur Smit" in str(event["SUMMARY"])
    assert str(event["URL"]).endswith(lead.get_absolute_url())
    assert "DTSTAMP" in event
    # Stable UIDs: the same event again on the next read.
    again = icalendar.Calendar.from_ical(client.get(url).content)
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(events)


def test_the_calendar_feed_is_written_in_its_owners_language_not_the_calendar_apps(
    rep_client, client, rep, morning
):
    lead = _lead(rep, first_name="Fleur", last_name="Smit", next_follow_up_at=_at(14))
    task = Task.objects.create(lead=lead, user=rep, kind="call_back", title="", due_at=_at(16))
    url = _feed_url(rep_client)
    Profile.objects.update_or_create(user=rep, defaults={"language": "nl"})
    # Google Calendar fetching it in English: the rep chose Dutch.
    response = client.get(url, headers={"accept-language": "en"})
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "LeadFlow-opvolgingen"
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert str(events[f"follow-up-{lead.pk}@leadflow"]["SUMMARY"]) == "Opvolgen: Fleur Smit"
    assert str(events[f"task-{task.pk}@leadflow"]["DESCRIPTION"]) == "Terugbellen"
    # Someone who never chose gets the site's default (English), whatever the app asks.
    Profile.objects.filter(user=rep).delete()
    calendar = icalendar.Calendar.from_ical(
        client.get(url, headers={"accept-language": "nl"}).content
    )
    event = next(e for e in calendar.walk("VEVENT") if str(e["UID"]).startswith("follow-up"))
    assert str(event["SUMMARY"]) == "Follow up: Fleur Smit"


def test_a_revoked_or_renewed_calendar_address_is_a_404(rep_client, client, rep, morning):
    first = _feed_url(rep_client)
    second = _feed_url(rep_client)
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    rep_client.post(reverse("sales:calendar_settings"), {"action": "revoke"})
    assert client.get(second).status_code == 404
    assert client.get(reverse("sales:calendar_feed", args=["nonsense"])).status_code == 404


def test_the_calendar_page_is_for_sales(marketer_client, db):
    response = marketer_client.post(reverse("sales:calendar_settings"), {"action": "renew"})
    assert response.status_code == 403


# --- a stale page keeps what was typed ---------------------------------------------------


def test_a_refused_log_on_a_stale_page_re_renders_the_typed_notes(rep_client, rep, morning):
    lead = _lead(rep, stage=Stage.ACCEPTED)
    # Meanwhile a manager returned it to the queue: the rep's page is stale.
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.HANDED_OFF, owner=None)
    response = rep_client.post(
        reverse("sales:log", args=[lead.pk]),
        {"kind": "call", "notes": "Spoke to Fleur about the quote", "next": INBOX},
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert "Spoke to Fleur about the quote" in body
    assert "Claim this lead from the queue first." in body
    as_json = rep_client.post(
        reverse("sales:log", args=[lead.pk]),
        {"kind": "call", "notes": "x"},
        headers={"accept": "application/json"},
    )
    assert as_json.status_code == 409 and as_json.json()["detail"]


def test_a_log_on_a_lead_reassigned_meanwhile_gives_the_typed_notes_back_and_nothing_else(
    rep_client, rep, other_rep, morning
):
    lead = _lead(rep, stage=Stage.ACCEPTED, last_name="Secretname")
    Lead.objects.filter(pk=lead.pk).update(owner=other_rep)
    url = reverse("sales:log", args=[lead.pk])
    response = rep_client.post(url, {"kind": "call", "notes": "Call notes to keep"})
    assert response.status_code == 404
    body = response.content.decode()
    assert "Call notes to keep" in body and "no longer yours" in body
    assert "Secretname" not in body
    # Nothing typed: the plain 404; asked for JSON: the reason as JSON.
    assert rep_client.post(url, {"kind": "call"}).status_code == 404
    as_json = rep_client.post(url, {"kind": "call"}, headers={"accept": "application/json"})
    assert as_json.status_code == 404 and "no longer yours" in as_json.json()["detail"]
    assert not lead.activities.exists()
