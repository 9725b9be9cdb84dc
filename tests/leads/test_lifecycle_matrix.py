"""Every lifecycle action, from every stage, by every role (SPEC §1 and §3).

An allowed (role, stage) pair must succeed and move the lead where the table says;
every other pair must raise a LeadflowError and write nothing.
"""

import datetime as dt

import pytest
from django.utils import timezone

from leadflow.errors import ActionForbidden, LeadflowError, TransitionNotAllowed
from leadflow.names import person
from leads import lifecycle
from leads import services as marketing
from leads.models import Stage, StageChange
from sales import services as sales
from sales.models import Activity, Handoff
from tests.races import rival_first

ALL_STAGES = list(Stage)
SALES = (Stage.HANDED_OFF, Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY)


def _qualify(lead, by, ctx):
    return marketing.lead_qualify(lead=lead, by=by)


def _nurture(lead, by, ctx):
    return marketing.lead_nurture(lead=lead, by=by)


def _recycle(lead, by, ctx):
    return marketing.lead_recycle(lead=lead, by=by)


def _disqualify(lead, by, ctx):
    return marketing.lead_disqualify(lead=lead, by=by, reason="not_a_fit")


def _hand_off(lead, by, ctx):
    marketing.lead_hand_off(lead=lead, by=by, to_user=ctx["other_rep"])


def _accept(lead, by, ctx):
    return sales.lead_accept(lead=lead, by=by)


def _reject(lead, by, ctx):
    return sales.lead_reject(lead=lead, by=by, reason="no_budget")


def _log_call(lead, by, ctx):
    return sales.activity_log(lead=lead, by=by, kind="call", outcome="connected")


def _opportunity(lead, by, ctx):
    return sales.lead_to_opportunity(lead=lead, by=by, value="1000")


def _win(lead, by, ctx):
    return sales.lead_win(lead=lead, by=by, value="2500.50")


def _lose(lead, by, ctx):
    return sales.lead_lose(lead=lead, by=by, reason="competitor")


def _reopen(lead, by, ctx):
    return sales.lead_reopen(lead=lead, by=by)


def _reassign(lead, by, ctx):
    return sales.lead_reassign(lead=lead, by=by, to_user=ctx["other_rep"])


MARKETING_ROLES = {"marketer", "manager"}
SALES_ROLES = {"rep", "manager"}

# action -> (function, stages it may start from, roles allowed, expected stage after)
ACTIONS = {
    "qualify": (_qualify, {Stage.NEW, Stage.NURTURE}, MARKETING_ROLES, Stage.MQL),
    "nurture": (_nurture, {Stage.NEW, Stage.MQL}, MARKETING_ROLES, Stage.NURTURE),
    "recycle": (_recycle, {Stage.REJECTED}, MARKETING_ROLES, Stage.NURTURE),
    "disqualify": (
        _disqualify,
        {Stage.NEW, Stage.MQL, Stage.NURTURE, Stage.REJECTED},
        MARKETING_ROLES,
        Stage.DISQUALIFIED,
    ),
    "hand_off": (_hand_off, {Stage.MQL, Stage.REJECTED}, MARKETING_ROLES, Stage.HANDED_OFF),
    "accept": (_accept, {Stage.HANDED_OFF}, SALES_ROLES, Stage.ACCEPTED),
    "reject": (_reject, {Stage.HANDED_OFF, Stage.ACCEPTED}, SALES_ROLES, Stage.REJECTED),
    # Logging on a won or lost lead changes no stage (SPEC §3).
    "log_call": (_log_call, {*SALES, Stage.WON, Stage.LOST}, SALES_ROLES, None),
    "opportunity": (_opportunity, {Stage.CONTACTED}, SALES_ROLES, Stage.OPPORTUNITY),
    # From contacted in one step, through opportunity.
    "win": (_win, {Stage.CONTACTED, Stage.OPPORTUNITY}, SALES_ROLES, Stage.WON),
    "lose": (_lose, {Stage.ACCEPTED, Stage.CONTACTED, Stage.OPPORTUNITY}, SALES_ROLES, Stage.LOST),
    "reopen": (_reopen, {Stage.WON, Stage.LOST}, {"manager"}, None),
    "reassign": (_reassign, set(SALES), {"manager"}, None),
}
ROLES = ("marketer", "rep", "other_rep", "manager")


def _expected_after(action, stage):
    if action == "log_call":
        return Stage.CONTACTED if stage in (Stage.HANDED_OFF, Stage.ACCEPTED) else stage
    if action == "reopen":
        return Stage.OPPORTUNITY  # the test leads close from opportunity
    if action == "reassign":
        return stage
    return ACTIONS[action][3]


def _snapshot(lead):
    lead.refresh_from_db()
    return (
        lead.stage,
        lead.owner_id,
        StageChange.objects.filter(lead=lead).count(),
        Handoff.objects.filter(lead=lead).count(),
        Activity.objects.filter(lead=lead).count(),
    )


@pytest.mark.parametrize("stage", ALL_STAGES, ids=str)
@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_transition_matrix(action, stage, make_lead, marketer, rep, other_rep, manager):
    users = {"marketer": marketer, "rep": rep, "other_rep": other_rep, "manager": manager}
    func, from_stages, allowed_roles, _ = ACTIONS[action]
    ctx = {"other_rep": other_rep}
    for role in ROLES:
        lead = make_lead(stage, owner=rep)
        before = _snapshot(lead)
        allowed = stage in from_stages and role in allowed_roles
        if allowed:
            func(lead, users[role], ctx)
            lead.refresh_from_db()
            assert lead.stage == _expected_after(action, stage), (role, action, stage)
        else:
            with pytest.raises(LeadflowError) as excinfo:
                func(lead, users[role], ctx)
            assert excinfo.value.message, "a refusal must carry a readable message"
            assert _snapshot(lead) == before, f"{role} {action} from {stage} wrote something"


def test_rep_cannot_accept_lead_handed_to_someone_else(make_lead, other_rep):
    lead = make_lead(Stage.HANDED_OFF)
    with pytest.raises(ActionForbidden, match="not assigned to you"):
        sales.lead_accept(lead=lead, by=other_rep)


def test_accepting_twice_says_who_accepted(make_lead, rep, manager):
    lead = make_lead(Stage.HANDED_OFF)
    sales.lead_accept(lead=lead, by=rep)
    with pytest.raises(TransitionNotAllowed, match=f"already accepted by {person(rep)}"):
        sales.lead_accept(lead=lead, by=manager)


def test_every_transition_writes_a_stage_change_with_actor_and_time(make_lead, rep):
    lead = make_lead(Stage.WON)
    changes = list(StageChange.objects.filter(lead=lead).values_list("from_stage", "to_stage"))
    assert changes == [
        ("", "new"),
        ("new", "mql"),
        ("mql", "handed_off"),
        ("handed_off", "accepted"),
        ("accepted", "contacted"),
        ("contacted", "opportunity"),
        ("opportunity", "won"),
    ]
    assert all(c.by_id and c.at for c in StageChange.objects.filter(lead=lead))


@pytest.mark.parametrize("stage", ALL_STAGES, ids=str)
def test_the_pages_offer_exactly_what_the_services_allow(
    stage, make_lead, marketer, rep, other_rep, manager
):
    """The buttons come from the same lifecycle table the services enforce, so a page
    offers an action exactly where the matrix above says the service succeeds."""
    users = {"marketer": marketer, "rep": rep, "other_rep": other_rep, "manager": manager}
    lead = make_lead(stage, owner=rep)
    for role in ROLES:
        offered = lifecycle.available(users[role], lead)
        for action, (_func, from_stages, allowed_roles, _after) in ACTIONS.items():
            name = "log" if action == "log_call" else action
            allowed = stage in from_stages and role in allowed_roles
            assert (name in offered) == allowed, (role, name, stage)


def test_the_stage_graph_is_the_specs(db):
    assert {
        Stage.NEW: {Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.MQL: {Stage.HANDED_OFF, Stage.NURTURE, Stage.DISQUALIFIED},
        Stage.NURTURE: {Stage.MQL, Stage.DISQUALIFIED},
        Stage.HANDED_OFF: {Stage.ACCEPTED, Stage.REJECTED},
        Stage.ACCEPTED: {Stage.CONTACTED, Stage.REJECTED, Stage.LOST},
        Stage.CONTACTED: {Stage.OPPORTUNITY, Stage.LOST},
        Stage.OPPORTUNITY: {Stage.WON, Stage.LOST},
        Stage.REJECTED: {Stage.NURTURE, Stage.DISQUALIFIED, Stage.HANDED_OFF},
        Stage.DISQUALIFIED: set(),
        Stage.WON: set(),
        Stage.LOST: set(),
    } == lifecycle.ALLOWED


def test_a_queued_lead_offers_claim_to_reps_and_reassign_to_managers(
    make_lead, rep, other_rep, manager
):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    assert lifecycle.available(other_rep, lead) == {"claim", "accept", "reject"}
    assert lifecycle.available(manager, lead) == {"reassign"}


def test_an_open_dispute_holds_marketing_and_offers_the_ruling(make_lead, marketer, manager):
    lead = make_lead(Stage.REJECTED)
    marketing.dispute_raise(lead=lead, by=marketer, comment="They were a fit")
    lead.refresh_from_db()
    assert lifecycle.available(marketer, lead) == set()
    assert lifecycle.available(manager, lead) == {"rule"}
    with pytest.raises(TransitionNotAllowed, match="disputed"):
        marketing.lead_recycle(lead=lead, by=marketer)


def test_a_transition_that_waited_for_the_lock_is_logged_after_the_one_that_held_it(
    make_lead, rep, marketer, monkeypatch, time_machine
):
    """Reject and re-hand-off racing: the hand-off reads the rejected lead only once the
    reject has committed, so its time is the later one, though it was asked for first
    (tests/sales/test_races.py races them for real on PostgreSQL)."""
    lead = make_lead(Stage.HANDED_OFF)
    time_machine.move_to(timezone.now() + dt.timedelta(hours=1), tick=False)

    def reject_first():
        time_machine.shift(dt.timedelta(seconds=5))  # while the hand-off waits for the lock
        sales.lead_reject(lead=lead.pk, by=rep, reason="not_a_fit")

    rival_first(monkeypatch, reject_first)
    marketing.lead_hand_off(lead=lead.pk, by=marketer, to_user=rep)
    log = list(StageChange.objects.filter(lead_id=lead.pk).order_by("pk"))
    assert [c.to_stage for c in log[-2:]] == [Stage.REJECTED, Stage.HANDED_OFF]
    assert [c.at for c in log] == sorted(c.at for c in log)
    lead.refresh_from_db()
    assert lead.last_handed_off_at == log[-1].at >= lead.rejected_at
