"""The sweep (SPEC §4): every flag kind is raised just past its threshold and not just
before, resolved by the right event, on the right side and with the right responsible
user; the sweep is idempotent, keeps history and issues a fixed number of statements.

Every test runs twice (the ``sweep`` fixture): as a full and as an incremental sweep."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadflow.errors import InvalidInput
from leads import services as marketing
from leads.models import Flag, FlagKind, Lead, Side, Stage, SweepRun
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import active_managers
from sales import services as sales

from .. import factories
from .conftest import SECOND, T0, D, H

pytestmark = pytest.mark.django_db


def open_flag(lead, kind):
    return Flag.objects.open().filter(lead=lead, kind=kind).first()


def flags_of(lead, kind):
    return list(Flag.objects.filter(lead=lead, kind=kind).order_by("raised_at", "id"))


def assert_raised_exactly_at(sweep, clock, lead, kind, due):
    """Not raised one second before ``due``; raised at ``due``."""
    clock.at(due - SECOND)
    sweep()
    assert open_flag(lead, kind) is None
    clock.at(due)
    result = sweep()
    flag = open_flag(lead, kind)
    assert flag is not None, f"{kind} not raised at its deadline ({sweep.mode} sweep)"
    assert result.raised[kind] == 1
    assert flag.raised_at == due
    assert flag.due_at == due
    assert flag.notified_at is None  # in the outbox
    return flag


# --- mql_waiting -----------------------------------------------------------------------


@pytest.mark.parametrize("event", ["hand_off", "nurture", "disqualify"])
def test_mql_waiting_raised_after_24h_for_the_campaign_owner_and_resolved_by_acting(
    sweep, clock, make_lead, marketer, rep, event
):
    lead = make_lead(Stage.MQL)
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.MQL_WAITING, T0 + 24 * H)
    assert flag.side == Side.MARKETING
    assert flag.responsible == marketer  # the campaign's owner

    clock.at(T0 + 30 * H)
    if event == "hand_off":
        marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    elif event == "nurture":
        marketing.lead_nurture(lead=lead, by=marketer)
    else:
        marketing.lead_disqualify(lead=lead, by=marketer, reason="spam")
    result = sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 30 * H
    assert result.resolved[FlagKind.MQL_WAITING] == 1


def test_mql_waiting_of_a_campaign_without_owner_goes_to_the_managers(
    sweep, clock, make_lead, campaign
):
    campaign.owner = None
    campaign.save()
    lead = make_lead(Stage.MQL)
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.MQL_WAITING, T0 + 24 * H)
    assert flag.responsible is None


# --- rejection_unactioned ------------------------------------------------------------


@pytest.mark.parametrize("event", ["recycle", "disqualify", "hand_off_again"])
def test_rejection_unactioned_raised_after_72h_and_resolved_when_marketing_acts(
    sweep, clock, make_lead, marketer, rep, event
):
    lead = make_lead(Stage.REJECTED)
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.REJECTION_UNACTIONED, T0 + 72 * H)
    assert flag.side == Side.MARKETING
    assert flag.responsible == marketer

    clock.at(T0 + 80 * H)
    if event == "recycle":
        marketing.lead_recycle(lead=lead, by=marketer)
    elif event == "disqualify":
        marketing.lead_disqualify(lead=lead, by=marketer, reason="not_a_fit")
    else:
        marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 80 * H


def test_a_pending_dispute_pauses_rejection_unactioned(sweep, clock, make_lead, marketer):
    lead = make_lead(Stage.REJECTED)
    clock.at(T0 + 10 * H)
    marketing.dispute_raise(lead=lead, by=marketer, comment="They asked for a demo.")
    clock.at(T0 + 100 * H)
    sweep()
    assert open_flag(lead, FlagKind.REJECTION_UNACTIONED) is None


# --- response_overdue ------------------------------------------------------------------


@pytest.mark.parametrize("event", ["accept", "reject"])
def test_response_overdue_raised_24h_after_handoff_for_the_rep_and_resolved_by_answering(
    sweep, clock, make_lead, rep, event
):
    lead = make_lead(Stage.HANDED_OFF)
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.RESPONSE_OVERDUE, T0 + 24 * H)
    assert flag.side == Side.SALES
    assert flag.responsible == rep

    clock.at(T0 + 26 * H)
    if event == "accept":
        sales.lead_accept(lead=lead, by=rep)
    else:
        sales.lead_reject(lead=lead, by=rep, reason="not_a_fit")
    sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 26 * H


def test_response_overdue_in_the_unassigned_queue_goes_to_managers_and_stays_theirs_on_claim(
    sweep, clock, make_lead, rep
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    assert lead.owner is None
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.RESPONSE_OVERDUE, T0 + 24 * H)
    assert flag.responsible is None  # the managers

    clock.at(T0 + 25 * H)
    sales.lead_claim(lead=lead, by=rep)
    result = sweep()
    flag.refresh_from_db()
    # The claim closes the queue's lapse on the managers' record; the rep starts afresh.
    assert (flag.resolved_at, flag.closed_as_breach, flag.responsible) == (T0 + 25 * H, True, None)
    assert result.repointed == 0
    assert open_flag(lead, FlagKind.RESPONSE_OVERDUE) is None


def test_reassigning_closes_the_previous_reps_open_sales_flags_as_breaches(
    sweep, clock, make_lead, rep, other_rep, manager
):
    lead = make_lead(Stage.ACCEPTED)
    clock.at(T0 + 15 * D)
    sweep()
    stalled = open_flag(lead, FlagKind.STALLED)
    assert stalled.responsible == rep
    clock.at(T0 + 15 * D + H)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    sweep()
    stalled.refresh_from_db()
    assert (stalled.resolved_at, stalled.closed_as_breach) == (T0 + 15 * D + H, True)
    assert stalled.responsible == rep
    assert not Flag.objects.open().filter(lead=lead).exists()  # the new rep starts afresh


# --- first_contact_overdue --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "email", "meeting"])
def test_first_contact_overdue_raised_48h_after_handoff_and_resolved_by_contact(
    sweep, clock, make_lead, rep, kind
):
    lead = make_lead(Stage.ACCEPTED)
    flag = assert_raised_exactly_at(
        sweep, clock, lead, FlagKind.FIRST_CONTACT_OVERDUE, T0 + 48 * H
    )
    assert flag.side == Side.SALES
    assert flag.responsible == rep

    clock.at(T0 + 50 * H)
    sales.activity_log(lead=lead, by=rep, kind=kind, outcome="")
    sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 50 * H


def test_a_note_is_not_contact_and_does_not_resolve_first_contact_overdue(
    sweep, clock, make_lead, rep
):
    lead = make_lead(Stage.ACCEPTED)
    clock.at(T0 + 49 * H)
    sweep()
    clock.at(T0 + 50 * H)
    sales.activity_log(lead=lead, by=rep, kind="note", notes="Tried to find the number.")
    sweep()
    assert open_flag(lead, FlagKind.FIRST_CONTACT_OVERDUE) is not None


def test_first_contact_overdue_resolved_when_the_lead_leaves_sales(sweep, clock, make_lead, rep):
    lead = make_lead(Stage.ACCEPTED)
    clock.at(T0 + 49 * H)
    sweep()
    clock.at(T0 + 50 * H)
    sales.lead_reject(lead=lead, by=rep, reason="bad_contact_data")
    sweep()
    assert open_flag(lead, FlagKind.FIRST_CONTACT_OVERDUE) is None
    assert flags_of(lead, FlagKind.FIRST_CONTACT_OVERDUE)[0].resolved_at == T0 + 50 * H


# --- follow_up_overdue ---------------------------------------------------------------------


def test_follow_up_overdue_raised_24h_after_the_planned_follow_up_and_resolved_by_activity(
    sweep, clock, make_lead, rep
):
    lead = make_lead(Stage.ACCEPTED)
    clock.at(T0 + H)
    sales.activity_log(lead=lead, by=rep, kind="call", next_follow_up_at=T0 + 3 * D)
    flag = assert_raised_exactly_at(
        sweep, clock, lead, FlagKind.FOLLOW_UP_OVERDUE, T0 + 3 * D + 24 * H
    )
    assert flag.side == Side.SALES
    assert flag.responsible == rep

    clock.at(T0 + 5 * D)
    sales.activity_log(lead=lead, by=rep, kind="email", outcome="replied")
    sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 5 * D
    assert not flag.closed_as_breach


def test_a_note_neither_resolves_follow_up_overdue_nor_moves_the_due_follow_up(
    sweep, clock, make_lead, rep
):
    lead = make_lead(Stage.ACCEPTED)
    clock.at(T0 + H)
    sales.activity_log(lead=lead, by=rep, kind="call", next_follow_up_at=T0 + 3 * D)
    clock.at(T0 + 5 * D)
    sweep()
    assert open_flag(lead, FlagKind.FOLLOW_UP_OVERDUE) is not None
    clock.at(T0 + 5 * D + H)
    sales.activity_log(lead=lead, by=rep, kind="note", notes="Left a message with reception.")
    sales.activity_log(
        lead=lead, by=rep, kind="note", notes="Still nobody.", next_follow_up_at=None
    )
    with pytest.raises(InvalidInput) as refused:
        sales.activity_log(
            lead=lead, by=rep, kind="note", notes="Later.", next_follow_up_at=T0 + 9 * D
        )
    assert refused.value.field == "next_follow_up_at"
    sweep()
    lead.refresh_from_db()
    assert lead.next_follow_up_at == T0 + 3 * D
    assert open_flag(lead, FlagKind.FOLLOW_UP_OVERDUE) is not None


# --- stalled -------------------------------------------------------------------------------


def test_stalled_raised_14_days_after_the_last_activity_and_resolved_by_activity(
    sweep, clock, make_lead, rep
):
    lead = make_lead(Stage.CONTACTED)  # call logged at T0
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.STALLED, T0 + 14 * D)
    assert flag.side == Side.SALES
    assert flag.responsible == rep

    clock.at(T0 + 15 * D)
    sales.activity_log(lead=lead, by=rep, kind="email")
    sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 15 * D


def test_a_note_does_not_resolve_stalled(sweep, clock, make_lead, rep):
    lead = make_lead(Stage.CONTACTED)  # call logged at T0
    clock.at(T0 + 13 * D)
    sales.activity_log(lead=lead, by=rep, kind="note", notes="Reading their website.")
    clock.at(T0 + 14 * D)
    sweep()
    assert open_flag(lead, FlagKind.STALLED) is not None
    clock.at(T0 + 14 * D + H)
    sales.activity_log(lead=lead, by=rep, kind="note", notes="Still reading.")
    sweep()
    assert open_flag(lead, FlagKind.STALLED) is not None
    clock.at(T0 + 14 * D + 2 * H)
    sales.activity_log(lead=lead, by=rep, kind="meeting", outcome="meeting_held")
    sweep()
    assert open_flag(lead, FlagKind.STALLED) is None


def test_stalled_resolved_when_the_lead_closes(sweep, clock, make_lead, rep):
    lead = make_lead(Stage.OPPORTUNITY)
    clock.at(T0 + 14 * D)
    sweep()
    assert open_flag(lead, FlagKind.STALLED) is not None
    clock.at(T0 + 16 * D)
    sales.lead_lose(lead=lead, by=rep, reason="timing")
    sweep()
    assert open_flag(lead, FlagKind.STALLED) is None


# --- unconverted -------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["won", "lost", "rejected"])
def test_unconverted_raised_60_days_after_the_first_handoff_and_resolved_when_it_leaves_sales(
    sweep, clock, make_lead, rep, event
):
    lead = make_lead(Stage.CONTACTED if event != "rejected" else Stage.ACCEPTED)
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.UNCONVERTED, T0 + 60 * D)
    assert flag.side == Side.SALES
    assert flag.responsible == rep

    clock.at(T0 + 61 * D)
    if event == "won":
        sales.lead_to_opportunity(lead=lead, by=rep, value="1000")
        sales.lead_win(lead=lead, by=rep, value="1200")
    elif event == "lost":
        sales.lead_lose(lead=lead, by=rep, reason="competitor")
    else:
        sales.lead_reject(lead=lead, by=rep, reason="not_interested")
    sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == T0 + 61 * D


# --- close_date_passed ---------------------------------------------------------------------
# T0 is Monday 2 March, 10:00 in Amsterdam: a close date of Wednesday 4 March has passed
# at the start of Thursday 5 March, Amsterdam time (23:00 UTC on the 4th).
CLOSES_ON = dt.date(2026, 3, 4)
PASSES_AT = dt.datetime(2026, 3, 4, 23, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("event", ["moved_forward", "won", "lost"])
def test_close_date_passed_raised_after_the_expected_close_date_and_resolved(
    sweep, clock, make_lead, rep, event
):
    lead = make_lead(Stage.OPPORTUNITY)
    sales.opportunity_update(lead=lead, by=rep, expected_close_on=CLOSES_ON)
    flag = assert_raised_exactly_at(sweep, clock, lead, FlagKind.CLOSE_DATE_PASSED, PASSES_AT)
    assert flag.side == Side.SALES
    assert flag.responsible == rep

    clock.at(PASSES_AT + D)
    if event == "moved_forward":
        sales.opportunity_update(
            lead=lead, by=rep, expected_close_on=CLOSES_ON + dt.timedelta(days=7)
        )
    elif event == "won":
        sales.lead_win(lead=lead, by=rep, value="1200")
    else:
        sales.lead_lose(lead=lead, by=rep, reason="timing")
    result = sweep()
    flag.refresh_from_db()
    assert flag.resolved_at == PASSES_AT + D
    assert result.resolved[FlagKind.CLOSE_DATE_PASSED] == 1


def test_an_opportunity_without_a_close_date_is_never_flagged_for_it(sweep, clock, make_lead):
    lead = make_lead(Stage.OPPORTUNITY)
    clock.at(T0 + 400 * D)
    sweep()
    assert open_flag(lead, FlagKind.CLOSE_DATE_PASSED) is None


def test_unconverted_counts_from_the_first_handoff_not_the_latest(
    sweep, clock, make_lead, marketer, rep
):
    lead = make_lead(Stage.REJECTED)  # first handed off at T0
    clock.at(T0 + 10 * D)
    marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    clock.at(T0 + 60 * D)
    sweep()
    assert open_flag(lead, FlagKind.UNCONVERTED) is not None


# --- the sweep as a whole -------------------------------------------------------------------


def test_a_second_sweep_at_the_same_moment_changes_nothing(sweep, clock, make_lead):
    leads = [make_lead(stage) for stage in (Stage.MQL, Stage.HANDED_OFF, Stage.CONTACTED)]
    clock.at(T0 + 90 * D)
    first = sweep()
    assert first.total_raised > 0
    snapshot = list(Flag.objects.order_by("id").values())
    second = sweep()
    assert second.total_raised == 0
    assert second.total_resolved == 0
    assert second.repointed == 0
    assert list(Flag.objects.order_by("id").values()) == snapshot
    assert {f.lead_id for f in Flag.objects.all()} <= {lead.pk for lead in leads}


def test_resolved_flags_stay_as_history_and_a_new_episode_raises_a_new_flag(
    sweep, clock, make_lead, marketer, rep
):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    sweep()
    clock.at(T0 + 26 * H)
    sales.lead_reject(lead=lead, by=rep, reason="no_budget")
    sweep()
    clock.at(T0 + 27 * H)
    marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    clock.at(T0 + 27 * H + 24 * H)
    sweep()
    history = flags_of(lead, FlagKind.RESPONSE_OVERDUE)
    assert len(history) == 2
    assert history[0].resolved_at == T0 + 26 * H
    assert history[1].resolved_at is None
    assert history[1].raised_at == T0 + 51 * H


def test_closed_and_marketing_side_leads_carry_no_sales_flags(sweep, clock, make_lead):
    new = make_lead(Stage.NEW)
    for stage in (Stage.NURTURE, Stage.DISQUALIFIED, Stage.WON, Stage.LOST):
        make_lead(stage)
    clock.at(T0 + 365 * D)
    sweep()
    assert not Flag.objects.filter(side=Side.SALES).exists()
    # The lead still at `new` is marketing's untriaged lead, nothing else.
    assert list(Flag.objects.values_list("lead", "kind")) == [(new.pk, FlagKind.NEW_UNTRIAGED)]


def command(*args):
    out = StringIO()
    call_command("flag_leads", *args, stdout=out)
    text = out.getvalue()
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            counts[parts[0]] = [int(parts[1]), int(parts[2])]
    return text, counts


def test_flag_leads_command_prints_counts_per_kind(clock, make_lead):
    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 3 * D)
    text, counts = command()
    assert text.startswith("full sweep at")
    assert counts["response_overdue"] == [1, 0]
    assert counts["first_contact_overdue"] == [1, 0]
    assert counts["mql_waiting"] == [0, 0]
    assert counts["response_escalated"] == [1, 0]  # 24 h + 4 h: the team lead and managers
    assert counts["total"] == [3, 0]
    assert "notified by the worker" in text
    _text, counts = command()
    assert counts["total"] == [0, 0]
    assert set(counts) == {kind.value for kind in FlagKind} | {"total"}


def test_flag_leads_can_notify_or_mark_the_backlog_notified(clock, make_lead, rep):
    from django.core import mail

    make_lead(Stage.HANDED_OFF)
    make_lead(Stage.MQL)
    clock.at(T0 + 3 * D)
    text, _counts = command("--mark-notified")
    assert "Marked 4 flag(s) as notified" in text  # and the first lead's escalation
    assert mail.outbox == []
    assert not Flag.objects.filter(notified_at__isnull=True).exists()

    make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 5 * D)
    text, counts = command("--notify")
    assert counts["total"] == [3, 0]
    assert "Notified 3 flag(s)." in text
    # The rep's two flags to the rep; the escalation over their head to the managers.
    managers = sorted(u.email for u in active_managers() if u.email)
    assert managers
    assert sorted(e.to[0] for e in mail.outbox) == sorted([rep.email, rep.email, *managers])


def test_an_incremental_sweep_only_looks_at_what_changed_and_a_full_one_repairs_the_rest(
    clock, make_lead
):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 25 * H)
    assert sweep_flags(full=True).raised[FlagKind.RESPONSE_OVERDUE] == 1
    # Someone deletes the open flag behind the sweep's back (the admin can).
    Flag.objects.filter(lead=lead).delete()
    clock.at(T0 + 25 * H + 30 * 60 * SECOND)
    incremental = sweep_flags()  # the last full sweep was half an hour ago
    assert not incremental.full
    assert incremental.total_raised == 0
    assert sweep_flags(full=True).raised[FlagKind.RESPONSE_OVERDUE] == 1


def test_a_full_sweep_runs_when_none_ran_for_the_full_interval(clock, make_lead, settings):
    settings.SWEEP_FULL_INTERVAL_SECONDS = 3600
    make_lead(Stage.MQL)
    assert sweep_flags().full  # the first one
    clock.at(T0 + 30 * 60 * SECOND)
    assert not sweep_flags().full
    clock.at(T0 + H)
    assert sweep_flags().full
    assert SweepRun.objects.count() == 3


def test_campaign_owner_change_moves_open_marketing_flags_at_the_next_full_sweep(
    clock, make_lead, campaign
):
    lead = make_lead(Stage.MQL)
    clock.at(T0 + 25 * H)
    sweep_flags(full=True)
    other = factories.marketer(username="marketer2")
    campaign.owner = other
    campaign.save()
    sweep_flags(full=True)
    assert open_flag(lead, FlagKind.MQL_WAITING).responsible == other


def _leads(make_lead, n):
    stages = [
        Stage.NEW,
        Stage.MQL,
        Stage.REJECTED,
        Stage.HANDED_OFF,
        Stage.ACCEPTED,
        Stage.CONTACTED,
    ]
    for i in range(n):
        make_lead(stages[i % len(stages)])


@pytest.mark.parametrize("full", [True, False])
def test_the_sweep_issues_the_same_statements_for_10_and_100_leads(clock, make_lead, full):
    counts = []
    for n in (10, 90):  # 10 leads, then 100
        _leads(make_lead, n)
        clock.at(clock.now + 70 * D)
        sweep_flags(full=True)  # a watermark, and the flags so far
        clock.at(clock.now + 70 * D)
        with CaptureQueriesContext(connection) as queries:
            result = sweep_flags(full=full)
        assert result.full is full
        counts.append(len(queries.captured_queries))
    assert Lead.objects.count() == 100
    assert counts[0] == counts[1]
    # Per flag kind one resolve and one raise, plus the watermarks, the re-point, the
    # SweepRun and (full) its pruning: 11 kinds (close_date_passed the latest) make 25 and 26.
    assert counts[0] == (26 if full else 25)
