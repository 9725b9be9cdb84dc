"""Blame stays with whoever held the ball (SPEC §4, §5): a sales flag keeps the person
responsible when it was raised; a claim or reassign closes that person's open sales flags
as breaches on their record and starts the new holder's clocks afresh; the scorecards
and where the ball dropped per rep count a breach against the rep who held the lead.

Every test runs as a full and as an incremental sweep (the ``sweep`` fixture)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from leadflow.errors import InvalidInput
from leadflow.names import person
from leads.models import Flag, FlagKind
from leads.reporting import stats
from leads.reporting.definitions import Filters
from sales import services as sales
from tests import reference

from .conftest import T0, D, H

pytestmark = pytest.mark.django_db

DELAYS = {FlagKind.RESPONSE_OVERDUE, FlagKind.FIRST_CONTACT_OVERDUE}
# ... and by T0 + 49 h the escalation ladder's first step too (24 h + 4 h), against the
# same holder.
LAPSES = DELAYS | {FlagKind.RESPONSE_ESCALATED}


def open_kinds(lead):
    return set(Flag.objects.open().filter(lead=lead).values_list("kind", flat=True))


def scorecard_flags(owner=None):
    """{rep username: (raised, open)} of the sales scorecard, held to the reference."""
    today = timezone.localdate()
    filters = Filters(start=today - dt.timedelta(days=30), end=today, owner=owner)
    stats.refresh()
    rows = stats.sales_scorecard(filters)
    assert rows == reference.sales_scorecard(filters)
    return {r["rep"].username: (r["flags_raised"], r["flags_open"]) for r in rows}


def ball_dropped(owner=None):
    today = timezone.localdate()
    filters = Filters(start=today - dt.timedelta(days=30), end=today, owner=owner)
    stats.refresh()
    got = stats.funnel(filters, with_median=False)["ball_dropped"]
    assert got == reference.funnel(filters)["ball_dropped"]
    return got


def test_a_rep_who_claims_an_overdue_queued_lead_is_not_penalised(
    sweep, clock, make_lead, rep, manager
):
    lead = make_lead("handed_off", owner=None)  # in the queue since T0
    clock.at(T0 + 49 * H)
    sweep()
    assert open_kinds(lead) == LAPSES
    assert set(Flag.objects.values_list("responsible", flat=True)) == {None}  # the managers

    clock.at(T0 + 50 * H)
    sales.lead_claim(lead=lead, by=rep)
    sweep()
    # The queue's lapses are closed as breaches on the managers' record, not the rep's.
    closed = Flag.objects.filter(lead=lead)
    assert {(f.kind, f.responsible_id, f.resolved_at, f.closed_as_breach) for f in closed} == {
        (kind, None, T0 + 50 * H, True) for kind in LAPSES
    }
    assert open_kinds(lead) == set()
    assert scorecard_flags()["rep1"] == (0, 0)
    assert ball_dropped(owner=rep)["sales"] == 0  # not the rescuer's drop
    assert ball_dropped()["sales"] == 1  # but the lead's ball did drop

    # The rep's own clocks run from the claim: 24 h to respond, 48 h to first contact.
    clock.at(T0 + 50 * H + 24 * H - dt.timedelta(seconds=1))
    sweep()
    assert open_kinds(lead) == set()
    clock.at(T0 + 50 * H + 24 * H)
    sweep()
    assert open_kinds(lead) == {FlagKind.RESPONSE_OVERDUE}
    assert Flag.objects.open().get(lead=lead).responsible == rep


def test_a_reassign_does_not_erase_the_breach_from_the_previous_reps_scorecard(
    sweep, clock, make_lead, rep, other_rep, manager, manager_client
):
    lead = make_lead("handed_off")  # handed to rep1 at T0
    clock.at(T0 + 49 * H)
    sweep()
    assert open_kinds(lead) == LAPSES
    assert scorecard_flags() == {"rep1": (3, 3), "rep2": (0, 0)}

    clock.at(T0 + 50 * H)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    sweep()
    assert open_kinds(lead) == set()  # closed on rep1's record, rep2 starts afresh
    breaches = Flag.objects.filter(lead=lead)
    assert {(f.responsible, f.closed_as_breach, f.resolved_at) for f in breaches} == {
        (rep, True, T0 + 50 * H)
    }
    # The scorecard keeps rep1's breaches, unfiltered and under the salesperson filter;
    # rep2, who owns the lead now, has none.
    assert scorecard_flags() == {"rep1": (3, 0), "rep2": (0, 0)}
    assert scorecard_flags(owner=rep) == {"rep1": (3, 0)}
    assert scorecard_flags(owner=other_rep) == {"rep2": (0, 0)}
    html = manager_client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Flag closed as a breach: Response overdue" in html
    assert f"The lead changed hands; the breach stays with {person(rep)}." in html
    # Where the ball dropped, per rep: not under rep2, who was given the lead late.
    assert ball_dropped(owner=other_rep) == {
        "marketing": 0,
        "sales": 0,
        "market": 0,
        "in_progress": 1,
    }
    assert ball_dropped()["sales"] == 1


def test_a_breach_of_the_current_rep_counts_under_their_salesperson_filter(
    sweep, clock, make_lead, rep, other_rep, manager
):
    lead = make_lead("handed_off")
    clock.at(T0 + H)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    clock.at(T0 + H + 25 * H)
    sweep()
    assert Flag.objects.open().get(lead=lead, kind=FlagKind.RESPONSE_OVERDUE).responsible == (
        other_rep
    )
    assert ball_dropped(owner=other_rep)["sales"] == 1
    assert scorecard_flags(owner=other_rep) == {"rep2": (1, 1)}


@pytest.mark.parametrize(
    "outcome, under_rep2",
    [("no_answer", "sales"), ("connected", "market")],
)
def test_per_rep_rule_two_reads_the_attempts_of_the_rep_who_lost_the_lead(
    sweep, clock, make_lead, rep, other_rep, manager, outcome, under_rep2
):
    # Where the ball dropped per rep (own delays only) with the attempts rule of proof of
    # contact: lost without a connect after fewer than N attempts is the losing rep's drop;
    # lost after a connect is the market's under that rep, whatever rep1's delays.
    lead = make_lead("handed_off")  # handed to rep1 at T0
    clock.at(T0 + 49 * H)
    sweep()  # rep1's response and first-contact delays
    clock.at(T0 + 50 * H)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    clock.at(T0 + 51 * H)
    sales.activity_log(lead=lead, by=other_rep, kind="call", outcome=outcome)
    sales.lead_lose(lead=lead, by=other_rep, reason="unresponsive")
    sweep()
    none = {"marketing": 0, "sales": 0, "market": 0, "in_progress": 0}
    assert ball_dropped(owner=other_rep) == {**none, under_rep2: 1}
    assert ball_dropped() == {**none, "sales": 1}  # the lead's ball did drop, with rep1
    assert ball_dropped(owner=rep) == none  # rep1 no longer owns it


def test_reassign_restarts_the_new_reps_stalled_and_follow_up_clocks(
    sweep, clock, make_lead, rep, other_rep, manager
):
    lead = make_lead("contacted")  # call at T0
    clock.at(T0 + H)
    sales.activity_log(lead=lead, by=rep, kind="call", next_follow_up_at=T0 + 2 * D)
    clock.at(T0 + 15 * D)
    sweep()
    assert open_kinds(lead) == {FlagKind.STALLED, FlagKind.FOLLOW_UP_OVERDUE}

    clock.at(T0 + 15 * D + H)
    sales.lead_reassign(lead=lead, by=manager, to_user=other_rep)
    sweep()
    assert open_kinds(lead) == set()
    # The inherited follow-up is rep2's from the reassign: due after the 24 h grace.
    clock.at(T0 + 16 * D + H)
    sweep()
    assert open_kinds(lead) == {FlagKind.FOLLOW_UP_OVERDUE}
    assert Flag.objects.open().get(lead=lead).responsible == other_rep
    # Stalled counts 14 days from the reassign, not from rep1's last call.
    clock.at(T0 + 29 * D)
    sweep()
    assert FlagKind.STALLED not in open_kinds(lead)
    clock.at(T0 + 29 * D + H)
    sweep()
    assert FlagKind.STALLED in open_kinds(lead)


def test_flags_keep_their_responsible_user_through_sweeps(sweep, clock, make_lead, rep):
    lead = make_lead("accepted")
    clock.at(T0 + 49 * H)
    first = sweep()
    assert first.raised[FlagKind.FIRST_CONTACT_OVERDUE] == 1
    # Whoever owns the lead now, the sweep never re-points a sales flag.
    Flag.objects.filter(lead=lead).update(responsible=None)
    clock.at(T0 + 50 * H)
    assert sweep().repointed == 0
    assert Flag.objects.get(lead=lead).responsible is None


def test_a_note_that_tries_to_move_a_due_follow_up_is_a_400_naming_the_field(
    clock, make_lead, rep, rep_client
):
    lead = make_lead("contacted")
    sales.activity_log(lead=lead, by=rep, kind="call", next_follow_up_at=T0 + D)
    clock.at(T0 + 2 * D)
    response = rep_client.post(
        f"/api/v1/leads/{lead.pk}/activities/",
        {
            "kind": "note",
            "notes": "Call next week.",
            "next_follow_up_at": (T0 + 9 * D).isoformat(),
        },
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["next_follow_up_at"]
    lead.refresh_from_db()
    assert lead.next_follow_up_at == T0 + D and lead.activities.count() == 2


def test_a_note_logged_late_cannot_be_backdated_to_move_a_follow_up_that_fell_due(
    clock, make_lead, rep
):
    # A note logged later than the grace counts when it was logged (proof of contact), so
    # stating it happened before the follow-up fell due does not let it move the follow-up.
    lead = make_lead("contacted")
    sales.activity_log(lead=lead, by=rep, kind="call", next_follow_up_at=T0 + D)
    clock.at(T0 + 3 * D)
    with pytest.raises(InvalidInput) as raised:
        sales.activity_log(
            lead=lead,
            by=rep,
            kind="note",
            occurred_at=T0 + 12 * H,
            next_follow_up_at=T0 + 9 * D,
        )
    assert raised.value.field == "next_follow_up_at"
    lead.refresh_from_db()
    assert lead.next_follow_up_at == T0 + D and lead.activities.count() == 2
