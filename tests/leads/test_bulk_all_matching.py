"""Acting on everything that matches (issue 20 item 1): "Select all N matching" on the lead
list, a confirmation that fixes the set, a small set run in the request, a large one as a
durable job through the same services, and its report of what moved and what was
skipped and why."""

import datetime as dt
from unittest.mock import patch
from urllib.parse import urlencode

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from leads import filters as lead_filters
from leads import services as marketing
from leads import views
from leads.bulk import services as bulk
from leads.models import (
    BulkJob,
    BulkJobLead,
    BulkOutcome,
    BulkStatus,
    Lead,
    Stage,
    StageChange,
)
from tests import factories

LIST = reverse("leads:list")
BULK = reverse("leads:bulk")


@pytest.fixture
def winter(db, marketer):
    return factories.CampaignFactory(name="Winter", owner=marketer)


@pytest.fixture
def small_pages(monkeypatch):
    """A page of 20 leads and jobs above 10 leads, so 60 leads are three pages and a job."""
    monkeypatch.setattr(views, "PER_PAGE", 20)
    monkeypatch.setattr(bulk, "INLINE_MAX", 10)


def new_leads(make_lead, campaign, n):
    make_lead.campaign = campaign
    return [make_lead(Stage.NEW) for _ in range(n)]


def filters(campaign, stage=Stage.NEW):
    return urlencode({"campaign": campaign.pk, "stage": stage})


def confirm_all(client, query, action="qualify", **extra):
    """The list's form with "Select all matching" ticked, then the confirmation's form."""
    post = {"action": action, "all_matching": "1", "filter": query, "next": f"{LIST}?{query}"}
    post.update(extra)
    page = client.post(BULK, post)
    assert page.status_code == 200, page.content.decode()[:500]
    assert not BulkJob.objects.exists()  # nothing happens before the confirmation
    carried = dict(page.context["carried"])
    return page, client.post(BULK, {**carried, "confirmed": "1"})


def test_list_offers_select_all_matching_beyond_the_page(
    marketer_client, make_lead, winter, small_pages
):
    new_leads(make_lead, winter, 25)
    query = filters(winter)
    body = marketer_client.get(f"{LIST}?{query}").content.decode()
    assert "Select all 25 matching" in body
    assert f'name="filter" value="{query.replace("&", "&amp;")}"' in body
    # One page only: the header checkbox already selects them all.
    assert "matching" not in marketer_client.get(f"{LIST}?q=nobody-at-all").content.decode()


def test_above_the_count_cap_the_offer_says_so(marketer_client, make_lead, winter, monkeypatch):
    monkeypatch.setattr(views, "PER_PAGE", 2)
    monkeypatch.setattr(lead_filters, "COUNT_CAP", 3)
    new_leads(make_lead, winter, 5)
    assert "Select all 3+ matching" in marketer_client.get(LIST).content.decode()


def test_marketer_qualifies_every_matching_lead_as_a_job_with_a_report(
    marketer_client, make_lead, winter, campaign, marketer, small_pages
):
    matching = new_leads(make_lead, winter, 60)
    elsewhere = new_leads(make_lead, campaign, 3)  # another campaign: not in the filter
    query = filters(winter)

    page, confirmed = confirm_all(marketer_client, query)
    assert page.context["count"] == 60
    assert "all 60 leads that match these filters now" in page.content.decode()
    job = BulkJob.objects.get()
    assert confirmed["Location"] == job.get_absolute_url()
    assert job.total == 60 and job.status == BulkStatus.QUEUED

    # Between the confirmation and the run: one lead moves on, and a new one arrives.
    changed = marketing.lead_disqualify(lead=matching[7], by=marketer, reason="spam")
    make_lead.campaign = winter
    late = make_lead(Stage.NEW)

    bulk.bulk_job_run(job.pk, batch_size=7)

    job.refresh_from_db()
    assert job.status == BulkStatus.DONE and job.finished_at is not None
    assert (job.processed, job.moved_count, job.skipped_count) == (60, 59, 1)
    assert set(Lead.objects.filter(stage=Stage.MQL).values_list("pk", flat=True)) == {
        lead.pk for lead in matching if lead.pk != changed.pk
    }
    late.refresh_from_db()
    assert late.stage == Stage.NEW  # not swept in
    assert all(Lead.objects.get(pk=lead.pk).stage == Stage.NEW for lead in elsewhere)
    reason = "Cannot qualify this lead: it is at the “Disqualified” stage."
    assert BulkJobLead.objects.get(job=job, lead_id=changed.pk).reason == reason

    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "59 leads moved, 1 skipped." in body
    assert reason in body
    assert f'href="{changed.get_absolute_url()}">#{changed.pk}<' in body
    report = b"".join(marketer_client.get(reverse("leads:bulk_report", args=[job.pk]))).decode()
    assert f"{changed.pk},skipped,{reason}" in report and report.count(",moved,") == 59


def test_a_small_set_runs_in_the_request_with_messages(
    marketer_client, make_lead, winter, marketer, small_pages
):
    leads = new_leads(make_lead, winter, 8)
    marketing.lead_nurture(lead=leads[0], by=marketer)
    query = urlencode({"campaign": winter.pk})
    _page, done = confirm_all(marketer_client, query, action="disqualify", reason="spam")
    assert BulkJob.objects.count() == 0
    assert done["Location"] == f"{LIST}?{query}"
    body = marketer_client.get(done["Location"]).content.decode()
    assert "8 leads updated." in body
    assert Lead.objects.filter(stage=Stage.DISQUALIFIED).count() == 8


def test_hand_off_to_the_queue_of_every_matching_lead(
    marketer_client, make_lead, winter, small_pages
):
    make_lead.campaign = winter
    leads = [make_lead(Stage.MQL) for _ in range(12)]
    page, _done = confirm_all(
        marketer_client, filters(winter, Stage.MQL), action="hand_off", mode="queue"
    )
    job = BulkJob.objects.get()
    assert job.params["mode"] == "queue"
    assert "Hand off to the unassigned sales queue." in page.content.decode()
    bulk.bulk_job_run(job.pk)
    assert "Hand off to the unassigned sales queue." in (
        marketer_client.get(job.get_absolute_url()).content.decode()
    )
    assert {Lead.objects.get(pk=lead.pk).stage for lead in leads} == {Stage.HANDED_OFF}
    assert not Lead.objects.filter(pk__in=[lead.pk for lead in leads], owner__isnull=False)


def test_confirmation_refuses_a_bad_filter_an_empty_set_and_a_missing_reason(
    marketer_client, make_lead, winter
):
    new_leads(make_lead, winter, 2)
    post = {"action": "qualify", "all_matching": "1", "next": LIST}
    body = marketer_client.post(BULK, {**post, "filter": "stage=bogus"}, follow=True)
    assert "Select a valid choice" in body.content.decode()
    body = marketer_client.post(BULK, {**post, "filter": "stgae=new"}, follow=True)
    assert "Unknown filter: stgae." in body.content.decode()
    body = marketer_client.post(BULK, {**post, "filter": "q=nobody-at-all"}, follow=True)
    assert "No leads match these filters." in body.content.decode()
    body = marketer_client.post(
        BULK, {**post, "action": "disqualify", "filter": "", "confirmed": "1"}, follow=True
    )
    assert "Choose a reason for disqualifying." in body.content.decode()
    assert not Lead.objects.exclude(stage=Stage.NEW).exists() and not BulkJob.objects.exists()


def test_a_rep_cannot_run_marketing_bulk_actions(rep_client, make_lead, winter):
    lead = new_leads(make_lead, winter, 1)[0]
    response = rep_client.post(
        BULK, {"action": "qualify", "all_matching": "1", "filter": "", "confirmed": "1"}
    )
    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW and not BulkJob.objects.exists()


def test_a_job_resumes_after_its_worker_died_without_acting_twice(
    marketer_client, make_lead, winter, small_pages, monkeypatch
):
    leads = new_leads(make_lead, winter, 15)
    confirm_all(marketer_client, filters(winter))
    job = BulkJob.objects.get()

    class WorkerKilled(BaseException):
        """kill -9: the run stops between two statements and no handler runs."""

    real = marketing.lead_qualify
    calls = {"n": 0}

    def dies_on_the_sixth(**kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise WorkerKilled
        return real(**kwargs)

    monkeypatch.setattr(marketing, "lead_qualify", dies_on_the_sixth)
    with pytest.raises(WorkerKilled):
        bulk.bulk_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.processed) == (BulkStatus.RUNNING, 5)
    # A second delivery while the run still looks alive does nothing.
    assert bulk.bulk_job_run(job.pk) is None

    BulkJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=10)
    )
    assert marketer_client.get(job.get_absolute_url()).context["job"].is_stalled
    from leads.tasks import watch_jobs

    assert watch_jobs()["bulk"] == 1  # the beat's watchdog finds it and queues it again
    job.refresh_from_db()
    assert job.status == BulkStatus.QUEUED
    bulk.bulk_job_run(job.pk)

    job.refresh_from_db()
    assert (job.status, job.processed, job.moved_count, job.skipped_count) == (
        BulkStatus.DONE,
        15,
        15,
        0,
    )
    for lead in leads:
        assert StageChange.objects.filter(lead=lead, to_stage=Stage.MQL).count() == 1


def test_a_run_that_lost_its_job_writes_nothing_more(make_lead, winter, marketer, monkeypatch):
    import uuid

    leads = new_leads(make_lead, winter, 3)
    job = bulk.bulk_job_create(
        by=marketer, action="qualify", params={}, lead_ids=[lead.pk for lead in leads]
    )
    real = marketing.lead_qualify

    def taken_over(**kwargs):
        # The watchdog gave the job to a new run while this one was busy with a lead.
        BulkJob.objects.filter(pk=job.pk).update(run_token=uuid.uuid4())
        return real(**kwargs)

    monkeypatch.setattr(marketing, "lead_qualify", taken_over)
    assert bulk.bulk_job_run(job.pk) is None
    assert not Lead.objects.filter(stage=Stage.MQL).exists()
    assert not BulkJobLead.objects.exclude(outcome=BulkOutcome.PENDING).exists()


def test_the_job_page_is_the_owners_and_the_managers(
    marketer_client, manager_client, make_lead, winter, marketer
):
    leads = new_leads(make_lead, winter, 2)
    job = bulk.bulk_job_create(
        by=marketer, action="nurture", params={}, lead_ids=[lead.pk for lead in leads]
    )
    other = factories.marketer(username="other-marketer")
    from django.test import Client

    other_client = Client()
    other_client.force_login(other)
    assert marketer_client.get(job.get_absolute_url()).status_code == 200
    assert manager_client.get(job.get_absolute_url()).status_code == 200
    assert other_client.get(job.get_absolute_url()).status_code == 404
    progress = marketer_client.get(reverse("leads:bulk_progress", args=[job.pk])).json()
    assert progress["total"] == 2 and progress["status"] == "queued"
    assert progress["cards"] == {"moved": ["0", "leads moved"], "skipped": ["0", "leads skipped"]}
    jobs_page = manager_client.get(reverse("leads:jobs")).content.decode()
    assert job.get_absolute_url() in jobs_page


def test_export_of_all_matching_and_of_the_ticked_rows(marketer_client, make_lead, winter):
    leads = new_leads(make_lead, winter, 3)
    query = filters(winter)
    response = marketer_client.post(
        BULK, {"action": "export", "all_matching": "1", "filter": query}
    )
    assert response["Location"] == f"{reverse('leads:export')}?{query}"
    response = marketer_client.post(BULK, {"action": "export", "ids": [leads[0].pk, leads[2].pk]})
    assert response["Location"].startswith(reverse("leads:export") + "?id=")
    rows = b"".join(marketer_client.get(response["Location"])).decode().splitlines()[1:]
    assert sorted(int(row.split(",")[0]) for row in rows) == [leads[0].pk, leads[2].pk]
    assert marketer_client.get(reverse("leads:export") + "?id=x").status_code == 400


def test_exporting_all_matching_with_a_bad_filter_is_a_message_on_the_list(
    marketer_client, make_lead, winter
):
    new_leads(make_lead, winter, 2)
    for bad, said in (("stage=bogus", "Stage:"), ("stgae=new", "Unknown filter: stgae.")):
        response = marketer_client.post(
            BULK,
            {"action": "export", "all_matching": "1", "filter": bad, "next": f"{LIST}?{bad}"},
            follow=True,
        )
        assert response.redirect_chain[-1][0] == f"{LIST}?{bad}"
        assert any(said in str(m) for m in response.context["messages"]), bad


def test_the_list_page_costs_no_more_queries_with_the_offer(
    marketer_client, make_lead, winter, small_pages, django_assert_max_num_queries
):
    new_leads(make_lead, winter, 45)
    # The lead list's own count (tests/leads/test_lead_list.py) and nothing for the offer.
    with django_assert_max_num_queries(11):
        body = marketer_client.get(f"{LIST}?{filters(winter)}").content.decode()
    assert "Select all 45 matching" in body


def test_the_confirmed_job_is_queued_through_the_outbox_and_run_by_the_task(
    marketer_client, make_lead, winter, small_pages, immediate_on_commit
):
    leads = new_leads(make_lead, winter, 11)
    _page, done = confirm_all(marketer_client, filters(winter), action="nurture")
    job = BulkJob.objects.get()
    assert done["Location"] == job.get_absolute_url()
    job.refresh_from_db()
    assert (job.status, job.moved_count) == (BulkStatus.DONE, 11)
    assert {Lead.objects.get(pk=lead.pk).stage for lead in leads} == {Stage.NURTURE}
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "11 leads moved, 0 skipped." in body


def test_a_marketer_demoted_during_the_job_is_refused_lead_by_lead(make_lead, winter, marketer):
    from django.contrib.auth.models import Group

    from leadflow import roles

    leads = new_leads(make_lead, winter, 3)
    job = bulk.bulk_job_create(
        by=marketer, action="qualify", params={}, lead_ids=[lead.pk for lead in leads]
    )
    marketer.groups.remove(Group.objects.get(name=roles.MARKETING))
    bulk.bulk_job_run(job.pk)
    job.refresh_from_db()
    assert (job.moved_count, job.skipped_count) == (0, 3)
    assert bulk.skipped_by_reason(job) == [
        ("Only marketers and managers can do this.", 3, [lead.pk for lead in leads])
    ]


def test_the_job_page_ends_its_confirmed_at_sentence_with_one_full_stop(
    marketer_client, make_lead, winter, small_pages
):
    new_leads(make_lead, winter, 12)
    # 5:55 in the morning in the site's time zone: English writes "5:55 a.m."
    with time_machine.travel(dt.datetime(2026, 12, 2, 4, 55, tzinfo=dt.UTC), tick=False):
        confirm_all(marketer_client, filters(winter), action="disqualify", reason="spam")
    body = marketer_client.get(BulkJob.objects.get().get_absolute_url()).content.decode()
    assert "at 12/02/2026 5:55 a.m. " in body or "at 12/02/2026 5:55 a.m.\n" in body
    assert "a.m.." not in body


def test_disqualifying_all_matching_without_a_reason_asks_for_it_keeping_the_selection(
    marketer_client, make_lead, winter, small_pages
):
    leads = new_leads(make_lead, winter, 25)
    query = filters(winter)
    post = {"action": "disqualify", "reason": "", "all_matching": "1", "filter": query}
    page = marketer_client.post(BULK, {**post, "next": f"{LIST}?{query}"})
    # Not back to the list (where the selection would be gone): the confirmation of all 25,
    # with the reason to choose.
    assert page.status_code == 200
    body = page.content.decode()
    assert "Disqualify: all 25 leads that match these filters now." in body
    assert 'id="id_confirm_reason_error">Choose a reason for disqualifying.</div>' in body
    carried = dict(page.context["carried"])
    assert carried["all_matching"] == "1" and carried["filter"] == query
    assert "reason" not in carried and not BulkJob.objects.exists()
    marketer_client.post(BULK, {**carried, "reason": "spam", "confirmed": "1"})
    bulk.bulk_job_run(BulkJob.objects.get().pk)
    assert {Lead.objects.get(pk=lead.pk).stage for lead in leads} == {Stage.DISQUALIFIED}


def _stalled_for_ten_minutes(job):
    BulkJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=10)
    )


def test_a_job_the_watchdog_resumes_writes_its_skip_reasons_in_its_creators_language(
    make_lead, winter, marketer, immediate_on_commit
):
    from django.contrib.auth.models import Group

    from leadflow import roles
    from leadflow.i18n import remember_language
    from leads.tasks import watch_jobs

    remember_language(marketer, "nl")
    leads = new_leads(make_lead, winter, 2)
    with patch.object(bulk, "enqueue"):  # its worker dies before the first lead
        job = bulk.bulk_job_create(
            by=marketer, action="qualify", params={}, lead_ids=[lead.pk for lead in leads]
        )
    # Meanwhile the marketer lost the role, so each lead is skipped, with the reason.
    marketer.groups.remove(Group.objects.get(name=roles.MARKETING))
    _stalled_for_ten_minutes(job)
    assert watch_jobs()["bulk"] == 1  # resumed, and (on commit) run by the task
    job.refresh_from_db()
    assert (job.status, job.skipped_count) == (BulkStatus.DONE, 2)
    assert bulk.skipped_by_reason(job) == [
        ("Alleen marketeers en managers kunnen dit doen.", 2, [lead.pk for lead in leads])
    ]


@pytest.mark.parametrize(
    ("chosen", "error"),
    [
        ("nl", "Geen voortgang meer na 0 van 2 leads."),
        ("", "Stopped making progress after 0 of 2 leads."),  # none chosen: the site's
    ],
)
def test_a_job_that_keeps_stalling_fails_in_its_creators_language(
    make_lead, winter, marketer, chosen, error
):
    from leadflow import jobs
    from leadflow.i18n import remember_language

    if chosen:
        remember_language(marketer, chosen)
    leads = new_leads(make_lead, winter, 2)
    job = bulk.bulk_job_create(
        by=marketer, action="qualify", params={}, lead_ids=[lead.pk for lead in leads]
    )
    BulkJob.objects.filter(pk=job.pk).update(stalls=jobs.MAX_STALLS)
    _stalled_for_ten_minutes(job)
    assert [j.pk for j in bulk.bulk_watchdog()] == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.error) == (BulkStatus.FAILED, error)


def test_leads_arriving_between_the_count_and_the_confirm_are_shown_not_swept_in(
    marketer_client, make_lead, winter, small_pages
):
    new_leads(make_lead, winter, 15)
    post = {"action": "qualify", "all_matching": "1", "filter": filters(winter), "next": LIST}
    page = marketer_client.post(BULK, post)
    assert page.context["count"] == 15 and ("expected", 15) in page.context["carried"]
    new_leads(make_lead, winter, 2)  # a web form, an import, while the page was open

    again = marketer_client.post(BULK, {**dict(page.context["carried"]), "confirmed": "1"})
    assert again.status_code == 409
    assert "17 leads match these filters now, not 15: confirm again." in again.content.decode()
    assert not BulkJob.objects.exists() and not BulkJobLead.objects.exists()
    assert not Lead.objects.filter(stage=Stage.MQL).exists()

    carried = dict(again.context["carried"])
    assert carried["expected"] == 17
    done = marketer_client.post(BULK, {**carried, "confirmed": "1"})
    job = BulkJob.objects.get()
    assert done["Location"] == job.get_absolute_url() and job.total == 17


def test_a_small_set_that_changed_since_the_count_is_shown_again_too(
    marketer_client, marketer, make_lead, winter, small_pages
):
    leads = new_leads(make_lead, winter, 4)
    post = {"action": "nurture", "all_matching": "1", "filter": filters(winter), "next": LIST}
    page = marketer_client.post(BULK, post)
    marketing.lead_qualify(lead=leads[0], by=marketer)  # no longer New: out of the set

    again = marketer_client.post(BULK, {**dict(page.context["carried"]), "confirmed": "1"})
    assert again.status_code == 409
    assert "3 leads match these filters now, not 4: confirm again." in again.content.decode()
    assert not Lead.objects.filter(stage=Stage.NURTURE).exists()


def test_the_progress_words_the_cards_in_the_page_language(
    marketer_client, marketer, make_lead, winter
):
    leads = new_leads(make_lead, winter, 2)
    job = bulk.bulk_job_create(
        by=marketer, action="nurture", params={}, lead_ids=[lead.pk for lead in leads]
    )
    BulkJob.objects.filter(pk=job.pk).update(moved_count=1234, skipped_count=1)
    progress = marketer_client.get(
        reverse("leads:bulk_progress", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="nl"
    ).json()
    assert progress["cards"] == {
        "moved": ["1.234", "leads verplaatst"],
        "skipped": ["1", "lead overgeslagen"],
    }


def test_hand_off_by_the_rules_says_so_when_no_rule_is_active(
    marketer_client, make_lead, winter, small_pages
):
    from sales.models import AssignmentRule, RuleTarget

    make_lead.campaign = winter
    [make_lead(Stage.MQL) for _ in range(12)]
    post = {
        "action": "hand_off",
        "mode": "auto",
        "all_matching": "1",
        "filter": filters(winter, Stage.MQL),
        "next": LIST,
    }
    page = marketer_client.post(BULK, post).content.decode()
    assert "Hand off to the unassigned sales queue: no assignment rule is active." in page
    rule = AssignmentRule.objects.create(name="All", target=RuleTarget.QUEUE, position=1)
    page = marketer_client.post(BULK, post).content.decode()
    assert "Hand off to whoever the assignment rules pick." in page
    rule.is_active = False
    rule.save()
    assert "no assignment rule is active" in marketer_client.post(BULK, post).content.decode()
    # A job's page says what was asked, not what the rules would do now.
    _page, _done = confirm_all(
        marketer_client, filters(winter, Stage.MQL), "hand_off", mode="auto"
    )
    job_page = marketer_client.get(BulkJob.objects.get().get_absolute_url()).content.decode()
    assert "Hand off to whoever the assignment rules pick." in job_page


def test_a_hand_off_to_the_chosen_rep_without_one_asks_for_the_rep_keeping_the_selection(
    marketer_client, make_lead, winter, small_pages, rep
):
    make_lead.campaign = winter
    leads = [make_lead(Stage.MQL) for _ in range(12)]
    post = {
        "action": "hand_off",
        "mode": "rep",
        "to_user": "",
        "all_matching": "1",
        "filter": filters(winter, Stage.MQL),
        "next": LIST,
    }
    page = marketer_client.post(BULK, post)
    assert page.status_code == 200 and page.context["count"] == 12
    body = page.content.decode()
    assert 'name="to_user" id="id_confirm_rep"' in body and "Choose the salesperson." in body
    carried = dict(page.context["carried"])
    assert "to_user" not in carried and carried["mode"] == "rep"
    assert not BulkJob.objects.exists()

    marketer_client.post(BULK, {**carried, "to_user": rep.pk, "confirmed": "1"})
    job = BulkJob.objects.get()
    bulk.bulk_job_run(job.pk)
    assert {
        (lead.stage, lead.owner_id) for lead in Lead.objects.filter(pk__in=[x.pk for x in leads])
    } == {(Stage.HANDED_OFF, rep.pk)}
