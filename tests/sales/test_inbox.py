"""The rep's inbox (/sales/): what needs a response, what is due, what is in progress and the
unassigned queue, in a fixed number of queries."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, Origin, Stage
from sales import services as sales
from tests import factories

from .helpers import unlabelled_fields

INBOX = reverse("sales:inbox")


@pytest.fixture
def noon():
    """A fixed Wednesday noon in the site's time zone, so "due today" is stable."""
    moment = dt.datetime(2026, 3, 11, 12, 0, tzinfo=ZoneInfo(settings.TIME_ZONE))
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller


def section(body, name):
    """The HTML of one inbox section (<section id=name> … </section>)."""
    match = re.search(rf'<section[^>]*id="{name}".*?</section>', body, re.S)
    assert match, name
    return match.group(0)


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_marketer_and_roleless_users_get_no_inbox(marketer_client, client, db):
    assert marketer_client.get(INBOX).status_code == 403
    client.force_login(factories.UserFactory())
    assert client.get(INBOX).status_code == 403


def test_handed_off_leads_show_time_left_and_overdue_first_in_words(rep_client, make_lead, noon):
    overdue = make_lead(Stage.HANDED_OFF, last_name="Late")
    noon.shift(dt.timedelta(hours=30))
    fresh = make_lead(Stage.HANDED_OFF, last_name="Fresh")
    noon.shift(dt.timedelta(hours=1))
    body = rep_client.get(INBOX).content.decode()
    awaiting = section(body, "awaiting")
    assert awaiting.index("Late") < awaiting.index("Fresh")
    # Overdue is red (.overdue) and says so in words: never colour alone.
    row = re.search(rf'<tr id="awaiting-{overdue.pk}".*?</tr>', awaiting, re.S).group(0)
    assert 'class="overdue"' in row and "overdue by 7\xa0hours" in row
    row = re.search(rf'<tr id="awaiting-{fresh.pk}".*?</tr>', awaiting, re.S).group(0)
    assert "overdue" not in row
    assert "23\xa0hours left" in row
    assert "2 awaiting your response" in body and "1 overdue" in body


def test_follow_ups_due_today_and_overdue_are_listed_apart(rep_client, rep, make_lead, noon):
    noon.shift(dt.timedelta(hours=-30))
    late = make_lead(Stage.CONTACTED, last_name="Overdue")
    today = make_lead(Stage.CONTACTED, last_name="Today")
    later = make_lead(Stage.OPPORTUNITY, last_name="Tomorrow")
    make_lead(Stage.ACCEPTED, last_name="Idle")
    noon.shift(dt.timedelta(hours=30))
    now = timezone.now()
    for lead, when in ((late, -26), (today, 3), (later, 24)):
        sales.activity_log(
            lead=lead,
            by=rep,
            kind="note",
            occurred_at=now - dt.timedelta(hours=29),
            next_follow_up_at=now + dt.timedelta(hours=when),
        )
    body = rep_client.get(INBOX).content.decode()
    due, working = section(body, "due"), section(body, "working")
    assert "Overdue" in due and "Today" in due
    assert "Tomorrow" not in due and "Idle" not in due
    assert due.index("Overdue") < due.index("Today")
    assert "overdue by 1\xa0day" in due
    at_three = timezone.localtime(now + dt.timedelta(hours=3)).isoformat()
    assert f'datetime="{at_three}"' in due and ">today 3" in due
    assert "Tomorrow" in working and "Idle" in working and "Overdue" not in working
    assert f'action="/sales/leads/{late.pk}/log/"' in due
    assert unlabelled_fields(body) == ([], set())


def test_a_long_overdue_backlog_does_not_hide_todays_follow_ups(
    rep_client, rep, make_lead, noon, monkeypatch
):
    from sales.views import inbox

    monkeypatch.setattr(inbox, "SECTION_LIMIT", 2)
    now = timezone.now()
    leads = [make_lead(Stage.CONTACTED, last_name=f"Old{i}") for i in range(3)]
    today = make_lead(Stage.CONTACTED, last_name="Afternoon")
    idle = make_lead(Stage.ACCEPTED, last_name="Idle")
    for i, lead in enumerate(leads):
        Lead.objects.filter(pk=lead.pk).update(next_follow_up_at=now - dt.timedelta(hours=3 - i))
    Lead.objects.filter(pk=today.pk).update(next_follow_up_at=now + dt.timedelta(hours=3))
    body = rep_client.get(INBOX).content.decode()
    due = section(body, "due")
    assert "Old0" in due and "Old1" in due and "Old2" not in due  # the two most overdue
    assert "Afternoon" in due
    assert "The 2 most overdue of 3 are shown, then today's" in due
    # The "in progress" count is the section's: leads with nothing due today.
    assert "1 in progress" in body and "Idle" in section(body, "working")
    assert idle.pk


def test_inbox_shows_only_my_leads_and_the_queue(rep_client, make_lead, other_rep):
    mine = make_lead(Stage.ACCEPTED, last_name="Mine")
    make_lead(Stage.ACCEPTED, owner=other_rep, last_name="Theirs")
    queued = make_lead(Stage.HANDED_OFF, owner=None, last_name="Queued")
    body = rep_client.get(INBOX).content.decode()
    assert "Mine" in body and "Theirs" not in body
    queue = section(body, "queue")
    assert "Queued" in queue
    assert f'action="/sales/leads/{queued.pk}/claim/"' in queue
    assert f"/sales/leads/{mine.pk}/" in section(body, "working")


def test_manager_assigns_from_the_queue_instead_of_claiming(
    manager_client, make_lead, rep, other_rep
):
    queued = make_lead(Stage.HANDED_OFF, owner=None)
    queue = section(manager_client.get(INBOX).content.decode(), "queue")
    assert "/claim/" not in queue
    assert f'action="/sales/leads/{queued.pk}/reassign/"' in queue
    manager_client.post(
        reverse("sales:reassign", args=[queued.pk]), {"to_user": other_rep.pk, "next": INBOX}
    )
    queued.refresh_from_db()
    assert (queued.stage, queued.owner) == (Stage.HANDED_OFF, other_rep)


def test_inbox_links_to_logging_a_sales_generated_lead(rep_client, db):
    body = rep_client.get(INBOX).content.decode()
    assert f'href="{reverse("leads:create")}"' in body


def test_rep_logs_a_lead_they_found_and_it_starts_accepted_in_their_inbox(rep_client, rep, db):
    form = rep_client.get(reverse("leads:create"))
    assert form.status_code == 200
    response = rep_client.post(
        reverse("leads:create"),
        {
            "inquiry_type": "phone_call",
            "campaign": "",
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@navy.example",
            "company": "Navy",
        },
        follow=True,
    )
    lead = Lead.objects.get(email="grace@navy.example")
    assert response.redirect_chain[-1][0] == lead.get_absolute_url()
    assert (lead.origin, lead.stage, lead.owner, lead.owner_side) == (
        Origin.SALES,
        Stage.ACCEPTED,
        rep,
        "sales",
    )
    assert lead.stage_changes.get().to_stage == Stage.ACCEPTED
    # The lead page offers the rep's next step straight away.
    assert f'action="/sales/leads/{lead.pk}/log/"' in response.content.decode()
    working = section(rep_client.get(INBOX).content.decode(), "working")
    assert "Hopper" in working and "sales-generated" in working
    rep_client.post(reverse("sales:log", args=[lead.pk]), {"kind": "call"})
    lead.refresh_from_db()
    assert lead.stage == Stage.CONTACTED


def _fill_inbox(make_lead, rep, n):
    with time_machine.travel(timezone.now() - dt.timedelta(hours=3)):
        contacted = [make_lead(Stage.CONTACTED) for _ in range(n)]
    now = timezone.now()
    for lead in contacted:
        sales.activity_log(
            lead=lead,
            by=rep,
            kind="note",
            occurred_at=now - dt.timedelta(hours=2),
            next_follow_up_at=now - dt.timedelta(hours=1),
        )
    for _ in range(n):
        make_lead(Stage.HANDED_OFF)
        make_lead(Stage.HANDED_OFF, owner=None)
        make_lead(Stage.OPPORTUNITY)


@pytest.mark.parametrize("n", [2, 12])
def test_inbox_query_count_does_not_grow_with_leads(
    rep_client, make_lead, rep, django_assert_max_num_queries, n
):
    _fill_inbox(make_lead, rep, n)
    with django_assert_max_num_queries(12):
        response = rep_client.get(INBOX)
    assert response.status_code == 200
    assert len(response.context["due"]) == n and len(response.context["queue"]) == n


@pytest.mark.parametrize("n", [2, 12])
def test_manager_inbox_query_count_does_not_grow_with_leads(
    manager_client, make_lead, rep, django_assert_max_num_queries, n
):
    _fill_inbox(make_lead, rep, n)
    with django_assert_max_num_queries(12):
        assert manager_client.get(INBOX).status_code == 200
