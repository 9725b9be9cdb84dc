"""The new_untriaged flag (issue 16, SPEC §4): a lead still at `new` past the triage
threshold of its inquiry type (60 minutes for hand-raisers, 3 days for events and other)
is flagged for its campaign's owner, following business hours, per-campaign overrides
and policy changes; it resolves once marketing qualifies, nurtures, disqualifies or hands
the lead off."""

import datetime as dt

import pytest
from django.core import mail

from leadflow.models import Notification, NotificationKind
from leadflow.names import person
from leads import services as marketing
from leads.models import Flag, FlagKind, InquiryType, SLAPolicy
from leads.sla import services as sla_services
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import drain_flag_outbox

from .conftest import SECOND, T0, D, H
from .test_sla import assert_all_deadlines_match_refresh_deadlines, change_policy, local
from .test_sweep import assert_raised_exactly_at, open_flag

pytestmark = pytest.mark.django_db

MINUTE = dt.timedelta(minutes=1)
HAND_RAISERS = (
    InquiryType.PHONE_CALL,
    InquiryType.INFORMATION_REQUEST,
    InquiryType.EMAIL,
    InquiryType.WEB_FORM,
)


@pytest.fixture
def new_lead(marketer, campaign):
    """new_lead(inquiry_type) -> a lead at `new` logged now through the intake service."""
    counter = iter(range(1, 10_000))

    def make(inquiry_type=InquiryType.WEB_FORM, campaign=campaign):
        n = next(counter)
        data = {"first_name": "Grace", "last_name": f"Hopper{n}", "email": f"g{n}@example.com"}
        return marketing.lead_intake(
            by=marketer, data=data, campaign=campaign, inquiry_type=inquiry_type
        ).lead

    return make


def test_a_web_form_lead_untouched_for_an_hour_is_flagged_for_the_campaign_owner(
    sweep, clock, new_lead, marketer
):
    lead = new_lead(InquiryType.WEB_FORM)
    assert lead.triage_due_at == T0 + 60 * MINUTE
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.NEW_UNTRIAGED, T0 + 60 * MINUTE)
    assert flag.side == "marketing"
    assert flag.responsible == marketer  # the campaign's owner

    # Notified like every flag: once, by email and in the app, to the campaign owner.
    result = drain_flag_outbox()
    assert (result.notified, result.emails) == (1, 1)
    [email] = mail.outbox
    assert email.to == [marketer.email]
    assert "New lead not triaged" in email.subject
    [note] = Notification.objects.filter(kind=NotificationKind.FLAG_RAISED)
    assert (note.user, note.lead) == (marketer, lead)
    assert drain_flag_outbox().claimed == 0


def test_an_event_lead_is_not_flagged_until_three_days(sweep, clock, new_lead):
    lead = new_lead(InquiryType.EVENT)
    clock.at(T0 + 2 * H)
    sweep()
    assert open_flag(lead, FlagKind.NEW_UNTRIAGED) is None
    assert_raised_exactly_at(sweep, clock, lead, FlagKind.NEW_UNTRIAGED, T0 + 3 * D)


@pytest.mark.parametrize("kind", list(InquiryType))
def test_each_inquiry_type_has_its_default_triage_threshold(clock, new_lead, kind):
    lead = new_lead(kind)
    expected = 60 * MINUTE if kind in HAND_RAISERS else 3 * D
    assert lead.triage_due_at == T0 + expected


def test_the_triage_clock_follows_business_hours(clock, business_hours, new_lead):
    # Friday 16:30 in Amsterdam: 30 working minutes on Friday, the other 30 on Monday.
    clock.at(local(2026, 3, 6, 16, 30))
    lead = new_lead(InquiryType.PHONE_CALL)
    assert lead.triage_due_at == local(2026, 3, 9, 9, 30)
    clock.at(local(2026, 3, 7, 12, 0))  # Saturday: calendar time would be long past
    assert sweep_flags().raised[FlagKind.NEW_UNTRIAGED] == 0
    clock.at(local(2026, 3, 9, 9, 30) - SECOND)
    assert sweep_flags().raised[FlagKind.NEW_UNTRIAGED] == 0
    clock.at(local(2026, 3, 9, 9, 30))
    assert sweep_flags().raised[FlagKind.NEW_UNTRIAGED] == 1


@pytest.mark.parametrize("event", ["qualify", "nurture", "disqualify", "hand_off"])
def test_new_untriaged_is_resolved_when_marketing_acts(
    sweep, clock, new_lead, marketer, rep, event
):
    lead = new_lead()
    clock.at(T0 + 2 * H)
    sweep()
    assert open_flag(lead, FlagKind.NEW_UNTRIAGED) is not None
    clock.at(T0 + 3 * H)
    if event == "nurture":
        marketing.lead_nurture(lead=lead, by=marketer)
    elif event == "disqualify":
        marketing.lead_disqualify(lead=lead, by=marketer, reason="spam")
    else:
        lead = marketing.lead_qualify(lead=lead, by=marketer)
        if event == "hand_off":
            marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    result = sweep()
    assert result.resolved[FlagKind.NEW_UNTRIAGED] == 1
    [flag] = Flag.objects.filter(lead=lead, kind=FlagKind.NEW_UNTRIAGED)
    assert flag.resolved_at == T0 + 3 * H  # kept, as history
    lead.refresh_from_db()
    assert lead.triage_due_at is None


def test_a_campaign_override_sets_its_own_triage_threshold(
    sweep, clock, new_lead, campaign, marketer
):
    from tests import factories

    SLAPolicy.objects.create(campaign=campaign, triage_web_form_minutes=15)
    fast = new_lead(InquiryType.WEB_FORM)
    slow = new_lead(InquiryType.WEB_FORM, campaign=factories.CampaignFactory(owner=marketer))
    assert fast.triage_due_at == T0 + 15 * MINUTE
    assert slow.triage_due_at == T0 + 60 * MINUTE
    clock.at(T0 + 20 * MINUTE)
    sweep()
    assert open_flag(fast, FlagKind.NEW_UNTRIAGED) is not None
    assert open_flag(slow, FlagKind.NEW_UNTRIAGED) is None


@pytest.mark.parametrize("business_hours_on", [False, True])
def test_changing_a_triage_threshold_recomputes_the_deadlines_of_new_leads(
    clock, new_lead, manager, policy, django_capture_on_commit_callbacks, business_hours_on
):
    if business_hours_on:  # the recompute's Python batches instead of its SQL UPDATEs
        policy.set(business_hours_enabled=True, time_zone="Europe/Amsterdam")
    web = new_lead(InquiryType.WEB_FORM)
    event = new_lead(InquiryType.EVENT)
    before = event.triage_due_at
    _policy, job = change_policy(
        manager, django_capture_on_commit_callbacks, triage_web_form_minutes=4 * 60
    )
    job.refresh_from_db()
    assert job.finished_at is not None and job.total == 2
    web.refresh_from_db()
    event.refresh_from_db()
    # T0 is Monday 10:00 in Amsterdam: four working hours end at 14:00 either way.
    assert web.triage_due_at == T0 + 4 * H
    assert event.triage_due_at == before
    assert_all_deadlines_match_refresh_deadlines()
    # The recompute bumps updated_at, so the sweep picks the new deadline up.
    clock.at(T0 + 4 * H)
    assert sweep_flags().raised[FlagKind.NEW_UNTRIAGED] == 1


def test_an_override_change_recomputes_the_triage_deadlines_of_that_campaign(
    clock, new_lead, manager, campaign, django_capture_on_commit_callbacks
):
    lead = new_lead(InquiryType.EMAIL)
    data = {
        name: getattr(SLAPolicy.objects.get(is_global=True), name)
        for name in sla_services.THRESHOLD_FIELDS
    }
    with django_capture_on_commit_callbacks(execute=True):
        sla_services.sla_override_save(
            by=manager, campaign=campaign, data={**data, "triage_email_minutes": 10}
        )
    lead.refresh_from_db()
    assert lead.triage_due_at == T0 + 10 * MINUTE


def test_the_managers_digest_counts_untriaged_leads_on_marketings_side(clock, new_lead, marketer):
    from leads.sweep.digest import build_flag_digest

    new_lead(InquiryType.PHONE_CALL)
    clock.at(T0 + 2 * H)
    sweep_flags()
    digest = build_flag_digest()
    assert digest.raised_by_side == [("Marketing", [(person(marketer), 1)], 1)]
    [flag] = digest.oldest_open
    assert flag.kind == FlagKind.NEW_UNTRIAGED
