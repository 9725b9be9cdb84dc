"""The inbox at any size: each section shows its most urgent 25, a (capped) count and a
"show all" link into the lead list that lists exactly that section's leads."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Lead, Stage
from tests import factories

INBOX = reverse("sales:inbox")
LIST = reverse("leads:list")
PER_SECTION = 31


def _leads(n, **fields):
    return [factories.LeadFactory(**fields) for _ in range(n)]


@pytest.fixture
def full_inbox(rep, other_rep, db):
    """31 leads in each of rep's sections, in a known urgency order, plus another rep's
    leads and closed leads that no section may show."""
    now = timezone.now()
    hour = dt.timedelta(hours=1)
    awaiting = _leads(PER_SECTION, stage=Stage.HANDED_OFF, owner=rep)
    due = _leads(PER_SECTION, stage=Stage.CONTACTED, owner=rep)
    working = _leads(PER_SECTION, stage=Stage.OPPORTUNITY, owner=rep)
    queue = _leads(PER_SECTION, stage=Stage.HANDED_OFF, owner=None)
    for i, lead in enumerate(awaiting):
        lead.response_due_at = now + i * hour - 4.5 * hour
        lead.last_handed_off_at = now - dt.timedelta(days=1)
    for i, lead in enumerate(due):
        lead.next_follow_up_at = now - dt.timedelta(days=40) + i * hour
    for i, lead in enumerate(working):
        lead.next_follow_up_at = now + dt.timedelta(days=2) + i * hour
    for i, lead in enumerate(queue):
        # New since yesterday: Today lists those (and "show all" the whole new queue).
        lead.last_handed_off_at = now - dt.timedelta(hours=20) + i * dt.timedelta(minutes=20)
    Lead.objects.bulk_update(
        awaiting + due + working + queue,
        ["response_due_at", "last_handed_off_at", "next_follow_up_at"],
    )
    # Nobody's section: another rep's leads, a won lead with an old follow-up.
    _leads(3, stage=Stage.HANDED_OFF, owner=other_rep)
    _leads(3, stage=Stage.CONTACTED, owner=other_rep, next_follow_up_at=now - hour)
    _leads(2, stage=Stage.WON, owner=rep, next_follow_up_at=now - hour)
    return {"awaiting": awaiting, "due": due, "working": working, "queue": queue}


def _listed(client, url):
    """Every lead id the lead list shows for ``url``, following its pages."""
    ids, next_url = [], url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200
        assert not response.context["form"].errors
        ids += [lead.pk for lead in response.context["leads"]]
        cursor = response.context["page"].next_cursor()
        next_url = f"{url}&cursor={cursor}" if cursor else None
    return ids


def test_each_section_shows_its_most_urgent_25_a_count_and_a_link_to_all_of_it(
    rep_client, full_inbox, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = rep_client.get(INBOX)
    context = response.context
    for name, key in (("awaiting", "awaiting"), ("backlog", "due"), ("queue", "queue")):
        rows = context[name]
        shown = [getattr(row, "lead", row).pk for row in rows]
        name = key
        # The most urgent first: the fixture made the leads in urgency order.
        assert shown == [lead.pk for lead in full_inbox[name][:25]], name
    counts = context["counts"]
    assert (counts["awaiting"], counts["backlog"], counts["queue"]) == (31,) * 3
    assert counts["response_overdue"] == 5 and counts["missed"] == counts["due"] == 0
    body = response.content.decode()
    assert "31 awaiting your response" in body and "31 new in the queue" in body
    assert "The 25 most urgent of 31 are shown." in body
    links = context["show_all"]
    for name, key in (("awaiting", "awaiting"), ("backlog", "due"), ("queue", "queue")):
        link = links[name]
        assert f'href="{link.replace("&", "&amp;")}"' in body
        listed = _listed(rep_client, link)
        assert sorted(listed) == sorted(lead.pk for lead in full_inbox[key]), name


def test_a_manager_sees_the_same_queue_and_the_queue_link_lists_it(
    manager_client, full_inbox, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = manager_client.get(INBOX)
    assert [lead.pk for lead in response.context["queue"]] == [
        lead.pk for lead in full_inbox["queue"][:25]
    ]
    # The manager holds none of the rep's leads: their own sections are empty.
    assert response.context["awaiting"] == [] and response.context["counts"]["awaiting"] == 0
    link = response.context["show_all"]["queue"]
    assert sorted(_listed(manager_client, link)) == sorted(q.pk for q in full_inbox["queue"])


def test_counts_beyond_the_cap_read_as_capped(rep_client, rep, monkeypatch, db):
    from sales.views import inbox

    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    _leads(5, stage=Stage.HANDED_OFF, owner=None, last_handed_off_at=timezone.now())
    response = rep_client.get(INBOX)
    assert response.context["counts"]["queue"].capped
    assert "3+ new in the queue" in response.content.decode()


def test_another_reps_section_link_shows_a_rep_only_their_own(
    rep_client, other_rep_client, full_inbox
):
    link = other_rep_client.get(INBOX).context["show_all"]["awaiting"]
    # Owner "me" is whoever follows the link: the other rep's three, never rep's 31.
    listed = _listed(other_rep_client, link)
    assert len(listed) == 3
    assert not set(listed) & {lead.pk for lead in full_inbox["awaiting"]}
    # And an explicit owner filter on another rep shows a rep nothing of theirs.
    other = full_inbox["awaiting"][0].owner_id
    assert _listed(other_rep_client, f"{LIST}?owner={other}&section=awaiting") == []


@pytest.mark.parametrize(
    "query",
    [
        "section=nonsense",
        "follow_up_before=not-a-date",
        "follow_up_before=0001-01-01",
        "follow_up_before=9999-12-31",
        "follow_up_before=2026-02-30",
    ],
)
def test_bad_section_or_follow_up_filters_are_form_errors_not_500s(marketer_client, query, db):
    factories.LeadFactory()
    response = marketer_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["leads"] == []
    assert 'role="alert"' in response.content.decode()


def test_follow_up_before_takes_a_date_or_a_moment(marketer_client, db):
    now = timezone.now()
    early = factories.LeadFactory(
        next_follow_up_at=now.replace(year=2030, month=3, day=11, hour=8)
    )
    late = factories.LeadFactory(
        next_follow_up_at=now.replace(year=2030, month=3, day=12, hour=12)
    )
    factories.LeadFactory(next_follow_up_at=None)

    def ids(query):
        response = marketer_client.get(f"{LIST}?{query}")
        assert not response.context["form"].errors
        return {lead.pk for lead in response.context["leads"]}

    assert ids("follow_up_before=2030-03-12") == {early.pk}
    assert ids("follow_up_before=2030-03-13") == {early.pk, late.pk}
    moment = timezone.localtime(late.next_follow_up_at).strftime("%Y-%m-%dT%H:%M")
    assert ids(f"follow_up_before={moment}") == {early.pk}


def test_show_all_links_point_into_the_lead_list(rep_client, full_inbox):
    for link in rep_client.get(INBOX).context["show_all"].values():
        assert urlsplit(link).path == LIST
