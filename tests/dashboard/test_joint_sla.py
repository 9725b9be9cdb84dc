"""The joint SLA (SPEC §5, issue 19 item 5): targets by month, the monthly scorecard worked
out by hand, its CSV, permissions, and the monthly e-mail through the outbox.

Today is 15 November 2026: the scorecard runs November 2025 – October 2026. Policy
defaults: response 24 h (the handoffs below carry their own 60 min), first contact 48 h,
6 attempts.

Targets: campaign A 2 accepted leads from August, 5 from October; channel email 1 from
September. Terms from September: at most 25 % rejected, pass mark 50 %.

September (leads created 10 Sep):
  A1 A2 accepted, answered in 30 min, first attempt after 1 h    A: 2 of 2 met
  B1 (email) rejected, answered after 3 h                         email: 0 of 1 missed
  rejected 1 / handed off 3 = 33.3 % > 25 %                       marketing missed
  answered in time 2/3, first attempt in time 2/3, no lost lead   sales met (pass 50 %)
October (10 Oct):
  A1 A2 A3 accepted, answered after 3 h                           A: 3 of 5 missed
  B1 accepted, answered in 30 min                                 email: 1 of 1 met
  C1 C2 (social ads, no target) lost unresponsive after 6 and 2 attempts, first
  attempt after 1 h, no handoff record
  answered in time 1/4 < 50 %                                     sales missed
  first attempt in time 2/6, lost after enough attempts 1/2
August: A's target of 2, no leads                                 marketing missed
"""

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from leadflow.models import OutboxMessage
from leads import tasks
from leads.models import JointSLAMailing, JointSLATerms, MarketingTarget, Stage
from leads.reporting import joint_sla, stats
from leads.reporting import services as reporting
from sales.models import Handoff
from tests import factories

AMS = ZoneInfo("Europe/Amsterdam")
TODAY = dt.datetime(2026, 11, 15, 12, 0, tzinfo=AMS)
MIN = dt.timedelta(minutes=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def world(db):
    # Built an hour before "today", so the page's refresh at today sees it as settled.
    with at(TODAY - dt.timedelta(hours=1)):
        return _world()


def _world():
    boss = factories.manager(username="boss", email="boss@x.test")
    mk = factories.marketer(username="mk", email="mk@x.test")
    r1 = factories.rep(username="r1", email="r1@x.test")
    a = factories.CampaignFactory(name="A", channel="search_ads", owner=mk)
    b = factories.CampaignFactory(name="B", channel="email", owner=mk)
    c = factories.CampaignFactory(name="C", channel="social_ads", owner=mk)

    def lead(campaign, created, *, answered=None, contact=None, **fields):
        handed = created + 60 * MIN
        row = factories.LeadFactory(
            campaign=campaign,
            created_at=created,
            handed_off_at=handed,
            owner=r1,
            first_contact_at=None if contact is None else handed + contact,
            **fields,
        )
        if answered is not None:
            Handoff.objects.create(
                lead=row,
                to_user=r1,
                handed_at=handed,
                responded_at=handed + answered,
                outcome="rejected" if row.stage == Stage.REJECTED else "accepted",
                response_minutes=60,
                first_contact_minutes=48 * 60,
            )
        return row

    sep = dt.datetime(2026, 9, 10, 10, 0, tzinfo=AMS)
    accepted = {"stage": Stage.ACCEPTED, "accepted_at": sep + 90 * MIN}
    lead(a, sep, answered=30 * MIN, contact=60 * MIN, **accepted)
    lead(a, sep, answered=30 * MIN, contact=60 * MIN, **accepted)
    lead(b, sep, answered=180 * MIN, stage=Stage.REJECTED, rejected_at=sep + 240 * MIN)
    oct_ = dt.datetime(2026, 10, 10, 10, 0, tzinfo=AMS)
    accepted = {"stage": Stage.ACCEPTED, "accepted_at": oct_ + 90 * MIN}
    for _ in range(3):
        lead(a, oct_, answered=180 * MIN, **accepted)
    lead(b, oct_, answered=30 * MIN, **accepted)
    for attempts in (6, 2):
        lead(
            c,
            oct_,
            contact=60 * MIN,
            stage=Stage.LOST,
            lost_reason="unresponsive",
            accepted_at=oct_ + 90 * MIN,
            attempts_before_connect=attempts,
            closed_at=oct_ + dt.timedelta(days=5),
        )
    reporting.target_set(by=boss, month=dt.date(2026, 8, 1), accepted_leads=2, campaign=a)
    reporting.target_set(by=boss, month=dt.date(2026, 10, 20), accepted_leads=5, campaign=a)
    reporting.target_set(by=boss, month=dt.date(2026, 9, 1), accepted_leads=1, channel="email")
    reporting.terms_set(
        by=boss, month=dt.date(2026, 9, 1), max_rejection_percent=25, pass_percent=50
    )
    stats.rebuild()
    return {"boss": boss, "mk": mk, "r1": r1, "a": a, "b": b, "c": c}


def _months(card):
    return {m["month"]: m for m in card["months"]}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_later_target_replaces_an_earlier_one_from_its_month_and_past_months_keep_theirs(
    world,
):
    with at(TODAY):
        months = _months(joint_sla.scorecard())
    goals = {
        month: {line["label"]: line["goal"] for line in months[month]["marketing"]["targets"]}
        for month in (dt.date(2026, 7, 1), dt.date(2026, 8, 1), dt.date(2026, 9, 1))
    }
    assert goals == {
        dt.date(2026, 7, 1): {},
        dt.date(2026, 8, 1): {"A": 2},
        dt.date(2026, 9, 1): {"A": 2, "Email": 1},
    }
    october = months[dt.date(2026, 10, 1)]["marketing"]["targets"]
    assert {line["label"]: line["goal"] for line in october} == {"A": 5, "Email": 1}
    # Both targets of A are kept: the history a past month is judged by.
    assert MarketingTarget.objects.filter(campaign=world["a"]).count() == 2


def test_setting_a_target_again_for_the_same_month_replaces_it(world):
    reporting.target_set(
        by=world["boss"], month=dt.date(2026, 10, 1), accepted_leads=3, campaign=world["a"]
    )
    assert (
        MarketingTarget.objects.get(campaign=world["a"], month=dt.date(2026, 10, 1)).accepted_leads
        == 3
    )
    with at(TODAY):
        october = _months(joint_sla.scorecard())[dt.date(2026, 10, 1)]
    assert october["marketing"]["targets"][0]["met"] is True  # 3 of 3 now


def test_the_scorecard_figures_and_the_months_each_side_missed(world):
    with at(TODAY):
        card = joint_sla.scorecard()
    months = _months(card)
    assert min(months) == dt.date(2025, 11, 1) and max(months) == dt.date(2026, 10, 1)
    sep, oct_ = months[dt.date(2026, 9, 1)], months[dt.date(2026, 10, 1)]
    assert [(t["label"], t["accepted"], t["met"]) for t in sep["marketing"]["targets"]] == [
        ("A", 2, True),
        ("Email", 0, False),
    ]
    assert sep["marketing"]["rejection_rate"] == 1 / 3
    assert (sep["marketing"]["max_rejection_rate"], sep["marketing"]["rejection_met"]) == (
        0.25,
        False,
    )
    assert sep["marketing"]["missed"] is True
    sales = {m["key"]: (m["count"], m["of"], m["met"]) for m in sep["sales"]["measures"]}
    assert sales == {
        "response": (2, 3, True),
        "first_attempt": (2, 3, True),
        "attempts": (0, 0, None),
    }
    assert (sep["sales"]["pass_share"], sep["sales"]["missed"]) == (0.5, False)

    assert [(t["label"], t["accepted"], t["met"]) for t in oct_["marketing"]["targets"]] == [
        ("A", 3, False),
        ("Email", 1, True),
    ]
    assert (oct_["marketing"]["accepted"], oct_["marketing"]["goal"]) == (6, 6)
    assert oct_["marketing"]["rejection_rate"] == 0 and oct_["marketing"]["missed"] is True
    sales = {m["key"]: (m["count"], m["of"], m["met"]) for m in oct_["sales"]["measures"]}
    assert sales == {
        "response": (1, 4, False),
        "first_attempt": (2, 6, False),
        "attempts": (1, 2, True),
    }
    assert oct_["sales"]["missed"] is True
    # August: A's target of 2 with no leads at all; sales had nothing to judge.
    aug = months[dt.date(2026, 8, 1)]
    assert (aug["marketing"]["missed"], aug["sales"]["missed"]) == (True, False)
    # Before September no terms: the default pass mark, no rejection maximum.
    jul = months[dt.date(2026, 7, 1)]
    assert (jul["sales"]["pass_share"], jul["marketing"]["max_rejection_rate"]) == (0.9, None)
    missed = [
        m["month"] for m in card["months"] if m["marketing"]["missed"] or m["sales"]["missed"]
    ]
    assert missed == [dt.date(2026, 8, 1), dt.date(2026, 9, 1), dt.date(2026, 10, 1)]


def test_first_attempt_share_is_the_dashboards_contact_in_sla_rate(world):
    from leads.reporting.definitions import Filters

    with at(TODAY):
        card = joint_sla.scorecard()
    oct_ = _months(card)[dt.date(2026, 10, 1)]
    funnel = stats.funnel(
        Filters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31)), with_median=False
    )
    first = next(m for m in oct_["sales"]["measures"] if m["key"] == "first_attempt")
    assert first["share"] == funnel["contact_in_sla_rate"]


def test_the_page_marks_missed_months_in_words_with_a_fixed_number_of_queries(
    world, django_assert_max_num_queries
):
    client = client_for(world["r1"])
    with at(TODAY):
        client.get("/dashboard/joint-sla/")  # warm: the statistics are current
        # The session and roles (3), the statistics' freshness check (9), the scorecard
        # (4: statistics, targets, terms, policy), the page's history tables, the bell.
        with django_assert_max_num_queries(21):
            response = client.get("/dashboard/joint-sla/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-month="2026-10"' in page and "Marketing missed" in page and "Sales missed" in page
    assert 'id="target-form"' not in page  # a rep reads, a manager sets
    assert (
        'id="target-form"'
        in client_for(world["boss"]).get("/dashboard/joint-sla/").content.decode()
    )


def test_the_query_count_does_not_grow_with_targets_or_leads(world, django_assert_max_num_queries):
    client = client_for(world["boss"])
    with at(TODAY):
        client.get("/dashboard/joint-sla/")
        with django_assert_max_num_queries(23) as few:  # a manager: the forms too
            client.get("/dashboard/joint-sla/")
        steady = len(few.captured_queries)  # the next request resets the query log
        for i in range(5):
            campaign = factories.CampaignFactory(name=f"X{i}", owner=world["mk"])
            reporting.target_set(
                by=world["boss"], month=dt.date(2026, 5, 1), accepted_leads=i, campaign=campaign
            )
            factories.LeadFactory(campaign=campaign, created_at=TODAY - dt.timedelta(days=60))
        stats.rebuild()
    with at(TODAY + dt.timedelta(hours=1)):
        client.get("/dashboard/joint-sla/")
        with django_assert_max_num_queries(steady):
            client.get("/dashboard/joint-sla/")


@pytest.mark.parametrize("who", ["r1", "mk"])
def test_a_rep_or_a_marketer_cannot_set_targets(world, who):
    client = client_for(world[who])
    response = client.post(
        "/dashboard/joint-sla/target/",
        {"target-month": "2026-11", "target-campaign": world["a"].pk, "target-accepted_leads": 9},
    )
    assert response.status_code == 403
    response = client.post(
        "/dashboard/joint-sla/terms/",
        {"terms-month": "2026-11", "terms-max_rejection_percent": 1, "terms-pass_percent": 1},
    )
    assert response.status_code == 403
    assert not MarketingTarget.objects.filter(month=dt.date(2026, 11, 1)).exists()
    assert not JointSLATerms.objects.filter(month=dt.date(2026, 11, 1)).exists()


def test_a_manager_sets_targets_and_bad_input_gets_a_clear_message(world):
    client = client_for(world["boss"])
    response = client.post(
        "/dashboard/joint-sla/target/",
        {"target-month": "2026-11", "target-channel": "events", "target-accepted_leads": 9},
    )
    assert response.status_code == 302
    assert MarketingTarget.objects.get(month=dt.date(2026, 11, 1)).channel == "events"
    both = client.post(
        "/dashboard/joint-sla/target/",
        {
            "target-month": "2026-11",
            "target-campaign": world["a"].pk,
            "target-channel": "events",
            "target-accepted_leads": 9,
        },
    )
    assert both.status_code == 400
    assert "Choose a campaign or a channel, not both" in both.content.decode()
    bad = client.post(
        "/dashboard/joint-sla/terms/",
        {"terms-month": "soon", "terms-max_rejection_percent": 150, "terms-pass_percent": 90},
    )
    assert bad.status_code == 400
    assert "Enter a month as YYYY-MM" in bad.content.decode()
    assert "less than or equal to 100" in bad.content.decode()
    ok = client.post(
        "/dashboard/joint-sla/terms/",
        {
            "terms-month": "2026-11",
            "terms-max_rejection_percent": "12.5",
            "terms-pass_percent": 80,
        },
    )
    assert ok.status_code == 302
    assert JointSLATerms.objects.get(month=dt.date(2026, 11, 1)).max_rejection_percent == Decimal(
        "12.50"
    )


def test_the_csv_has_every_month_side_and_measure_with_rates_to_four_places(world):
    with at(TODAY):
        response = client_for(world["r1"]).get("/dashboard/joint-sla/scorecard.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len({r["month"] for r in rows}) == 12
    october = {(r["side"], r["measure"], r["scope"]): r for r in rows if r["month"] == "2026-10"}
    assert october[("marketing", "accepted_campaign", str(world["a"].pk))]["actual"] == "3"
    assert october[("marketing", "accepted_campaign", str(world["a"].pk))]["met"] == "no"
    first = october[("sales", "first_attempt", "")]
    assert (first["actual"], first["target"], first["met"]) == ("0.3333", "0.5000", "no")
    assert october[("sales", "missed", "")]["actual"] == "yes"
    assert october[("marketing", "rejection_rate", "")]["target"] == "0.2500"


def test_the_monthly_email_goes_through_the_outbox_once_per_month(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    factories.UserFactory(username="nobody", email="nobody@x.test")  # no role: not mailed
    with at(dt.datetime(2026, 11, 1, 8, 15, tzinfo=AMS)):
        with django_capture_on_commit_callbacks(execute=True):
            queued = tasks.joint_sla_monthly()
        assert queued == 3  # boss, mk, r1
        messages = OutboxMessage.objects.filter(task="leads.tasks.send_joint_sla_scorecard")
        assert sorted(m.args[1] for m in messages) == ["2026-10-01"] * 3
        with django_capture_on_commit_callbacks(execute=True):
            again = tasks.joint_sla_monthly()
    assert again == 0
    assert messages.count() == 3
    assert JointSLAMailing.objects.get().month == dt.date(2026, 10, 1)
    assert sorted(m.to[0] for m in mailoutbox) == ["boss@x.test", "mk@x.test", "r1@x.test"]
    mail = mailoutbox[0]
    assert mail.subject == "LeadFlow joint SLA, October 2026: both sides missed"
    assert "A: 3 accepted leads, target 5 (missed)" in mail.body
    assert "/dashboard/joint-sla/" in mail.alternatives[0][0]


def test_the_mailing_runs_on_the_first_of_the_month():
    entry = settings.CELERY_BEAT_SCHEDULE["joint-sla-scorecard"]
    assert entry["task"] == "leads.tasks.joint_sla_monthly"
    assert entry["schedule"].day_of_month == {1}


def test_demo_data_has_targets_and_both_sides_miss_some_months(db):
    from leads.demo.seeder import Seeder

    now = dt.datetime(2026, 11, 15, 12, 0, tzinfo=AMS)
    Seeder(leads=1500, seed=7, now=now).run()
    stats.rebuild()
    with at(now):
        card = joint_sla.scorecard()
    assert len(card["months"]) == 12
    assert MarketingTarget.objects.filter(campaign__isnull=False).exists()
    assert MarketingTarget.objects.filter(campaign__isnull=True).exists()
    assert JointSLATerms.objects.count() == 2
    assert all(m["marketing"]["targets"] for m in card["months"])
    marketing = [m["marketing"]["missed"] for m in card["months"]]
    sales = [m["sales"]["missed"] for m in card["months"]]
    assert any(marketing) and not all(marketing)
    assert any(sales) and not all(sales)
