"""What the import pages say (the tester's round on them): an honest progress bar while the
rows are checked, the progress endpoint's ready-made localized label, numbers written the
language's way, singular and plural, a file with nothing to import, and the import's note
on a lead's timeline in the reader's language."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy

from leadflow.i18n import lazy_text
from leads.models import ImportJob, ImportStatus, Lead, StageChange, SystemNote
from tests import factories

from .test_import import SALESFORCE, full_import, map_and_check, upload

# The import's Celery tasks run as their transactions commit.
pytestmark = pytest.mark.usefixtures("immediate_on_commit")


def in_dutch(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "nl"
    return client


def uploaded_job(client):
    """A checked one-row import, waiting for confirmation; the test sets its counters."""
    upload(client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\n")
    return map_and_check(client, ImportJob.objects.latest("pk"))


def set_state(job, **fields):
    ImportJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def page(client, job):
    return client.get(job.get_absolute_url()).content.decode()


def progress(client, job):
    return client.get(reverse("leads:import_progress", args=[job.pk])).json()


def progress_bar(body):
    return re.search(r'<div class="progress [^>]*role="progressbar"[^>]*>.*?</div>', body, re.S)


# --- 1. Checking the rows: no percentage until the number of rows is known ---------------


def test_rows_being_checked_show_an_indeterminate_bar_not_100_percent(marketer_client, google):
    job = set_state(
        uploaded_job(marketer_client),
        status=ImportStatus.VALIDATING,
        total_rows=0,
        checked_rows=10000,
    )
    body = page(marketer_client, job)
    bar = progress_bar(body).group(0)
    assert "progress-indeterminate" in bar and "aria-valuenow" not in bar and "%" not in bar
    assert "10,000 rows checked…" in body and "?" not in body.split('id="import-progress"')[1]
    data = progress(marketer_client, job)
    assert (data["progress"], data["progress_label"]) == (None, "10,000 rows checked…")


def test_checking_in_dutch_counts_the_rows_the_dutch_way(marketer_client, google):
    job = set_state(
        uploaded_job(marketer_client),
        status=ImportStatus.VALIDATING,
        total_rows=0,
        checked_rows=10000,
    )
    in_dutch(marketer_client)
    assert "10.000 rijen gecontroleerd…" in page(marketer_client, job)
    assert progress(marketer_client, job)["progress_label"] == "10.000 rijen gecontroleerd…"


def test_before_the_first_rows_are_checked_the_file_is_being_read(marketer_client, google):
    job = set_state(
        uploaded_job(marketer_client), status=ImportStatus.VALIDATING, total_rows=0, checked_rows=0
    )
    assert "Reading the file…" in page(marketer_client, job)
    assert progress(marketer_client, job)["progress"] is None


def test_checking_again_with_a_known_total_shows_a_percentage(marketer_client, google):
    # A changed mapping checks the same file again: its number of rows is known by then.
    job = set_state(
        uploaded_job(marketer_client),
        status=ImportStatus.VALIDATING,
        total_rows=20000,
        checked_rows=5000,
    )
    body = page(marketer_client, job)
    assert 'aria-valuenow="25"' in progress_bar(body).group(0)
    assert "5,000 of 20,000 rows checked…" in body
    data = progress(marketer_client, job)
    assert (data["progress"], data["progress_label"]) == (25, "5,000 of 20,000 rows checked…")


# --- 2. Importing: the endpoint's label reads like the page's -----------------------------


@pytest.mark.parametrize(
    "language, before, after",
    [
        ("en", "2,000 of 20,000 rows done…", "4,000 of 20,000 rows done…"),
        ("nl", "2.000 van 20.000 rijen klaar…", "4.000 van 20.000 rijen klaar…"),
    ],
)
def test_import_progress_label_is_localized_on_the_page_and_in_the_endpoint(
    marketer_client, google, language, before, after
):
    job = set_state(
        uploaded_job(marketer_client),
        status=ImportStatus.RUNNING,
        total_rows=20000,
        valid_rows=20000,
        processed_rows=2000,
    )
    marketer_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    body = page(marketer_client, job)
    assert before in body and 'aria-valuenow="10"' in body
    assert progress(marketer_client, job)["progress_label"] == before
    job = set_state(job, processed_rows=4000)
    data = progress(marketer_client, job)
    assert (data["progress"], data["progress_label"]) == (20, after)


# --- 3. Numbers with thousands separators everywhere --------------------------------------


def test_confirm_button_and_skip_checkbox_group_thousands(marketer_client, google):
    job = set_state(
        uploaded_job(marketer_client),
        total_rows=21234,
        valid_rows=20000,
        invalid_rows=1234,
        existing_matches=0,
    )
    body = page(marketer_client, job)
    assert "Import 20,000 rows" in body and "Import 20000" not in body
    assert "skip the 1,234 bad rows listed below" in body
    in_dutch(marketer_client)
    body = page(marketer_client, job)
    assert "20.000 rijen importeren" in body and "sla de 1.234 foute rijen" in body


def test_refused_confirm_names_the_bad_rows_with_grouping(marketer_client, google):
    job = set_state(uploaded_job(marketer_client), valid_rows=20000, invalid_rows=1234)
    response = marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), follow=True)
    assert "Confirm that the 1,234 bad rows will be skipped." in response.content.decode()


def test_import_notification_numbers_are_written_in_the_readers_language():
    text = lazy_text(
        gettext_lazy("%(file)s: %(created)s created, %(touched)s added to existing leads."),
        file="big.csv",
        created=12345,
        touched=0,
    )
    with translation.override("en"):
        assert str(text) == "big.csv: 12,345 created, 0 added to existing leads."
    with translation.override("nl"):
        assert str(text) == "big.csv: 12.345 aangemaakt, 0 toegevoegd aan bestaande leads."


# --- 4. Singular and plural ----------------------------------------------------------------


def test_one_row_reads_singular_in_english_and_dutch(marketer_client, google):
    factories.LeadFactory(email="known@x.test", campaign=google)
    job = full_import(
        marketer_client,
        f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\nK,Known,known@x.test,,,,Google Ads,,\n",
    )
    assert (job.created_count, job.touched_count, job.skipped_count) == (1, 1, 0)
    body = page(marketer_client, job)
    assert "Done: 1 lead created, 1 touch added to an existing lead, 0 rows skipped." in body, body
    in_dutch(marketer_client)
    body = page(marketer_client, job)
    assert (
        "Klaar: 1 lead aangemaakt, 1 contactmoment toegevoegd aan een bestaande lead, "
        "0 rijen overgeslagen." in body
    )


def test_report_cards_say_row_for_one_and_rows_for_more(marketer_client, google):
    upload(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\n")
    job = map_and_check(marketer_client, ImportJob.objects.latest("pk"))
    body = page(marketer_client, job)
    assert '<div class="small">row in the file</div>' in body
    assert '<div class="small">good row</div>' in body
    assert '<div class="small">bad rows (skipped)</div>' in body  # 0 bad rows
    in_dutch(marketer_client)
    body = page(marketer_client, job)
    assert '<div class="small">rij in het bestand</div>' in body
    assert '<div class="small">goede rij</div>' in body


# --- 5. Nothing to import: say so at once, offer another file ------------------------------


def test_a_header_only_file_says_it_has_no_rows_and_offers_no_import(marketer_client, google):
    upload(marketer_client, f"{SALESFORCE}\n", default_campaign=google.pk)
    job = map_and_check(marketer_client, ImportJob.objects.latest("pk"))
    assert (job.status, job.total_rows, job.valid_rows) == (ImportStatus.VALIDATED, 0, 0)
    body = page(marketer_client, job)
    assert "The file has no data rows" in body
    assert reverse("leads:import_confirm", args=[job.pk]) not in body
    assert "Import 0 rows" not in body and "Ready to import" not in body
    assert f'href="{reverse("leads:import")}">Upload another file</a>' in body
    assert "Nothing to import" in marketer_client.get(reverse("leads:import")).content.decode()
    in_dutch(marketer_client)
    body = page(marketer_client, job)
    assert "Het bestand heeft geen rijen met gegevens" in body and "Niets te importeren" in body


def test_a_file_without_one_good_row_says_so_and_offers_no_import(marketer_client, google):
    upload(marketer_client, f"{SALESFORCE}\nA,,,,+31 6 1,,Google Ads,,\nB,Beta,,,,,Google Ads,,\n")
    job = map_and_check(marketer_client, ImportJob.objects.latest("pk"))
    assert (job.total_rows, job.valid_rows, job.invalid_rows) == (2, 0, 2)
    body = page(marketer_client, job)
    assert "None of the 2 rows in the file can be imported" in body
    assert reverse("leads:import_confirm", args=[job.pk]) not in body
    assert "Upload another file" in body
    assert reverse("leads:import_mapping", args=[job.pk]) in body  # a default may fix it
    assert "missing name (a phone needs one)" in body and "no email and no phone number" in body


def test_a_single_bad_row_is_named_in_the_singular(marketer_client, google):
    upload(marketer_client, f"{SALESFORCE}\nA,Alpha,,,,,Google Ads,,\n")
    job = map_and_check(marketer_client, ImportJob.objects.latest("pk"))
    assert "The row in the file cannot be imported" in page(marketer_client, job)


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
