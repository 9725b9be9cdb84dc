"""The rep's day in the JSON API: snoozing a lead's follow-up (/api/v1/leads/{id}/snooze/)
and tasks (/api/v1/tasks/). Both call the pages' services, so the same scope (404), role
(403), stage (409) and input (400) rules hold, and a refusal changes nothing."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from leadflow.errors import InvalidInput
from leads.models import Lead, Stage
from sales import services
from sales.forms import SnoozeForm
from sales.models import Snooze, Task
from tests import factories

from .conftest import UNAUTHENTICATED

TZ = ZoneInfo(settings.TIME_ZONE)
TASKS = "/api/v1/tasks/"


@pytest.fixture
def morning():
    """Tuesday 1 December 2026, 11:00 in the site's time zone."""
    with time_machine.travel(dt.datetime(2026, 12, 1, 11, 0, tzinfo=TZ), tick=False):
        yield


def _at(hour, minute=0, days=0):
    return dt.datetime(2026, 12, 1, hour, minute, tzinfo=TZ) + dt.timedelta(days=days)


def _lead(owner, stage=Stage.CONTACTED, **fields):
    return factories.LeadFactory(stage=stage, owner=owner, **fields)


def _task(lead, by, due, title=""):
    return services.task_add(lead=lead, by=by, kind="call_back", title=title, due_at=due)


def _snooze(client, lead, body):
    return client.post(f"/api/v1/leads/{lead.pk}/snooze/", body, format="json")


# --- snooze ------------------------------------------------------------------------


def test_snooze_by_preset_moves_the_follow_up_and_answers_with_the_lead(client_as, rep, morning):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    response = _snooze(client_as("rep"), lead, {"preset": "tomorrow", "reason": "On leave"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == lead.pk
    assert dt.datetime.fromisoformat(body["next_follow_up_at"]) == _at(9, days=1)
    lead.refresh_from_db()
    assert lead.next_follow_up_at == _at(9, days=1)
    snooze = Snooze.objects.get(lead=lead)
    assert (snooze.was_due_at, snooze.reason, snooze.user) == (_at(9, 31), "On leave", rep)


def test_snooze_presets_are_the_services_quick_snoozes(client_as, rep, morning):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    client = client_as("rep")
    for preset, moment in SnoozeForm.quick_snoozes().items():
        assert _snooze(client, lead, {"preset": preset, "reason": "x"}).status_code == 200
        lead.refresh_from_db()
        assert lead.next_follow_up_at == moment, preset


def test_snooze_until_a_moment(client_as, rep, manager, morning):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    until = _at(16, 45, days=3)
    response = _snooze(client_as("rep"), lead, {"until": until.isoformat(), "reason": "Trip"})
    assert response.status_code == 200, response.content
    lead.refresh_from_db()
    assert lead.next_follow_up_at == until
    # A manager may snooze a rep's follow-up too, as on the pages.
    response = _snooze(client_as("manager"), lead, {"preset": "1h", "reason": "Covering"})
    assert response.status_code == 200
    assert Snooze.objects.filter(lead=lead).count() == 2


@pytest.mark.parametrize(
    "role, status",
    [("other_rep", 404), ("marketer", 403), *((r, 401) for r in UNAUTHENTICATED)],
)
def test_snooze_is_refused_as_the_other_lead_actions_are(client_as, make_lead, role, status):
    lead = make_lead(Stage.CONTACTED)
    Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=lead.created_at + dt.timedelta(1))
    lead.refresh_from_db()
    snoozed = _snooze(client_as(role), lead, {"preset": "1h", "reason": "x"})
    # The same answer as accepting or logging on that lead (tests/api/test_actions.py).
    logged = client_as(role).post(
        f"/api/v1/leads/{lead.pk}/activities/", {"kind": "note"}, format="json"
    )
    assert snoozed.status_code == logged.status_code == status
    assert snoozed.json()["detail"]
    assert not Snooze.objects.filter(lead=lead).exists()
    was = lead.next_follow_up_at
    lead.refresh_from_db()
    assert lead.next_follow_up_at == was


def test_snooze_of_a_queued_lead_is_403_for_a_rep(client_as, rep, morning):
    lead = _lead(None, stage=Stage.HANDED_OFF, next_follow_up_at=_at(15))
    response = _snooze(client_as("rep"), lead, {"preset": "1h", "reason": "x"})
    assert response.status_code == 403
    assert not Snooze.objects.exists()


def test_snooze_without_a_follow_up_is_409(client_as, rep, morning):
    lead = _lead(rep, next_follow_up_at=None)
    response = _snooze(client_as("rep"), lead, {"preset": "1h", "reason": "x"})
    assert response.status_code == 409
    assert response.json()["detail"] == "This lead has no follow-up to snooze."


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "x"}, "non_field_errors"),
        (
            {"preset": "1h", "until": "2026-12-02T09:00:00+01:00", "reason": "x"},
            "non_field_errors",
        ),
        ({"preset": "next_year", "reason": "x"}, "preset"),
        ({"until": "tomorrowish", "reason": "x"}, "until"),
        ({"until": "9999-12-31T23:59:00-01:00", "reason": "x"}, "until"),
        ({"preset": "1h"}, "reason"),
        ({"preset": "1h", "reason": "   "}, "reason"),
        # The service's rules: after now, within two years.
        ({"until": "2026-12-01T10:00:00+01:00", "reason": "x"}, "until"),
        ({"until": "2029-12-01T10:00:00+01:00", "reason": "x"}, "until"),
    ],
)
def test_bad_snooze_input_is_400_with_detail_and_field(client_as, rep, morning, body, field):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    response = _snooze(client_as("rep"), lead, body)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] and field in response.json()["errors"]
    lead.refresh_from_db()
    assert lead.next_follow_up_at == _at(9, 31)
    assert not Snooze.objects.exists()


# --- tasks: adding ---------------------------------------------------------------------


def test_a_rep_adds_a_task_on_their_lead_201(client_as, rep, morning):
    lead = _lead(rep, first_name="Fleur", last_name="Smit")
    response = client_as("rep").post(
        TASKS,
        {"lead": lead.pk, "kind": "send_quote", "title": "", "due_at": _at(15).isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    task = Task.objects.get()
    assert response["Location"] == body["url"] == f"http://testserver{TASKS}{task.pk}/"
    assert (task.lead, task.user, task.kind, task.due_at) == (lead, rep, "send_quote", _at(15))
    assert body["title"] == "Send a quote"  # the service's default: the kind's name
    assert body["lead_name"] == "Fleur Smit" and body["user_username"] == rep.username
    assert body["completed_at"] is None


def test_a_task_due_in_the_past_is_accepted_as_overdue(client_as, rep, morning):
    lead = _lead(rep)
    body = {"lead": lead.pk, "kind": "call_back", "due_at": _at(9).isoformat()}
    assert client_as("rep").post(TASKS, body, format="json").status_code == 201


def test_a_task_on_a_lead_outside_my_scope_is_404_and_on_a_queued_lead_403(
    client_as, rep, other_rep, marketer, morning
):
    theirs = _lead(other_rep)
    queued = _lead(None, stage=Stage.HANDED_OFF)
    closed = _lead(rep, stage=Stage.WON)
    client = client_as("rep")

    def add(lead_id):
        body = {"lead": lead_id, "kind": "call_back", "due_at": _at(15).isoformat()}
        return client.post(TASKS, body, format="json")

    assert add(theirs.pk).status_code == 404
    assert add(theirs.pk + 1000).status_code == 404
    queued_answer = add(queued.pk)
    assert queued_answer.status_code == 403
    assert queued_answer.json()["detail"] == "This lead is not assigned to you."
    assert add(closed.pk).status_code == 409
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "call_back", "due_at": "2026-12-01T15:00:00+01:00"}, "lead"),
        ({"lead": "abc", "kind": "call_back", "due_at": "2026-12-01T15:00:00+01:00"}, "lead"),
        ({"lead": 2**63, "kind": "call_back", "due_at": "2026-12-01T15:00:00+01:00"}, "lead"),
        ({"lead": "LEAD", "kind": "dance", "due_at": "2026-12-01T15:00:00+01:00"}, "kind"),
        ({"lead": "LEAD", "kind": "call_back"}, "due_at"),
        ({"lead": "LEAD", "kind": "call_back", "due_at": "after lunch"}, "due_at"),
        (
            {
                "lead": "LEAD",
                "kind": "call_back",
                "due_at": "2026-12-01T15:00:00",
                "title": "x" * 201,
            },
            "title",
        ),
        # The service's rules: within two years, and a date the database can hold.
        ({"lead": "LEAD", "kind": "call_back", "due_at": "2030-01-01T10:00:00+01:00"}, "due_at"),
        ({"lead": "LEAD", "kind": "call_back", "due_at": "0001-01-01T00:00:00"}, "due_at"),
        ({"lead": "LEAD", "kind": "call_back", "due_at": "9999-12-31T23:59:00-01:00"}, "due_at"),
    ],
)
def test_bad_task_input_is_400_with_detail_and_field(client_as, rep, morning, body, field):
    lead = _lead(rep)
    if body.get("lead") == "LEAD":
        body = {**body, "lead": lead.pk}
    response = client_as("rep").post(TASKS, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] and field in response.json()["errors"]
    assert not Task.objects.exists()


def test_a_task_due_in_year_one_is_refused_on_the_page_too(rep_client, rep, morning):
    """Stored, 0001-01-01 in the site's time zone is a date BC in UTC: the inbox and the
    timeline then failed to read it back (a 500 on every visit)."""
    lead = _lead(rep)
    with pytest.raises(InvalidInput):
        _task(lead, rep, dt.datetime(1, 1, 1, tzinfo=TZ))
    rep_client.post(
        reverse("sales:task", args=[lead.pk]), {"kind": "call_back", "due_at": "0001-01-01T00:00"}
    )
    assert not Task.objects.exists()
    assert rep_client.get(reverse("sales:inbox")).status_code == 200


# --- tasks: reading ---------------------------------------------------------------------


def test_list_shows_my_open_tasks_by_due_time_and_nobody_elses(
    client_as, rep, other_rep, manager, morning
):
    mine = _lead(rep)
    later = _task(mine, rep, _at(16), "later")
    sooner = _task(mine, rep, _at(10), "sooner")
    done = _task(mine, rep, _at(9), "done")
    services.task_complete(task=done, by=rep)
    theirs = _task(_lead(other_rep), other_rep, _at(12), "theirs")
    managers = _task(mine, manager, _at(13), "the manager's")
    response = client_as("rep").get(TASKS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [t["id"] for t in body["results"]] == [sooner.pk, later.pk]
    # A manager's list is their own too; another rep's list only theirs.
    assert [t["id"] for t in client_as("manager").get(TASKS).json()["results"]] == [managers.pk]
    assert [t["id"] for t in client_as("other_rep").get(TASKS).json()["results"]] == [theirs.pk]


def test_list_filters_by_lead_and_due_before(client_as, rep, morning):
    one, two = _lead(rep), _lead(rep)
    a = _task(one, rep, _at(10))
    b = _task(two, rep, _at(12))
    c = _task(one, rep, _at(9, days=1))
    client = client_as("rep")

    def ids(query):
        response = client.get(f"{TASKS}?{query}")
        assert response.status_code == 200, response.content
        return [t["id"] for t in response.json()["results"]]

    assert ids(f"lead={one.pk}") == [a.pk, c.pk]
    assert ids("due_before=2026-12-01T12:00:00%2B01:00") == [a.pk]
    # A date is its midnight in the site's time zone: due before the 2nd is due on the 1st.
    assert ids("due_before=2026-12-02") == [a.pk, b.pk]
    assert ids(f"lead={one.pk}&due_before=2026-12-02") == [a.pk]


@pytest.mark.parametrize(
    "query, field",
    [
        ("lead=abc", "lead"),
        ("lead=99999999999999999999", "lead"),
        ("due_before=soon", "due_before"),
        ("due_before=0001-01-01T00:00:00", "due_before"),
        ("due_before=9999-12-31T23:59:00-01:00", "due_before"),
    ],
)
def test_bad_list_filters_are_400_with_the_field(client_as, rep, query, field):
    response = client_as("rep").get(f"{TASKS}?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] and field in response.json()["errors"]


def test_list_pages_follow_the_due_time(client_as, rep, morning):
    lead = _lead(rep)
    tasks = [_task(lead, rep, _at(9 + i % 3, i)) for i in range(5)]
    expected = [t.pk for t in sorted(tasks, key=lambda t: (t.due_at, t.pk))]
    client, seen, url = client_as("rep"), [], f"{TASKS}?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [t["id"] for t in body["results"]]
        url = body["next"]
    assert seen == expected


def test_list_query_count_does_not_grow_with_tasks(
    client_as, rep, morning, django_assert_max_num_queries
):
    client = client_as("rep")
    lead = _lead(rep)
    _task(lead, rep, _at(15))
    client.get(TASKS)  # warm the token's last_used_at write
    with django_assert_max_num_queries(4) as few:
        client.get(TASKS)
    for i in range(12):
        _task(_lead(rep), rep, _at(16, i))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(TASKS)
    assert len(response.json()["results"]) == 13


def test_another_reps_task_is_404_a_managers_view_is_anyones(client_as, rep, other_rep, morning):
    task = _task(_lead(rep), rep, _at(15))
    url = f"{TASKS}{task.pk}/"
    assert client_as("rep").get(url).json()["id"] == task.pk
    assert client_as("other_rep").get(url).status_code == 404
    assert client_as("other_rep").post(f"{url}complete/", {}, format="json").status_code == 404
    assert client_as("manager").get(url).status_code == 200
    task.refresh_from_db()
    assert task.completed_at is None


# --- tasks: completing --------------------------------------------------------------------


def test_completing_a_task_marks_it_done_once(client_as, rep, morning):
    task = _task(_lead(rep), rep, _at(15))
    client = client_as("rep")
    response = client.post(f"{TASKS}{task.pk}/complete/", {}, format="json")
    assert response.status_code == 200, response.content
    assert dt.datetime.fromisoformat(response.json()["completed_at"]) == _at(11)
    task.refresh_from_db()
    assert task.completed_at == _at(11)
    # Done, it leaves the list but can still be read; completing again is refused.
    assert client.get(TASKS).json()["results"] == []
    assert client.get(f"{TASKS}{task.pk}/").json()["completed_at"] is not None
    again = client.post(f"{TASKS}{task.pk}/complete/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["detail"] == "This task is already done."


def test_a_manager_completes_a_reps_task(client_as, rep, morning):
    task = _task(_lead(rep), rep, _at(15))
    response = client_as("manager").post(f"{TASKS}{task.pk}/complete/", {}, format="json")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.completed_at is not None


# --- who may call -------------------------------------------------------------------------


@pytest.mark.parametrize("role, status", [("marketer", 403), *((r, 401) for r in UNAUTHENTICATED)])
def test_tasks_are_for_sales_marketers_get_403_the_unauthenticated_401(
    client_as, rep, role, status, morning
):
    lead = _lead(rep)
    task = _task(lead, rep, _at(15))
    client = client_as(role)
    body = {"lead": lead.pk, "kind": "call_back", "due_at": _at(15).isoformat()}
    answers = [
        client.get(TASKS),
        client.post(TASKS, body, format="json"),
        client.get(f"{TASKS}{task.pk}/"),
        client.post(f"{TASKS}{task.pk}/complete/", {}, format="json"),
    ]
    assert [a.status_code for a in answers] == [status] * 4
    assert all(a.json()["detail"] for a in answers)
    assert Task.objects.count() == 1
    task.refresh_from_db()
    assert task.completed_at is None


def test_session_writes_need_the_csrf_token(rep, morning):
    lead = _lead(rep, next_follow_up_at=_at(9, 31))
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.get(TASKS).status_code == 200
    body = {"lead": lead.pk, "kind": "call_back", "due_at": _at(15).isoformat()}
    refused = [
        client.post(TASKS, body, format="json"),
        _snooze(client, lead, {"preset": "1h", "reason": "x"}),
    ]
    assert [r.status_code for r in refused] == [403, 403]
    assert all("CSRF" in r.json()["detail"] for r in refused)
    assert not Task.objects.exists() and not Snooze.objects.exists()
    client.get("/accounts/profile/")
    csrf = client.cookies["csrftoken"].value
    assert client.post(TASKS, body, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 201
