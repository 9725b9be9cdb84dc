"""The escalation ladder (SPEC §4, issue 18 item 4): when the response is overdue the rep
is told; after a further delay the team lead and the managers; optionally after a third
the lead is reassigned to the next eligible rep. Each step once per handoff, set-based in
the sweep, and delivered once through the flag outbox even with two drains."""

import pytest
from django.core import mail
from django.db import connection

from leads.models import Flag, FlagKind, Stage
from leads.sla.calendar import refresh_deadlines
from leads.sweep.flags import sweep_flags
from leads.sweep.outbox import active_managers, drain_flag_outbox
from leads.timeline import build_timeline
from sales import services as sales
from sales.models import Handoff, HandoffKind
from tests import races

from .conftest import T0, H

ESCALATED, REASSIGNED = FlagKind.RESPONSE_ESCALATED, FlagKind.RESPONSE_REASSIGNED


def kinds(lead):
    return set(Flag.objects.filter(lead=lead).values_list("kind", flat=True))


def test_the_team_lead_and_managers_hear_of_an_unanswered_lead_after_the_further_delay(
    clock, make_lead, rep, manager, policy
):
    policy.set(escalation_minutes=4 * 60)
    lead = make_lead(Stage.HANDED_OFF)  # response due T0 + 24 h, escalation T0 + 28 h
    assert lead.escalation_due_at == T0 + 28 * H and lead.reassign_due_at is None
    clock.at(T0 + 28 * H - H)
    sweep_flags()
    assert kinds(lead) == {FlagKind.RESPONSE_OVERDUE}
    clock.at(T0 + 28 * H)
    sweep_flags()
    sweep_flags()  # idempotent: still one
    escalated = Flag.objects.get(lead=lead, kind=ESCALATED)
    assert escalated.responsible == rep  # on the rep's record ...
    mail.outbox.clear()
    drain_flag_outbox()
    # ... and told over their head: the managers (and the team leads of their teams).
    managers = {u.email for u in active_managers() if u.email}
    assert {e.to[0] for e in mail.outbox if "escalated" in e.subject.lower()} == managers
    escalations = [e for e in mail.outbox if "escalated" in e.subject.lower()]
    assert rep.email not in {e.to[0] for e in escalations}
    assert all("you are told as their team lead or a manager" in e.body for e in escalations)
    assert manager.notifications.filter(lead=lead, kind="flag_raised").count() == 1
    drain_flag_outbox()
    assert manager.notifications.filter(lead=lead, kind="flag_raised").count() == 1


def test_accepting_resolves_the_escalation_and_a_step_set_to_zero_never_fires(
    clock, make_lead, rep, policy
):
    lead = make_lead(Stage.HANDED_OFF)
    clock.at(T0 + 30 * H)
    sweep_flags()
    sales.lead_accept(lead=lead, by=rep)
    sweep_flags()
    assert Flag.objects.get(lead=lead, kind=ESCALATED).resolved_at == T0 + 30 * H
    policy.set(escalation_minutes=0)
    other = make_lead(Stage.HANDED_OFF)
    assert other.escalation_due_at is None
    clock.at(T0 + 300 * H)
    sweep_flags()
    assert ESCALATED not in kinds(other)


def test_the_last_step_reassigns_to_the_next_available_rep_once(
    clock, make_lead, rep, other_rep, manager, policy
):
    policy.set(escalation_minutes=4 * 60, auto_reassign_minutes=2 * 60)
    lead = make_lead(Stage.HANDED_OFF)  # to rep1 at T0
    assert lead.reassign_due_at == T0 + 30 * H
    clock.at(T0 + 30 * H)
    sweep_flags()
    assert {ESCALATED, REASSIGNED} <= kinds(lead)
    drain_flag_outbox()
    drain_flag_outbox()  # a second drain finds nothing left to do
    lead.refresh_from_db()
    assert (lead.owner, lead.stage) == (other_rep, Stage.HANDED_OFF)
    moves = Handoff.objects.filter(lead=lead, kind=HandoffKind.REASSIGN)
    assert moves.count() == 1 and moves.get().from_user is None  # LeadFlow did it
    # The old rep is told why, the new one that it is theirs; the breach stays with rep1.
    assert rep.notifications.filter(lead=lead, kind="reassigned").exists()
    assert other_rep.notifications.filter(lead=lead, kind="reassigned").exists()
    reassigned = Flag.objects.get(lead=lead, kind=REASSIGNED)
    assert (reassigned.responsible, reassigned.closed_as_breach) == (rep, True)
    texts = " ".join(f"{e.title} {e.detail}" for e in build_timeline(lead))
    assert "escalation ladder" in texts
    # The new rep's clocks start at the reassign: their own ladder, from now.
    assert lead.response_due_at == T0 + 30 * H + 24 * H


def test_a_claim_from_the_queue_does_not_climb_the_ladder_again(clock, make_lead, rep, policy):
    lead = make_lead(Stage.HANDED_OFF, owner=None)
    clock.at(T0 + 2 * H)
    sales.lead_claim(lead=lead, by=rep)
    lead.refresh_from_db()
    assert lead.response_due_at is not None and lead.escalation_due_at is None


def test_the_sql_recompute_arms_the_ladder_as_refresh_deadlines_does(
    make_lead, policy, rep, other_rep, manager
):
    from leads.models import Lead
    from leads.sla.calendar import deadline_expressions

    policy.set(escalation_minutes=90, auto_reassign_minutes=45)
    leads = [make_lead(Stage.HANDED_OFF), make_lead(Stage.ACCEPTED)]
    claimed = make_lead(Stage.HANDED_OFF, owner=None)
    sales.lead_claim(lead=claimed, by=rep)
    reassigned = make_lead(Stage.HANDED_OFF)
    sales.lead_reassign(lead=reassigned, by=manager, to_user=other_rep)
    ids = [lead.pk for lead in [*leads, claimed, reassigned]]
    expected = {}
    for lead in Lead.objects.filter(pk__in=ids):
        refresh_deadlines(lead)
        expected[lead.pk] = (lead.escalation_due_at, lead.reassign_due_at)
    Lead.objects.filter(pk__in=ids).update(escalation_due_at=None, reassign_due_at=None)
    Lead.objects.filter(pk__in=ids).update(**deadline_expressions(policy))
    got = {
        pk: (e, r)
        for pk, e, r in Lead.objects.filter(pk__in=ids).values_list(
            "pk", "escalation_due_at", "reassign_due_at"
        )
    }
    assert got == expected
    assert expected[claimed.pk] == (None, None)
    assert expected[reassigned.pk][0] is not None  # a reassign is a handoff: a new ladder


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_sweeps_and_two_drains_climb_each_step_once(clock, make_lead, rep, other_rep, policy):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    policy.set(escalation_minutes=60, auto_reassign_minutes=60)
    leads = [make_lead(Stage.HANDED_OFF) for _ in range(6)]
    now = T0 + 30 * H
    clock.stop()
    results = races.race(lambda: sweep_flags(now, full=True), lambda: sweep_flags(now, full=True))
    assert races.failures(results) == []
    for kind in (ESCALATED, REASSIGNED):
        assert Flag.objects.filter(kind=kind).count() == len(leads)
    results = races.race(lambda: drain_flag_outbox(now=now), lambda: drain_flag_outbox(now=now))
    assert races.failures(results) == []
    assert Handoff.objects.filter(kind=HandoffKind.REASSIGN).count() == len(leads)
