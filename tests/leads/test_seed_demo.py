import datetime as dt
import itertools
import statistics
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign, Channel
from leads.demo.seeder import Seeder, reset_demo_data
from leads.models import (
    CLOSED_STAGES,
    FLAG_DEADLINE,
    SALES_STAGES,
    Flag,
    FlagKind,
    Lead,
    Stage,
    side_of,
)
from leads.reporting import definitions
from leads.sla.calendar import DEADLINE_FIELDS, SLA, refresh_deadlines
from sales.models import Activity
from sales.services import _derive_contact

CONTACT_SUMMARY = (
    "first_contact_at",
    "first_connect_at",
    "last_contact_at",
    "last_activity_at",
    "attempts_before_connect",
)
HAND_RAISERS = ("phone_call", "information_request", "web_form", "email")

AFTER_HANDOFF = {*SALES_STAGES, Stage.WON, Stage.LOST, Stage.REJECTED}


def problems_of(lead, now):
    """Every way a lead's timestamps disagree with its stage or with each other."""
    out = []
    stamps = [
        lead.created_at,
        lead.mql_at,
        lead.handed_off_at,
        lead.last_handed_off_at,
        lead.accepted_at,
        lead.rejected_at,
        lead.first_contact_at,
        lead.opportunity_at,
        lead.closed_at,
    ]
    if any(s is not None and s > now for s in stamps):
        out.append("timestamp in the future")
    if any(s is not None and s < lead.created_at for s in stamps):
        out.append("timestamp before creation")
    if lead.owner_side != side_of(lead.stage):
        out.append("owner_side does not match stage")
    if lead.stage in SALES_STAGES and lead.stage != Stage.HANDED_OFF and lead.owner_id is None:
        out.append("working sales stage without owner")
    if lead.stage not in SALES_STAGES + CLOSED_STAGES and lead.owner_id is not None:
        out.append("marketing stage with a rep as owner")
    if lead.origin == "marketing" and lead.stage in AFTER_HANDOFF and not lead.handed_off_at:
        out.append("with sales but never handed off")
    if lead.handed_off_at and lead.last_handed_off_at < lead.handed_off_at:
        out.append("last handoff before first")
    if lead.mql_at and lead.handed_off_at and lead.handed_off_at < lead.mql_at:
        out.append("handed off before mql")
    accepted_stages = (Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY, Stage.WON)
    if lead.stage in accepted_stages and not lead.accepted_at:
        out.append("accepted stage without accepted_at")
    if lead.stage in (Stage.CONTACTED, Stage.OPPORTUNITY, Stage.WON) and not lead.first_contact_at:
        out.append("contacted without first_contact_at")
    if lead.first_contact_at and lead.handed_off_at and lead.first_contact_at < lead.handed_off_at:
        out.append("contact before handoff")
    if lead.stage in (Stage.OPPORTUNITY, Stage.WON) and not lead.opportunity_at:
        out.append("opportunity without opportunity_at")
    if lead.stage == Stage.WON and not (lead.deal_value and lead.deal_value > 0):
        out.append("won without value")
    if lead.stage == Stage.LOST and not lead.lost_reason:
        out.append("lost without reason")
    if lead.stage in CLOSED_STAGES:
        if not lead.closed_at or any(s and s > lead.closed_at for s in stamps):
            out.append("closed_at missing or not last")
    elif lead.closed_at:
        out.append("open lead with closed_at")
    if lead.stage == Stage.REJECTED and not (lead.rejected_at and lead.rejection_reason):
        out.append("rejected without rejected_at/reason")
    if lead.stage == Stage.MQL and not lead.mql_at:
        out.append("mql without mql_at")
    changes = list(lead.stage_changes.all())
    if not changes or changes[-1].to_stage != lead.stage:
        out.append("stage log does not end at the stage")
    for before, after in zip(changes, changes[1:], strict=False):
        if after.from_stage != before.to_stage or after.at < before.at:
            out.append("stage log is not a chain in time order")
            break
    stored = [getattr(lead, f) for f in DEADLINE_FIELDS]
    refresh_deadlines(lead)
    if stored != [getattr(lead, f) for f in DEADLINE_FIELDS]:
        out.append("stored deadlines differ from refresh_deadlines")
    grace = dt.timedelta(minutes=SLA().global_policy.late_grace_minutes)
    for activity in lead.activities.all():
        if activity.occurred_at > now or activity.occurred_at < lead.created_at:
            out.append("activity outside the lead's life")
        if not activity.occurred_at <= activity.logged_at <= now:
            out.append("activity logged before it happened or in the future")
        if activity.logged_late != Activity.is_late(
            occurred_at=activity.occurred_at, logged_at=activity.logged_at, grace=grace
        ):
            out.append("logged_late disagrees with the policy's grace")
        if lead.closed_at and activity.logged_at > lead.closed_at:
            out.append("activity logged after the lead closed")
        if lead.handed_off_at and activity.occurred_at < lead.handed_off_at:
            out.append("activity before the lead reached sales")
    # The contact summary activity_log would derive: each activity at its counts_at.
    derived = Lead(pk=lead.pk)
    _derive_contact(derived)
    if [getattr(lead, f) for f in CONTACT_SUMMARY] != [
        getattr(derived, f) for f in CONTACT_SUMMARY
    ]:
        out.append("contact summary differs from what activity_log derives")
    contacted = next((c for c in changes if c.to_stage == Stage.CONTACTED), None)
    if contacted and contacted.at != lead.first_contact_at:
        out.append("contacted before or after the first attempt counts")
    return out


@pytest.fixture
def seeded(db, settings):
    settings.DEBUG = True  # pytest-django runs with DEBUG off; seed_demo refuses that
    out = StringIO()
    call_command("seed_demo", leads=600, seed=7, stdout=out)
    return out.getvalue()


def test_seed_prints_the_password_and_users_can_log_in(seeded):
    assert "password: demo" in seeded
    for username in ("marketer", "rep1", "rep2", "rep3", "manager"):
        assert authenticate(username=username, password="demo") is not None


def test_seeded_leads_have_consistent_timestamps(seeded):
    now = timezone.now()
    bad = {}
    for lead in Lead.objects.prefetch_related("stage_changes", "activities"):
        found = problems_of(lead, now)
        if found:
            bad[lead.pk] = found
    assert bad == {}


def test_seed_covers_every_stage_and_flag_kind_and_rework(seeded):
    stages = set(Lead.objects.values_list("stage", flat=True))
    assert stages == set(Stage.values)
    # Every kind but the escalation ladder's reassign, which the default policy has off.
    assert set(Flag.objects.values_list("kind", flat=True)) == set(FLAG_DEADLINE) - {
        FlagKind.RESPONSE_REASSIGNED
    }
    assert Flag.objects.filter(resolved_at__isnull=False).exists()
    assert Lead.objects.filter(handoffs__outcome="rejected", stage=Stage.WON).exists() or (
        Lead.objects.filter(
            stage_changes__from_stage="rejected", stage_changes__to_stage="handed_off"
        )
        .distinct()
        .exists()
    )


def test_open_flags_match_passed_deadlines(seeded):
    now = timezone.now()
    for flag in Flag.objects.open().select_related("lead"):
        due = getattr(flag.lead, FLAG_DEADLINE[flag.kind])
        assert due is not None and due <= now, flag


def test_every_paid_campaign_has_monthly_spend_entries_over_its_life(seeded):
    today = timezone.localdate()
    for campaign in Campaign.objects.prefetch_related("spend_entries"):
        entries = sorted(campaign.spend_entries.all(), key=lambda e: e.start)
        if campaign.channel == Channel.OTHER:
            assert entries == []  # the untracked phone line costs nothing
            continue
        last = min(campaign.end_date or today, today)
        # Month after month without gaps, from the campaign's start to its end (or today).
        assert entries[0].start == campaign.start_date and entries[-1].end == last
        for before, after in itertools.pairwise(entries):
            assert after.start == before.end + dt.timedelta(days=1)
            assert after.start.day == 1 and before.start.month != after.start.month
        assert all(e.amount > 0 for e in entries)
        assert 0.3 * float(campaign.budget) < float(sum(e.amount for e in entries))
    events = Campaign.objects.filter(channel=Channel.EVENTS).first()
    monthly = list(events.spend_entries.order_by("start").values_list("amount", flat=True))
    assert len(monthly) < 2 or monthly[0] > 2 * max(monthly[1:])  # the event itself


def test_same_seed_gives_same_data(db):
    now = timezone.now() - dt.timedelta(days=3)

    def snapshot():
        return list(
            Lead.objects.order_by("id").values_list(
                "email", "stage", "created_at", "closed_at", "owner__username"
            )
        )

    Seeder(leads=150, seed=3, now=now).run()
    first = snapshot()
    reset_demo_data()
    Seeder(leads=150, seed=3, now=now).run()
    assert snapshot() == first
    reset_demo_data()
    Seeder(leads=150, seed=4, now=now).run()
    assert snapshot() != first


def test_seed_refuses_with_debug_off_and_on_a_full_database(seeded, settings):
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed_demo", leads=10, stdout=StringIO())
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", leads=10, reset=True, stdout=StringIO())


def test_some_contacts_are_logged_late_and_count_when_they_were_logged(seeded):
    grace = dt.timedelta(minutes=SLA().global_policy.late_grace_minutes)
    late = list(Activity.objects.filter(logged_late=True).select_related("lead"))
    assert late
    assert all(a.logged_at - a.occurred_at > grace and a.counts_at == a.logged_at for a in late)
    # Some lead's first attempt counts at its late logging, not when the rep says it was.
    assert any(a.lead.first_contact_at == a.logged_at for a in late)
    assert not Activity.objects.filter(logged_late=False, logged_at__gt=F("occurred_at") + grace)


def test_several_attempts_before_a_connect_and_some_leads_never_reached(seeded):
    reached = Lead.objects.exclude(first_connect_at=None)
    assert reached.filter(attempts_before_connect=0).exists()
    assert reached.filter(attempts_before_connect__gte=3).count() > reached.count() / 10
    assert Lead.objects.filter(first_connect_at=None).exclude(first_contact_at=None).exists()


def test_some_unreachable_leads_are_the_markets_and_some_dropped_by_sales(seeded):
    attempts = SLA().global_policy.unreached_attempts
    lost_unreached = Lead.objects.filter(definitions.LOST_UNREACHED, lost_reason="unresponsive")
    # Only handed-off leads have a ball to drop: a sales-generated lead never was.
    given_up = lost_unreached.filter(attempts_before_connect__in=(1, 2)).exclude(
        handed_off_at=None
    )
    assert lost_unreached.filter(attempts_before_connect__gte=attempts).exists()
    assert given_up.exists()
    leads = definitions.with_sales_delay(Lead.objects.all())
    market = leads.filter(definitions.dropped_q("market", attempts))
    sales = leads.filter(definitions.dropped_q("sales", attempts))
    assert market.filter(attempts_before_connect__gte=attempts, first_connect_at=None).exists()
    assert set(given_up.filter(rejected_at=None).values_list("pk", flat=True)) <= set(
        sales.values_list("pk", flat=True)
    )


@pytest.fixture
def bigger_demo(db):
    Seeder(leads=2000, seed=16, now=timezone.now()).run()


def _minutes(delta):
    return delta.total_seconds() / 60


def test_hand_raisers_are_first_called_within_hours_and_events_later(bigger_demo):
    reached = Lead.objects.filter(origin="marketing").exclude(first_contact_at=None)
    hand = [
        _minutes(first - created)
        for first, created in reached.filter(inquiry_type__in=HAND_RAISERS).values_list(
            "first_contact_at", "created_at"
        )
    ]
    slower = [
        _minutes(first - created)
        for first, created in reached.exclude(inquiry_type__in=HAND_RAISERS).values_list(
            "first_contact_at", "created_at"
        )
    ]
    assert statistics.median(hand) < 5 * 60
    assert statistics.median(slower) > 3 * statistics.median(hand)
    # Most hand-raisers are triaged within the hour.
    triaged = [
        _minutes(mql - created)
        for mql, created in Lead.objects.filter(inquiry_type__in=HAND_RAISERS)
        .exclude(mql_at=None)
        .values_list("mql_at", "created_at")
    ]
    assert statistics.median(triaged) < 60


def test_one_rep_is_much_slower_and_breaches_more_sales_deadlines(bigger_demo):
    per_rep = {}
    rows = Lead.objects.exclude(last_handed_off_at=None).exclude(first_contact_at=None)
    for rep, first, handed in rows.values_list(
        "owner__username", "first_contact_at", "last_handed_off_at"
    ):
        per_rep.setdefault(rep, []).append(_minutes(first - handed))
    medians = sorted(statistics.median(v) for v in per_rep.values())
    assert len(medians) == 3
    assert medians[-1] > 24 * 60 and medians[-1] > 10 * medians[-2]
    assert medians[0] < 60  # the fastest rep calls within the hour
    slowest = max(per_rep, key=lambda rep: statistics.median(per_rep[rep]))
    delays = Flag.objects.filter(kind__in=definitions.SALES_DELAY_FLAGS)
    breaches = {rep: delays.filter(responsible__username=rep).count() for rep in per_rep}
    assert breaches[slowest] > 2 * max(n for rep, n in breaches.items() if rep != slowest)
    # The slow rep also logs late more often.
    late_share = {
        rep: Activity.objects.filter(user__username=rep, logged_late=True).count()
        / Activity.objects.filter(user__username=rep).count()
        for rep in per_rep
    }
    assert late_share[slowest] == max(late_share.values())
