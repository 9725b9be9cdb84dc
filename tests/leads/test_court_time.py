"""Court time (SPEC §3): every lead keeps the minutes each side held it, summed over
re-handoffs, maintained by each transition in its own transaction; the rebuild from the
stage log gives the same ledger; the lead page, the export and the API read it with the
current stretch counted up to now."""

import csv
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from leads import services as marketing
from leads.imports.reader import Row
from leads.models import Lead, Stage
from sales import services as sales

from .conftest import T0, D, H

pytestmark = pytest.mark.django_db

MIN = H / 60
LEDGER = Lead.LEDGER_FIELDS


def ledger(lead):
    lead.refresh_from_db()
    return {name: getattr(lead, name) for name in LEDGER}


def rebuild():
    out = StringIO()
    call_command("rebuild_court_time", stdout=out)
    return out.getvalue()


def long_lifecycle(clock, make_lead, marketer, rep, other_rep, manager):
    """new 1 h, mql 2 h 10 min, handed off 1 d (rejected), rejected 2 h, nurture 3 d 22 h,
    mql 1 h, queued 5 h, claimed and accepted, contacted, opportunity, won 2 d, reopened,
    reassigned, won again. Returns the lead and the moment of its last change."""
    lead = make_lead.new()  # created at T0
    clock.at(T0 + H)
    marketing.lead_qualify(lead=lead, by=marketer)
    clock.at(T0 + 3 * H + 10 * MIN)
    marketing.lead_hand_off(lead=lead, by=marketer, to_user=rep)
    clock.at(T0 + D + 3 * H + 10 * MIN)
    sales.lead_reject(lead=lead, by=rep, reason="not_a_fit")
    clock.at(T0 + D + 5 * H + 10 * MIN)
    marketing.lead_recycle(lead=lead, by=marketer)
    clock.at(T0 + 5 * D + 3 * H + 10 * MIN)
    marketing.lead_qualify(lead=lead, by=marketer)
    clock.at(T0 + 5 * D + 4 * H + 10 * MIN)
    marketing.lead_hand_off(lead=lead, by=marketer)  # to the unassigned queue
    clock.at(T0 + 5 * D + 9 * H + 10 * MIN)
    sales.lead_claim(lead=lead, by=other_rep)
    clock.at(T0 + 5 * D + 10 * H + 10 * MIN)
    sales.lead_accept(lead=lead, by=other_rep)
    clock.at(T0 + 5 * D + 12 * H + 10 * MIN)
    sales.activity_log(lead=lead, by=other_rep, kind="call", outcome="connected")
    clock.at(T0 + 6 * D + 10 * MIN)
    sales.lead_to_opportunity(lead=lead, by=other_rep, value="1000")
    clock.at(T0 + 7 * D + 10 * MIN)
    sales.lead_win(lead=lead, by=other_rep, value="1500")
    clock.at(T0 + 9 * D + 10 * MIN)
    sales.lead_reopen(lead=lead, by=manager)
    clock.at(T0 + 9 * D + 2 * H + 10 * MIN)
    sales.lead_reassign(lead=lead, by=manager, to_user=rep)
    clock.at(T0 + 10 * D + 10 * MIN)
    sales.lead_win(lead=lead, by=rep, value="1600")
    return lead, T0 + 10 * D + 10 * MIN


def test_each_transition_adds_its_stretch_to_the_court_that_held_the_lead(
    clock, make_lead, marketer, rep, other_rep, manager
):
    lead, last = long_lifecycle(clock, make_lead, marketer, rep, other_rep, manager)
    kept = ledger(lead)
    # new 1 h + mql 2 h 10 min + rejected 2 h + mql 1 h
    assert kept["marketing_court_minutes"] == 6 * 60 + 10
    # 1 d (first handoff) + 5 h queued + 1 h claimed + 2 h accepted + 12 h contacted +
    # 1 d opportunity + 1 d reopened opportunity (the reassign kept the stage: one stretch)
    assert kept["sales_court_minutes"] == (24 + 5 + 1 + 2 + 12 + 24 + 24) * 60
    assert kept["parked_minutes"] == (3 * 24 + 22) * 60  # nurture
    assert kept["closed_minutes"] == 2 * 24 * 60  # won until the reopen
    assert kept["court_since"] == last


def test_the_rebuild_from_the_stage_log_equals_the_ledger_the_transitions_kept(
    clock, make_lead, marketer, rep, other_rep, manager
):
    lead, _last = long_lifecycle(clock, make_lead, marketer, rep, other_rep, manager)
    also = make_lead(Stage.CONTACTED)
    kept = {pk: ledger(Lead(pk=pk)) for pk in (lead.pk, also.pk)}
    assert "0 lead(s) changed" in rebuild()  # nothing to repair

    Lead.objects.update(
        marketing_court_minutes=0,
        sales_court_minutes=0,
        parked_minutes=0,
        closed_minutes=0,
        court_since=None,
    )
    assert "2 lead(s) changed" in rebuild()
    assert {pk: ledger(Lead(pk=pk)) for pk in kept} == kept


def test_the_rebuild_works_in_batches(clock, make_lead):
    leads = [make_lead(Stage.MQL) for _ in range(5)]
    kept = {lead.pk: ledger(lead) for lead in leads}
    Lead.objects.update(marketing_court_minutes=7, court_since=None)
    assert marketing.court_time_rebuild(batch=2) == 5
    assert {lead.pk: ledger(lead) for lead in leads} == kept


def test_the_current_stretch_is_counted_up_to_now(clock, make_lead, marketer, rep):
    lead = make_lead.new()
    clock.at(T0 + 3 * H + 10 * MIN)
    marketing.lead_hand_off(
        lead=marketing.lead_qualify(lead=lead, by=marketer), by=marketer, to_user=rep
    )
    clock.at(T0 + 4 * D + 5 * H + 10 * MIN + 30 * MIN / 60)
    lead.refresh_from_db()
    assert lead.marketing_court_minutes == 3 * 60 + 10
    assert lead.sales_court_minutes == 0  # stored up to the latest change
    court = lead.court_time()
    assert court["marketing"] == 3 * 60 + 10
    assert court["sales"] == (4 * 24 + 2) * 60


def test_the_lead_page_says_how_long_each_side_held_it(
    clock, make_lead, marketer, rep, manager_client
):
    lead = make_lead.new()
    clock.at(T0 + 3 * H + 10 * MIN)
    marketing.lead_hand_off(
        lead=marketing.lead_qualify(lead=lead, by=marketer), by=marketer, to_user=rep
    )
    clock.at(T0 + 4 * D + 5 * H + 40 * MIN)
    html = manager_client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Marketing held it 3 h 10 min, sales 4 d 2 h." in html


def test_a_recycled_lead_shows_its_parked_time_apart(clock, make_lead, marketer, manager_client):
    lead = make_lead(Stage.REJECTED)  # all at T0
    marketing.lead_recycle(lead=lead, by=marketer)
    clock.at(T0 + 2 * D)
    html = manager_client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert "Marketing held it 0 min, sales 0 min." in html
    assert "nobody’s delay) 2 d." in html


def test_the_export_and_the_api_give_both_courts_with_the_current_stretch(
    clock, make_lead, marketer, rep, manager_client
):
    lead = make_lead.new()
    clock.at(T0 + 90 * MIN)
    marketing.lead_hand_off(
        lead=marketing.lead_qualify(lead=lead, by=marketer), by=marketer, to_user=rep
    )
    clock.at(T0 + 90 * MIN + 2 * H)

    text = b"".join(manager_client.get(reverse("leads:export")).streaming_content).decode()
    header = text.splitlines()[0].split(",")
    assert header[-2:] == ["marketing_court_minutes", "sales_court_minutes"]
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["marketing_court_minutes"], row["sales_court_minutes"]) == ("90", "120")

    body = manager_client.get(f"/api/v1/leads/{lead.pk}/").json()
    assert (body["marketing_court_minutes"], body["sales_court_minutes"]) == (90, 120)


def test_a_sales_generated_lead_starts_its_sales_clock_at_creation(clock, rep):
    lead = marketing.lead_intake(
        by=rep, data={"last_name": "Found", "email": "f@example.com"}
    ).lead
    assert lead.stage == Stage.ACCEPTED and lead.court_since == T0
    clock.at(T0 + 2 * H)
    assert lead.court_time()["sales"] == 120 and lead.court_time()["marketing"] == 0


def test_imported_leads_start_their_ledger_and_match_the_rebuild(clock, marketer, google):
    rows = [
        Row(line=2, data={"last_name": "Curie", "email": "marie@example.com"}, campaign=google),
        Row(
            line=3,
            data={"last_name": "Noether", "email": "emmy@example.com"},
            campaign=google,
            stage=Stage.NURTURE,
        ),
    ]
    results = marketing.lead_import_batch(by=marketer, rows=rows)
    leads = [lead for _row, _outcome, lead in results]
    kept = {lead.pk: ledger(lead) for lead in leads}
    assert all(k["court_since"] == T0 for k in kept.values())
    assert "0 lead(s) changed" in rebuild()
    clock.at(T0 + H)
    assert [lead.court_time()["marketing"] for lead in leads] == [60, 0]  # nurture is parked
    assert leads[1].court_time()["parked"] == 60


def test_the_demo_data_carries_ledgers_the_rebuild_agrees_with(db):
    call_command("seed_demo", "--leads", "150", "--seed", "3", "--force", stdout=StringIO())
    assert Lead.objects.filter(court_since__isnull=False).count() == 150
    assert Lead.objects.filter(sales_court_minutes__gt=0).exists()
    assert "0 lead(s) changed" in rebuild()
