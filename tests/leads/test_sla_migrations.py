"""The migrations of issue 16: policies in hours and days become the same durations in
minutes (and back), and leads already at `new` get their triage deadline through a
deadline recompute that the job watchdog starts."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from leads.models import DeadlineRecompute, Lead, SLAPolicy
from leads.sla.calendar import deadlines_recompute

BEFORE = ("leads", "0013_consent_per_touch")
MINUTES = ("leads", "0014_sla_thresholds_in_minutes")
TRIAGE = ("leads", "0015_lead_triage_deadline")
SALES_BEFORE = ("sales", "0003_handoff_rejected_at_response_note")
# Campaigns before issue 19's spend entries: the historical Campaign of BEFORE still has
# its spend column, so the table must have it too.
CAMPAIGNS_BEFORE = ("campaigns", "0003_merge_auto_response_and_routing")

OLD_VALUES = {
    "mql_waiting_hours": 6,
    "rejection_unactioned_hours": 72,
    "response_hours": 3,
    "first_contact_hours": 30,
    "follow_up_grace_hours": 1,
    "stalled_days": 10,
    "unconverted_days": 45,
}
NEW_VALUES = {
    "mql_waiting_minutes": 6 * 60,
    "rejection_unactioned_minutes": 72 * 60,
    "response_minutes": 3 * 60,
    "first_contact_minutes": 30 * 60,
    "follow_up_grace_minutes": 60,
    "stalled_minutes": 10 * 1440,
    "unconverted_minutes": 45 * 1440,
}


def migrate(*targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(targets))
    return executor.loader.project_state(list(targets)).apps


def migrate_to_latest():
    migrate(*MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.fixture
def at_0013(transactional_db):
    apps = migrate(BEFORE, SALES_BEFORE, CAMPAIGNS_BEFORE)
    yield apps
    migrate_to_latest()


def test_hours_and_days_become_the_same_minutes_and_back(at_0013):
    Policy = at_0013.get_model("leads", "SLAPolicy")
    Campaign = at_0013.get_model("campaigns", "Campaign")
    Policy.objects.filter(is_global=True).delete()
    Policy.objects.create(is_global=True, **OLD_VALUES)
    campaign = Campaign.objects.create(
        name="Fair", channel="events", start_date="2026-01-01", intake_key="k" * 40
    )
    Policy.objects.create(campaign_id=campaign.pk, response_hours=2, stalled_days=1)
    at_0013.get_model("leads", "StatsState").objects.create(sla_hours=48)

    apps = migrate(MINUTES)
    Policy = apps.get_model("leads", "SLAPolicy")
    glob = Policy.objects.get(is_global=True)
    assert {name: getattr(glob, name) for name in NEW_VALUES} == NEW_VALUES
    override = Policy.objects.get(campaign_id=campaign.pk)
    assert (override.response_minutes, override.stalled_minutes) == (120, 1440)
    assert override.first_contact_minutes == 48 * 60  # the old default, converted
    # The triage thresholds start at their defaults.
    assert (glob.triage_web_form_minutes, glob.triage_event_minutes) == (60, 3 * 1440)
    assert apps.get_model("leads", "StatsState").objects.get().sla_minutes == 48 * 60

    apps = migrate(BEFORE, SALES_BEFORE, CAMPAIGNS_BEFORE)
    glob = apps.get_model("leads", "SLAPolicy").objects.get(is_global=True)
    assert {name: getattr(glob, name) for name in OLD_VALUES} == OLD_VALUES


def test_leads_already_at_new_get_their_triage_deadline_after_the_migration(at_0013):
    Lead_ = at_0013.get_model("leads", "Lead")
    Lead_.objects.create(last_name="Early", email="early@example.com", stage="new")
    Lead_.objects.create(last_name="Later", email="later@example.com", stage="mql")
    migrate(TRIAGE)
    migrate_to_latest()
    # A recompute without a heartbeat: the job watchdog resumes it as stalled.
    job = DeadlineRecompute.objects.get(finished_at=None)
    assert job.heartbeat_at is None and job.campaign is None
    deadlines_recompute(job.pk)
    early = Lead.objects.get(last_name="Early")
    assert early.triage_due_at is not None
    web_form = SLAPolicy.objects.get(is_global=True).triage_web_form_minutes
    assert (early.triage_due_at - early.created_at).total_seconds() == web_form * 60
    assert Lead.objects.get(last_name="Later").triage_due_at is None


def test_earlier_handoffs_take_the_thresholds_of_their_policy_as_their_contract(at_0013):
    Policy = at_0013.get_model("leads", "SLAPolicy")
    Campaign = at_0013.get_model("campaigns", "Campaign")
    Lead_ = at_0013.get_model("leads", "Lead")
    Handoff_ = at_0013.get_model("sales", "Handoff")
    Policy.objects.filter(is_global=True).delete()
    Policy.objects.create(is_global=True, response_hours=12, first_contact_hours=30)
    fair = Campaign.objects.create(
        name="Fair", channel="events", start_date="2026-01-01", intake_key="f" * 40
    )
    Policy.objects.create(campaign_id=fair.pk, response_hours=2, first_contact_hours=4)
    at = "2026-03-02T09:00:00Z"
    plain = Lead_.objects.create(
        last_name="Plain", stage="handed_off", handed_off_at=at, last_handed_off_at=at
    )
    special = Lead_.objects.create(
        last_name="Special",
        campaign_id=fair.pk,
        stage="handed_off",
        handed_off_at=at,
        last_handed_off_at=at,
    )
    untouched = Lead_.objects.create(last_name="Mql", stage="mql")
    for lead in (plain, special):
        Handoff_.objects.create(lead_id=lead.pk, handed_at=at)

    migrate_to_latest()
    plain, special, untouched = (
        Lead.objects.get(pk=lead.pk) for lead in (plain, special, untouched)
    )
    assert (plain.sla_response_minutes, plain.sla_contact_minutes) == (720, 1800)
    assert plain.first_sla_contact_minutes == 1800
    assert plain.sla_terms_at == plain.last_handed_off_at
    assert (special.sla_response_minutes, special.sla_contact_minutes) == (120, 240)
    assert untouched.sla_terms_at is None and untouched.sla_response_minutes is None
    from sales.models import Handoff

    assert Handoff.objects.get(lead=plain).response_minutes == 720
    assert Handoff.objects.get(lead=special).first_contact_minutes == 240
