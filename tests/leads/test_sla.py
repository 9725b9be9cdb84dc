"""SLA policy (SPEC §4): business hours, holidays, time zones and DST, per-campaign
overrides, and the recompute of stored deadlines when a manager changes the policy."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Campaign
from leads.demo.seeder import Seeder
from leads.models import DeadlineRecompute, Flag, FlagKind, Holiday, Lead, SLAPolicy, Stage
from leads.sla import services as sla_services
from leads.sla.calendar import (
    DEADLINE_FIELDS,
    DEADLINE_STAGES,
    SLA,
    BusinessCalendar,
    deadlines_recompute,
    refresh_deadlines,
)
from leads.sweep.flags import sweep_flags

from .. import factories
from .conftest import SECOND, D, H

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
NY = ZoneInfo("America/New_York")


def local(*args, tz=AMS):
    return dt.datetime(*args, tzinfo=tz)


def calendar(**kwargs):
    return BusinessCalendar(enabled=True, tz=kwargs.pop("tz", AMS), **kwargs)


# --- the business calendar ---------------------------------------------------------------


def test_friday_1600_plus_24_working_hours_is_wednesday_1600():
    friday = local(2026, 3, 6, 16, 0)
    assert calendar().add_minutes(friday, 24 * 60) == local(2026, 3, 11, 16, 0)


@pytest.mark.parametrize(
    "start, hours, due",
    [
        # Weekend: nothing counts until Monday 9:00.
        (local(2026, 3, 7, 12, 0), 8, local(2026, 3, 9, 17, 0)),
        (local(2026, 3, 8, 23, 59), 1, local(2026, 3, 9, 10, 0)),
        # Outside working hours: the clock starts at the next opening.
        (local(2026, 3, 10, 20, 0), 1, local(2026, 3, 11, 10, 0)),
        (local(2026, 3, 10, 6, 30), 1, local(2026, 3, 10, 10, 0)),
        # Exactly at closing time, and a deadline exactly at closing time.
        (local(2026, 3, 6, 17, 0), 1, local(2026, 3, 9, 10, 0)),
        (local(2026, 3, 9, 9, 0), 8, local(2026, 3, 9, 17, 0)),
        # Zero hours is "now", even outside working hours.
        (local(2026, 3, 10, 12, 0), 0, local(2026, 3, 10, 12, 0)),
    ],
)
def test_working_hours_skip_nights_and_weekends(start, hours, due):
    assert calendar().add_minutes(start, hours * 60) == due


def test_holidays_do_not_count():
    easter_monday = dt.date(2026, 4, 6)
    cal = calendar(holidays=frozenset({easter_monday}))
    friday = local(2026, 4, 3, 16, 0)
    assert cal.add_minutes(friday, 24 * 60) == local(2026, 4, 9, 16, 0)  # Thursday, not Wednesday


def test_the_policy_time_zone_decides_what_working_hours_are():
    # Friday 16:00 in New York is 21:00 UTC (EST); Wednesday 16:00 there is 21:00 UTC.
    friday_utc = dt.datetime(2026, 3, 6, 21, 0, tzinfo=dt.UTC)
    due = calendar(tz=NY).add_minutes(friday_utc, 24 * 60)
    assert due == dt.datetime(2026, 3, 11, 20, 0, tzinfo=dt.UTC)  # NY moved to EDT on 8 March
    assert due.astimezone(NY).hour == 16
    # The same moment under Amsterdam hours is Friday 22:00: the clock starts Monday.
    assert calendar().add_minutes(friday_utc, 24 * 60) == local(2026, 3, 11, 17, 0)


def test_working_hours_keep_local_wall_time_across_the_spring_dst_change():
    # Amsterdam moves from CET to CEST on Sunday 29 March 2026.
    friday = local(2026, 3, 27, 16, 0)
    due = calendar().add_minutes(friday, 24 * 60)
    assert due == local(2026, 4, 1, 16, 0)
    assert due.utcoffset() == dt.timedelta(hours=2)
    assert due.astimezone(dt.UTC).hour == 14


def test_working_hours_keep_local_wall_time_across_the_autumn_dst_change():
    friday = local(2026, 10, 23, 16, 0)  # CEST; CET from Sunday 25 October
    due = calendar().add_minutes(friday, 24 * 60)
    assert due == local(2026, 10, 28, 16, 0)
    assert due.astimezone(dt.UTC).hour == 15


def test_a_working_day_that_spans_the_dst_jump_counts_the_hours_that_really_pass():
    # A night shift 00:00-06:00 every day; on 29 March 02:00 jumps to 03:00, so the shift
    # is five real hours long.
    cal = calendar(work_days=frozenset(range(7)), start=dt.time(0), end=dt.time(6))
    sunday = local(2026, 3, 29, 0, 0)
    assert cal.add_minutes(sunday, 5 * 60) == local(2026, 3, 29, 6, 0)
    assert cal.add_minutes(sunday, 6 * 60) == local(2026, 3, 30, 1, 0)


def test_a_calendar_without_working_days_refuses_instead_of_looping():
    with pytest.raises(ValueError):
        calendar(work_days=frozenset()).add_minutes(local(2026, 3, 2, 9, 0), 60)


# --- business hours in the sweep --------------------------------------------------------


def test_a_friday_afternoon_handoff_is_overdue_on_wednesday_afternoon(
    clock, business_hours, make_lead
):
    friday = clock.at(local(2026, 3, 6, 16, 0))
    lead = make_lead(Stage.HANDED_OFF)
    assert lead.response_due_at == local(2026, 3, 11, 16, 0)
    assert lead.contact_due_at == local(2026, 3, 16, 16, 0)  # 48 working hours
    # Day thresholds stay elapsed days (of 24 hours), not working time.
    assert lead.convert_due_at == friday.astimezone(dt.UTC) + 60 * D

    clock.at(local(2026, 3, 11, 16, 0) - SECOND)
    assert sweep_flags().total_raised == 0
    clock.at(local(2026, 3, 11, 16, 0))
    assert sweep_flags().raised[FlagKind.RESPONSE_OVERDUE] == 1


def test_a_handoff_on_saturday_starts_the_clock_on_monday_morning(
    clock, business_hours, make_lead
):
    clock.at(local(2026, 3, 7, 11, 0))
    lead = make_lead(Stage.HANDED_OFF)
    assert lead.response_due_at == local(2026, 3, 11, 17, 0)  # 24 h from Monday 9:00


def test_holidays_count_for_new_deadlines(clock, business_hours, make_lead):
    Holiday.objects.create(date=dt.date(2026, 3, 9), name="Company day")
    clock.at(local(2026, 3, 6, 16, 0))
    lead = make_lead(Stage.HANDED_OFF)
    assert lead.response_due_at == local(2026, 3, 12, 16, 0)


# --- per-campaign overrides -------------------------------------------------------------


def test_a_campaign_override_replaces_the_global_thresholds_for_its_leads_only(
    clock, make_lead, campaign, marketer
):
    SLAPolicy.objects.create(
        campaign=campaign, response_minutes=4 * 60, first_contact_minutes=8 * 60
    )
    fast = make_lead(Stage.HANDED_OFF)
    other = factories.CampaignFactory(owner=marketer)
    make_lead.campaign = other
    slow = make_lead(Stage.HANDED_OFF)
    assert fast.response_due_at == clock.now + 4 * H
    assert fast.contact_due_at == clock.now + 8 * H
    assert slow.response_due_at == clock.now + 24 * H

    clock.at(clock.now + 5 * H)
    sweep_flags()
    assert Flag.objects.filter(lead=fast, kind=FlagKind.RESPONSE_OVERDUE).exists()
    assert not Flag.objects.filter(lead=slow).exists()


# --- recomputing stored deadlines -------------------------------------------------------


def python_deadlines(lead):
    """What refresh_deadlines says the lead's deadlines should be under today's policy."""
    copy = Lead.objects.get(pk=lead.pk)
    refresh_deadlines(copy, SLA())
    return [getattr(copy, name) for name in DEADLINE_FIELDS]


def stored_deadlines(lead):
    return [getattr(lead, name) for name in DEADLINE_FIELDS]


def assert_all_deadlines_match_refresh_deadlines():
    leads = list(Lead.objects.all())
    assert leads
    mismatches = [lead.pk for lead in leads if stored_deadlines(lead) != python_deadlines(lead)]
    assert mismatches == []


def change_policy(manager, capture, **changes):
    policy = SLAPolicy.objects.get(is_global=True)
    data = {
        name: getattr(policy, name)
        for name in sla_services.THRESHOLD_FIELDS + sla_services.CALENDAR_FIELDS
    }
    data.update(changes)
    with capture(execute=True):
        return sla_services.sla_policy_update(by=manager, data=data)


def test_changing_the_global_policy_recomputes_stored_deadlines_set_based(
    manager, django_capture_on_commit_callbacks
):
    Seeder(leads=400, seed=5).run()
    campaigns = list(Campaign.objects.order_by("pk")[:2])
    SLAPolicy.objects.create(
        campaign=campaigns[0], response_minutes=2 * 60, stalled_minutes=3 * 1440
    )
    SLAPolicy.objects.create(
        campaign=campaigns[1], unconverted_minutes=10 * 1440, mql_waiting_minutes=60
    )

    _policy, job = change_policy(
        manager,
        django_capture_on_commit_callbacks,
        response_minutes=12 * 60,
        first_contact_minutes=30 * 60,
        rejection_unactioned_minutes=5 * 60,
        follow_up_grace_minutes=60,
        stalled_minutes=7 * 1440,
        unconverted_minutes=30 * 1440,
        mql_waiting_minutes=6 * 60,
        triage_web_form_minutes=90,
        triage_event_minutes=1440,
    )
    job.refresh_from_db()
    assert job.finished_at is not None
    assert job.done == job.total > 0
    assert_all_deadlines_match_refresh_deadlines()


def test_turning_business_hours_on_recomputes_deadlines_in_python_batches(
    manager, django_capture_on_commit_callbacks
):
    Seeder(leads=150, seed=6).run()
    Holiday.objects.create(date=dt.date.today() - dt.timedelta(days=3))
    _policy, job = change_policy(
        manager,
        django_capture_on_commit_callbacks,
        business_hours_enabled=True,
        work_days="0,1,2,3,4",
        work_start=dt.time(8, 30),
        work_end=dt.time(17, 30),
        time_zone="Europe/London",
    )
    job.refresh_from_db()
    assert job.finished_at is not None
    assert_all_deadlines_match_refresh_deadlines()


def test_the_recompute_works_in_batches_and_reports_progress(manager):
    Seeder(leads=120, seed=7).run()
    SLAPolicy.objects.filter(is_global=True).update(response_minutes=60)
    job = DeadlineRecompute.objects.create(requested_by=manager)
    deadlines_recompute(job.pk, sql_batch=10, python_batch=7)
    job.refresh_from_db()
    assert job.total == Lead.objects.filter(stage__in=DEADLINE_STAGES).count()
    assert job.done == job.total
    assert_all_deadlines_match_refresh_deadlines()


def test_the_python_recompute_works_in_batches(manager, business_hours):
    Seeder(leads=120, seed=8).run()
    business_hours.set(work_start=dt.time(10, 0))
    job = DeadlineRecompute.objects.create(requested_by=manager)
    deadlines_recompute(job.pk, python_batch=7)
    job.refresh_from_db()
    assert job.finished_at is not None
    assert_all_deadlines_match_refresh_deadlines()


def test_a_recompute_touches_updated_at_so_the_incremental_sweep_follows(
    clock, make_lead, manager, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.MQL)
    clock.at(clock.now + 10 * H)
    sweep_flags()  # nothing due yet; the watermark
    clock.at(clock.now + 30 * 60 * SECOND)
    change_policy(manager, django_capture_on_commit_callbacks, mql_waiting_minutes=8 * 60)
    # The recompute task enqueued a sweep: the lead is overdue under the new policy.
    flag = Flag.objects.get(lead=lead, kind=FlagKind.MQL_WAITING)
    assert flag.due_at == lead.mql_at + 8 * H
    lead.refresh_from_db()
    assert lead.updated_at == clock.now


def test_a_newer_request_supersedes_an_unfinished_one(manager, campaign):
    older = DeadlineRecompute.objects.create(requested_by=manager)
    scoped = DeadlineRecompute.objects.create(requested_by=manager, campaign=campaign)
    newer = sla_services.deadline_recompute_request(by=manager)
    older.refresh_from_db()
    scoped.refresh_from_db()
    assert older.superseded and older.finished_at is not None
    assert scoped.superseded
    assert deadlines_recompute(older.pk).done == 0  # a superseded job does nothing
    assert not newer.superseded


def test_a_campaign_override_change_recomputes_only_that_campaigns_leads(
    clock, make_lead, campaign, marketer, manager, django_capture_on_commit_callbacks
):
    mine = make_lead(Stage.MQL)
    make_lead.campaign = factories.CampaignFactory(owner=marketer)
    theirs = make_lead(Stage.MQL)
    data = {
        name: getattr(SLAPolicy.objects.get(is_global=True), name)
        for name in sla_services.THRESHOLD_FIELDS
    }
    with django_capture_on_commit_callbacks(execute=True):
        _override, job = sla_services.sla_override_save(
            by=manager, campaign=campaign, data={**data, "mql_waiting_minutes": 2 * 60}
        )
    job.refresh_from_db()
    assert job.campaign == campaign
    assert job.total == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.mql_due_at == mine.mql_at + 2 * H
    assert theirs.mql_due_at == theirs.mql_at + 24 * H

    with django_capture_on_commit_callbacks(execute=True):
        sla_services.sla_override_delete(by=manager, campaign=campaign)
    mine.refresh_from_db()
    assert mine.mql_due_at == mine.mql_at + 24 * H


def test_holidays_only_trigger_a_recompute_under_business_hours(manager, policy):
    holiday, job = sla_services.holiday_add(by=manager, date=dt.date(2026, 12, 24))
    assert job is None
    policy.set(business_hours_enabled=True)
    _holiday, job = sla_services.holiday_add(by=manager, date=dt.date(2026, 12, 25))
    assert job is not None
    assert sla_services.holiday_delete(by=manager, holiday=holiday) is not None


def test_only_managers_may_change_the_policy(marketer, rep):
    from leadflow.errors import ActionForbidden

    for user in (marketer, rep):
        with pytest.raises(ActionForbidden):
            sla_services.holiday_add(by=user, date=dt.date(2026, 12, 24))
        with pytest.raises(ActionForbidden):
            sla_services.sla_policy_update(by=user, data={})
