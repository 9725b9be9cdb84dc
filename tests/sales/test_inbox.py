"""The rep's inbox, now their Today (/sales/): what needs a response, what is due, the
backlog and the new queue, in a fixed number of queries (tests/sales/test_today.py has
the Today order)."""

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
    due, backlog = section(body, "due"), section(body, "backlog")
    assert "Today" in due and "Overdue" in backlog
    # Tomorrow's and the idle lead are in progress (nothing due today), listed last.
    in_progress = section(body, "in-progress")
    assert later.get_absolute_url() in in_progress and "Idle" in in_progress
    assert in_progress.index("Tomorrow") < in_progress.index("Idle")  # none scheduled last
    assert later.get_absolute_url() not in due + backlog and "Idle" not in due + backlog
    assert "Overdue" not in due and "Today" not in backlog
    assert "overdue by 1\xa0day" in backlog
    at_three = timezone.localtime(now + dt.timedelta(hours=3)).isoformat()
    assert f'datetime="{at_three}"' in due and ">today 3" in due
    # The row opens its log form (copied from the page's one <template>; without
    # JavaScript the link opens the form's own page and comes back here).
    assert f'href="/sales/leads/{late.pk}/log/?next=%2Fsales%2F"' in backlog
    assert f'data-row-form="log" data-lead="{late.pk}"' in backlog
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
    # Overdue since before 09:00 today (noon - 3h): missed today, latest first.
    missed = section(body, "missed")
    assert "Old2" in missed and "Old1" in missed and "Old0" not in missed
    assert "Afternoon" in section(body, "due")
    assert "The 2 most urgent of 3 are shown." in missed
    assert "Idle" not in body.split('id="in-progress"')[0] and idle.pk


def test_inbox_shows_only_my_leads_and_the_queue(rep_client, make_lead, other_rep):
    mine = make_lead(Stage.ACCEPTED, last_name="Mine")
    Lead.objects.filter(pk=mine.pk).update(
        next_follow_up_at=timezone.now() + dt.timedelta(minutes=1)
    )
    make_lead(Stage.ACCEPTED, owner=other_rep, last_name="Theirs")
    queued = make_lead(Stage.HANDED_OFF, owner=None, last_name="Queued")
    body = rep_client.get(INBOX).content.decode()
    assert "Mine" in body and "Theirs" not in body
    queue = section(body, "queue")
    assert "Queued" in queue
    assert f'action="/sales/leads/{queued.pk}/claim/"' in queue
    assert mine.pk


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
    # Nothing due yet: the lead is in the list of the rep's leads, not in Today.
    mine = rep_client.get(f"{reverse('leads:list')}?owner=me").content.decode()
    assert "Hopper" in mine
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
    # Due an hour ago: missed today, or the backlog just after midnight.
    context = response.context
    assert len(context["missed"]) + len(context["backlog"]) == n and len(context["queue"]) == n


@pytest.mark.parametrize("n", [2, 12])
def test_manager_inbox_query_count_does_not_grow_with_leads(
    manager_client, make_lead, rep, django_assert_max_num_queries, n
):
    _fill_inbox(make_lead, rep, n)
    with django_assert_max_num_queries(12):
        assert manager_client.get(INBOX).status_code == 200
