"""Consent per touch (SPEC §2, issue 15 finding 7): each touch keeps the consent answer it
carried, with its source and time; the lead's consent is the latest explicit answer, so it
can be withdrawn; a touch on a known email never overwrites the lead's own fields."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from leads import services
from leads.imports.reader import Row
from leads.models import CONSENT_EDIT, Lead, Stage, Touch, TouchSource


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def intake(campaign, **fields):
    """An anonymous JSON post to the campaign's public intake."""
    response = Client().post(
        f"/intake/{campaign.intake_key}/", json.dumps(fields), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response


def form_intake(campaign, **fields):
    """An anonymous HTML form post, as the snippet sends it (a ticked box sends "on")."""
    response = Client().post(f"/intake/{campaign.intake_key}/", fields)
    assert response.status_code == 200, response.content
    return response


def latest_touch(lead):
    return Touch.objects.filter(lead=lead).latest("occurred_at", "id")


def test_the_touch_keeps_the_consent_answer_it_carried_with_its_source_and_time(
    make_lead, campaign
):
    lead = make_lead(Stage.NEW, email="ada@example.com")
    assert (lead.consent, lead.consent_at, lead.consent_source) == (False, None, "")
    before = timezone.now()
    intake(campaign, last_name="Lovelace", email="ADA@example.com", consent=True)
    touch = latest_touch(lead)
    assert (touch.consent, touch.source) == (True, TouchSource.INTAKE)
    lead.refresh_from_db()
    assert (lead.consent, lead.consent_source) == (True, TouchSource.INTAKE)
    assert lead.consent_at == touch.occurred_at and lead.consent_at >= before


def test_a_later_no_withdraws_the_consent(make_lead, campaign):
    lead = make_lead(Stage.NEW, email="ada@example.com", consent=True)
    lead.refresh_from_db()
    assert lead.consent is True
    intake(campaign, last_name="Lovelace", email="ada@example.com", consent=False)
    lead.refresh_from_db()
    assert lead.consent is False
    assert latest_touch(lead).consent is False


def test_an_unticked_box_or_a_touch_without_an_answer_takes_nothing_back(make_lead, campaign):
    lead = make_lead(Stage.NEW, email="ada@example.com")
    form_intake(campaign, last_name="Lovelace", email="ada@example.com", consent="on")
    lead.refresh_from_db()
    given_at = lead.consent_at
    assert lead.consent is True
    form_intake(campaign, last_name="Lovelace", email="ada@example.com")  # no box ticked
    intake(campaign, last_name="Lovelace", email="ada@example.com")  # no consent key
    lead.refresh_from_db()
    assert (lead.consent, lead.consent_at) == (True, given_at)
    assert [t.consent for t in lead.touches.order_by("id")] == [None, True, None, None]


def test_an_answer_older_than_the_leads_latest_does_not_override_it(make_lead, marketer):
    lead = make_lead(Stage.NEW, email="ada@example.com")
    yes = {"last_name": "L", "email": lead.email, "consent": True}
    services.lead_intake(by=marketer, data=yes)
    services.lead_intake(
        by=marketer,
        data={"last_name": "L", "email": lead.email, "consent": False},
        at=timezone.now() - timedelta(days=3),  # logged now, about an inquiry days ago
    )
    lead.refresh_from_db()
    assert lead.consent is True
    assert latest_touch(lead).consent is True  # the older touch sorts first


def test_a_touch_never_overwrites_the_leads_own_fields(make_lead, campaign, other_rep):
    lead = make_lead(
        Stage.ACCEPTED, owner=other_rep, email="ada@example.com", phone="+31 6 1", company="Acme"
    )
    own = Lead.objects.filter(pk=lead.pk).values(
        "first_name", "last_name", "phone", "company", "notes", "campaign", "origin", "owner"
    )[0]
    intake(
        campaign,
        first_name="Mallory",
        last_name="Forger",
        email="ada@example.com",
        phone="+1 555 0100",
        company="Evil Corp",
        job_title="CEO",
        message="Please call me on the other number",
    )
    assert (
        Lead.objects.filter(pk=lead.pk).values(
            "first_name", "last_name", "phone", "company", "notes", "campaign", "origin", "owner"
        )[0]
        == own
    )
    lead.refresh_from_db()
    # The rest of the touch is kept: its message, and a blank field the lead lacked.
    assert latest_touch(lead).message == "Please call me on the other number"
    assert lead.job_title == "CEO"


def test_an_imported_consent_column_gives_withdraws_or_says_nothing(make_lead, marketer, campaign):
    yes = make_lead(Stage.NEW, email="yes@example.com")
    no = make_lead(Stage.NEW, email="no@example.com", consent=True)
    blank = make_lead(Stage.NEW, email="blank@example.com", consent=True)
    rows = [
        Row(line=2, data={"last_name": "Y", "email": "yes@example.com", "consent": True}),
        Row(line=3, data={"last_name": "N", "email": "no@example.com", "consent": False}),
        Row(line=4, data={"last_name": "B", "email": "blank@example.com", "consent": None}),
        Row(line=5, data={"last_name": "New", "email": "new@example.com", "consent": True}),
    ]
    for row in rows:
        row.campaign = campaign
    services.lead_import_batch(by=marketer, rows=rows)
    got = {
        lead.email: (lead.consent, lead.consent_source)
        for lead in Lead.objects.filter(email__in=[r.data["email"] for r in rows])
    }
    assert got == {
        "yes@example.com": (True, TouchSource.IMPORT),
        "no@example.com": (False, TouchSource.IMPORT),
        "blank@example.com": (True, TouchSource.MANUAL),
        "new@example.com": (True, TouchSource.IMPORT),
    }
    assert [t.consent for t in Touch.objects.filter(lead=no).order_by("id")] == [True, False]
    assert latest_touch(yes).consent is True and latest_touch(blank).consent is None


@pytest.mark.parametrize(
    "cell, answer",
    [("yes", True), ("Ja", True), ("x", True), ("no", False), ("Opt-out", False), ("", None)],
)
def test_the_imports_consent_cells_read_as_an_answer(cell, answer):
    from leads.imports.reader import parse_row

    row = parse_row(
        2,
        ["L", "a@example.com", cell],
        {"0": "last_name", "1": "email", "2": "consent"},
        campaigns=None,
        default_campaign=object(),
        default_inquiry_type="other",
    )
    assert row.data["consent"] is answer


def test_editing_the_box_is_an_explicit_answer_by_the_editor(marketer_client, make_lead):
    lead = make_lead(Stage.NEW, email="ada@example.com", consent=True)
    fields = {"last_name": lead.last_name, "email": lead.email, "first_name": lead.first_name}
    response = marketer_client.post(f"/leads/{lead.pk}/edit/", fields)  # box unticked
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.consent, lead.consent_source) == (False, CONSENT_EDIT)
    # Saving again without touching the box is no new answer.
    at = lead.consent_at
    marketer_client.post(f"/leads/{lead.pk}/edit/", {**fields, "company": "Acme"})
    lead.refresh_from_db()
    assert (lead.consent, lead.consent_at, lead.company) == (False, at, "Acme")


def test_the_lead_page_shows_where_the_answer_came_from(marketer_client, make_lead, campaign):
    lead = make_lead(Stage.NEW, email="ada@example.com")
    intake(campaign, last_name="Lovelace", email="ada@example.com", consent=True)
    intake(campaign, last_name="Lovelace", email="ada@example.com", consent=False)
    page = marketer_client.get(lead.get_absolute_url()).content.decode()
    assert "latest answer: Intake form" in page
    assert "consent given" in page and "consent withdrawn" in page
