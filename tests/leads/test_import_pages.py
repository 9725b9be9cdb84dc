"""What the import pages say (the tester's round on them). First: the import's note on a
lead's timeline, in the reader's language."""

import pytest
from django.conf import settings
from django.utils import translation

from leads.models import Lead, StageChange, SystemNote
from tests import factories

from .test_import import SALESFORCE, full_import


@pytest.fixture(autouse=True)
def _tasks_run_at_once(immediate_on_commit):
    pass


@pytest.fixture
def google(db):
    return factories.CampaignFactory(name="Google Ads", utm_campaign="gads-1")


def in_dutch(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "nl"
    return client


def page(client, obj):
    return client.get(obj.get_absolute_url()).content.decode()


# --- 6. The import's note on the timeline, in the reader's language -----------------------


def test_imported_status_note_is_shown_in_the_readers_language(marketer_client, google):
    full_import(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,MQL,\n")
    lead = Lead.objects.get()
    assert lead.stage_changes.filter(note=SystemNote.IMPORT_STATUS).exists()
    assert "Status in the import" in page(marketer_client, lead)
    in_dutch(marketer_client)
    body = page(marketer_client, lead)
    assert "Status in de import" in body and "Status in the import" not in body


def test_an_import_made_in_dutch_reads_english_to_an_english_reader(marketer_client, google):
    in_dutch(marketer_client)
    full_import(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,MQL,\n")
    lead = Lead.objects.get()
    marketer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = page(marketer_client, lead)
    assert "Status in the import" in body and "Status in de import" not in body


def test_notes_stored_translated_before_are_shown_in_the_readers_language(marketer, google):
    lead = factories.LeadFactory(campaign=google)
    StageChange.objects.create(
        lead=lead, from_stage="new", to_stage="mql", by=marketer, at=lead.created_at,
        note="Status in de import",
    )  # fmt: skip
    StageChange.objects.create(
        lead=lead, from_stage="mql", to_stage="nurture", by=marketer, at=lead.created_at,
        note="Status in de import, zei de klant",
    )  # fmt: skip
    with translation.override("en"):
        notes = [c.get_note_display() for c in lead.stage_changes.order_by("pk") if c.note]
    assert notes == ["Status in the import", "Status in de import, zei de klant"]
