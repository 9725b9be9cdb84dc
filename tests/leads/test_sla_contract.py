"""The SLA as a contract at handoff time (issue 16, item 5; SPEC §4): each handoff stores
the response and first-contact thresholds in force when it was made, and its flags and
the contact-in-SLA rate are judged by them; a later policy change applies to later
handoffs, while the deadlines of open leads are still recomputed (business hours)."""

import datetime as dt

import pytest

from leads import services as marketing
from leads.models import FlagKind, Stage
from leads.reporting import stats
from leads.reporting.definitions import Filters
from leads.sweep.flags import sweep_flags
from sales import services as sales
from sales.models import Handoff, HandoffKind
from tests import factories, reference

from .conftest import T0, D, H
from .test_sla import change_policy
from .test_sweep import open_flag

pytestmark = pytest.mark.django_db


def terms(handoff):
    return (handoff.response_minutes, handoff.first_contact_minutes)


def test_a_handoff_keeps_its_thresholds_when_the_policy_changes_later(
    clock, make_lead, manager, django_capture_on_commit_callbacks
):
    early = make_lead(Stage.HANDED_OFF)
    assert terms(Handoff.objects.get(lead=early)) == (24 * 60, 48 * 60)

    clock.at(T0 + H)
    _policy, job = change_policy(
        manager,
        django_capture_on_commit_callbacks,
        response_minutes=2 * 60,
        first_contact_minutes=4 * 60,
    )
    job.refresh_from_db()
    assert job.finished_at is not None  # the recompute ran over the open leads
    early.refresh_from_db()
    assert early.response_due_at == T0 + 24 * H  # the contract of its handoff
    assert early.contact_due_at == T0 + 48 * H

    late = make_lead(Stage.HANDED_OFF)  # handed off now, under the new policy
    assert terms(Handoff.objects.get(lead=late)) == (2 * 60, 4 * 60)
    assert late.response_due_at == T0 + 3 * H

    clock.at(T0 + 5 * H)
    sweep_flags()
    assert open_flag(late, FlagKind.RESPONSE_OVERDUE) is not None
    assert open_flag(early, FlagKind.RESPONSE_OVERDUE) is None
    clock.at(T0 + 24 * H)
    sweep_flags()
    assert open_flag(early, FlagKind.RESPONSE_OVERDUE) is not None


def test_a_second_handoff_takes_the_policy_in_force_then(
    clock, make_lead, marketer, rep, manager, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.REJECTED)
    change_policy(manager, django_capture_on_commit_callbacks, first_contact_minutes=6 * 60)
    clock.at(T0 + D)
    marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    first, second = Handoff.objects.filter(lead=lead).order_by("handed_at", "id")
    assert terms(first) == (24 * 60, 48 * 60)
    assert terms(second) == (24 * 60, 6 * 60)
    lead.refresh_from_db()
    assert lead.contact_due_at == T0 + D + 6 * H
    # The contact-in-SLA rate judges the first handoff by its own threshold.
    assert lead.first_sla_contact_minutes == 48 * 60


def test_a_reassignment_starts_a_new_contract(
    clock, make_lead, manager, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.HANDED_OFF)
    change_policy(manager, django_capture_on_commit_callbacks, response_minutes=3 * 60)
    clock.at(T0 + 2 * H)
    other = factories.rep(username="rep2")
    sales.lead_reassign(lead=lead, by=manager, to_user=other)
    reassignment = Handoff.objects.get(lead=lead, kind=HandoffKind.REASSIGN)
    assert terms(reassignment) == (3 * 60, 48 * 60)
    lead.refresh_from_db()
    assert lead.response_due_at == T0 + 5 * H


def test_turning_business_hours_on_still_moves_contract_deadlines(
    clock, make_lead, manager, django_capture_on_commit_callbacks
):
    lead = make_lead(Stage.HANDED_OFF)  # Monday 10:00 in Amsterdam, 24 h contract
    change_policy(
        manager,
        django_capture_on_commit_callbacks,
        response_minutes=60,
        business_hours_enabled=True,
        work_days="0,1,2,3,4",
        work_start=dt.time(9, 0),
        work_end=dt.time(17, 0),
        time_zone="Europe/Amsterdam",
    )
    lead.refresh_from_db()
    # 24 working hours (the contract's, not the new hour) from Monday 10:00: Thursday 10:00.
    assert lead.response_due_at == T0 + 3 * D


def test_contact_in_sla_judges_each_lead_by_the_threshold_of_its_first_handoff(
    clock, make_lead, rep, manager, django_capture_on_commit_callbacks
):
    under_48 = make_lead(Stage.HANDED_OFF)
    change_policy(manager, django_capture_on_commit_callbacks, first_contact_minutes=24 * 60)
    under_24 = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 30 * H)
    for lead in (under_48, under_24):
        sales.activity_log(lead=lead, by=rep, kind="call", outcome="connected")
    filters = Filters.default()
    stats.refresh()
    numbers = stats.funnel(filters)
    # 30 h is within the first lead's 48 h but not the second's 24 h.
    assert numbers["handed_off"] == 2
    assert numbers["contact_in_sla_rate"] == 0.5
    assert reference.funnel(filters)["contact_in_sla_rate"] == 0.5
    assert stats.sales_scorecard(filters) == reference.sales_scorecard(filters)
