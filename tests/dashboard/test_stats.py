"""The pre-aggregated statistics (leads/reporting/stats.py) agree with the raw definitions
(tests/reference.py) after a rebuild and after incremental refreshes."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from leads.demo.seeder import Seeder
from leads.models import Flag, Lead, SLAPolicy, Stage
from leads.reporting import definitions, medians, stats
from sales import services as sales
from tests import reference
from tests.dashboard.test_numbers import october, world  # noqa: F401 - fixture


def assert_agree(filters):
    raw, pre = reference.funnel(filters), stats.funnel(filters)
    pre.pop("_sums")
    assert pre == raw
    assert stats.marketing_scorecard(filters) == reference.marketing_scorecard(filters)
    assert stats.sales_scorecard(filters) == reference.sales_scorecard(filters)
    raw_rejection, raw_lost = reference.reasons(filters)
    assert stats.reasons(filters) == (
        {k: v for k, v in raw_rejection.items() if v},
        {k: v for k, v in raw_lost.items() if v},
    )
    assert stats.objections_by_campaign(filters) == reference.objections_by_campaign(filters)
    assert stats.weekly_trend(filters) == reference.weekly_trend(filters)


def test_rebuilt_statistics_equal_the_raw_numbers_on_the_hand_built_world(world):  # noqa: F811
    stats.rebuild()
    assert_agree(october())
    assert_agree(october(campaign=world["a"]))
    assert_agree(october(channel="email", owner=world["r2"]))
    assert_agree(definitions.Filters(start=dt.date(2026, 10, 31), end=dt.date(2026, 10, 31)))


@pytest.fixture
def demo(db):
    Seeder(leads=1500, seed=11, password="x").run()
    stats.rebuild()


def test_rebuilt_statistics_equal_the_raw_numbers_on_demo_data(demo):
    today = timezone.localdate()
    year = definitions.Filters(start=today - dt.timedelta(days=364), end=today)
    assert_agree(definitions.Filters.default())
    assert_agree(year)
    lead = Lead.objects.exclude(owner=None).exclude(campaign=None).first()
    assert_agree(definitions.Filters(start=year.start, end=today, campaign=lead.campaign))
    assert_agree(definitions.Filters(start=year.start, end=today, owner=lead.owner))


def test_refresh_picks_up_lifecycle_changes_and_sweep_flags(demo):
    year = definitions.Filters(
        start=timezone.localdate() - dt.timedelta(days=364), end=timezone.localdate()
    )
    quiet = definitions.with_sales_delay(Lead.objects.exclude(handed_off_at=None)).filter(
        sales_delay=False
    )
    # A lead that was reached: lost, it is the market's.
    lead = (
        quiet.filter(stage=Stage.CONTACTED, rejected_at=None, first_connect_at__isnull=False)
        .order_by("-created_at")
        .first()
    )
    other = (
        quiet.filter(stage__in=[Stage.CONTACTED, Stage.OPPORTUNITY], rejected_at=None)
        .exclude(pk=lead.pk)
        .order_by("created_at")
        .first()
    )
    before = stats.funnel(year)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        sales.lead_lose(lead=lead, by=lead.owner, reason="competitor")
        # The sweep writes flags without touching the lead: the refresh must see them too.
        Flag.objects.create(
            lead=other, kind="response_overdue", side="sales", raised_at=timezone.now()
        )
        assert stats.refresh() is True
    assert_agree(year)
    after = stats.funnel(year)
    assert after["lost"] == before["lost"] + 1
    moved = {
        k: after["ball_dropped"][k] - before["ball_dropped"][k] for k in after["ball_dropped"]
    }
    # The lost lead: in progress -> market; the flagged one: in progress -> sales.
    assert moved == {"marketing": 0, "sales": 1, "market": 1, "in_progress": -2}


def test_changing_the_first_contact_sla_rebuilds(demo):
    policy = SLAPolicy.objects.get(is_global=True)
    policy.first_contact_minutes = 4 * 60
    policy.save()
    stats.refresh()
    assert_agree(definitions.Filters.default())


def test_a_big_backlog_goes_to_the_worker_from_a_page(demo, monkeypatch):
    from leads import tasks

    calls = []
    monkeypatch.setattr(
        tasks.refresh_dashboard_stats,
        "apply_async",
        lambda *args, **options: calls.append(options["kwargs"]),
    )
    Lead.objects.update(updated_at=timezone.now())  # every day changed
    with monkeypatch.context() as m:
        m.setattr("django.db.transaction.on_commit", lambda f, using=None, robust=False: f())
        assert stats.refresh(max_days=3) is False
    assert calls == [{}]


def test_many_changed_rows_go_to_the_worker_without_listing_their_days(demo, monkeypatch):
    """A first sweep raising flags on a few days' leads: few days, but too many rows to be
    worth even listing their days on a page request."""
    from leads import tasks

    calls = []
    monkeypatch.setattr(
        tasks.refresh_dashboard_stats,
        "apply_async",
        lambda *args, **options: calls.append(options["kwargs"]),
    )
    monkeypatch.setattr(stats, "INLINE_ROWS", 3)
    monkeypatch.setattr(stats, "dirty_days", lambda since: pytest.fail("listed the days"))
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        newest = list(Lead.objects.order_by("-created_at").values_list("pk", flat=True)[:4])
        for pk in newest:
            Flag.objects.create(lead_id=pk, kind="stalled", side="sales", raised_at=timezone.now())
        with monkeypatch.context() as m:
            m.setattr("django.db.transaction.on_commit", lambda f, using=None, robust=False: f())
            assert stats.refresh(max_days=3) is False
    assert calls == [{}]


def test_a_few_changed_rows_are_refreshed_inline_from_a_page(demo, monkeypatch):
    monkeypatch.setattr(stats, "INLINE_ROWS", 3)
    year = definitions.Filters(
        start=timezone.localdate() - dt.timedelta(days=364), end=timezone.localdate()
    )
    lead = Lead.objects.filter(stage=Stage.CONTACTED).order_by("-created_at").first()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        sales.lead_lose(lead=lead, by=lead.owner, reason="competitor")
        assert stats.refresh(max_days=3) is True
    assert_agree(year)


def test_one_pass_medians_equal_the_separate_ones(demo):
    cohort = definitions.Filters.default().cohort()
    overall, by_owner = medians.medians_with_owners(cohort)
    assert overall == pytest.approx(medians.median_hours_to_first_contact(cohort))
    assert by_owner == pytest.approx(medians.median_hours_by_owner(cohort))
    assert by_owner and overall is not None
