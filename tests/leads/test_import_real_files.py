"""Issue 17: files in the shapes real tools export (Excel's Unicode text, Meta Lead Ads,
HubSpot's alphabetical all-properties export, LinkedIn's Connections.csv, Pipedrive,
Salesforce API names, Mailchimp, LeadFlow's own export), each imported end to end through
the pages; every test says what each lead looks like afterwards. And credit: no import,
intake or API call changes an existing lead's first-touch campaign, origin or owner."""

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from leads import services as marketing
from leads.imports import reader as csv_import
from leads.models import ImportJob, ImportStatus, Lead, Origin, Stage, Touch
from tests import factories
from tests.leads.test_import import full_import, map_and_check, upload

pytestmark = pytest.mark.usefixtures("immediate_on_commit")

AMS = ZoneInfo("Europe/Amsterdam")
FIELDS = ("first_name", "last_name", "email", "phone", "company", "country", "stage")


def leads_by_email():
    return {lead.email: lead for lead in Lead.objects.select_related("campaign")}


def shape(lead):
    return tuple(getattr(lead, f) for f in FIELDS)


def test_excel_unicode_text_utf16_tab_crlf_in_a_txt_file(marketer_client, google):
    text = (
        "First Name\tLast Name\tEmail\tCompany\tCountry\tCampaign\r\n"
        "Zoë\tBrontë\tzoe@x.test\tCafé Noir\tBelgium\tGoogle Ads\r\n"
        "Łukasz\tŻak\tlukasz@x.test\tPolska Sp. z o.o.\tPoland\tGoogle Ads\r\n"
    )
    raw = text.encode("utf-16")  # with its byte order mark, as Excel writes it
    assert raw.startswith(b"\xff\xfe")
    job = full_import(marketer_client, raw, name="leads.txt")
    assert (job.status, job.created_count, job.encoding, job.delimiter) == (
        ImportStatus.DONE,
        2,
        "utf-16",
        "\t",
    )
    leads = leads_by_email()
    assert shape(leads["zoe@x.test"]) == (
        "Zoë",
        "Brontë",
        "zoe@x.test",
        "",
        "Café Noir",
        "Belgium",
        Stage.NEW,
    )
    assert leads["lukasz@x.test"].last_name == "Żak"
    assert {lead.campaign for lead in leads.values()} == {google}


def test_utf16_without_a_byte_order_mark_is_read_too():
    raw = "Last Name\tEmail\r\nLovelace\tada@x.test\r\n".encode("utf-16-le")
    found = csv_import.read_header(raw)
    assert (found.header, found.encoding, found.delimiter) == (
        ["Last Name", "Email"],
        "utf-16-le",
        "\t",
    )


def test_the_upload_offers_txt_and_tsv_files(marketer_client):
    body = marketer_client.get(reverse("leads:import")).content.decode()
    assert 'accept=".csv,.tsv,.txt,' in body


def test_an_xlsx_workbook_is_named_and_the_way_to_csv_given(marketer_client, google):
    response = upload(marketer_client, b"PK\x03\x04" + b"\x00" * 200, name="leads.xlsx")
    errors = " ".join(response.context["form"].errors["file"])
    assert "This is an Excel workbook (.xlsx)" in errors and "CSV UTF-8" in errors
    assert not ImportJob.objects.exists()


META_HEADER = (
    "id\tcreated_time\tad_id\tad_name\tadset_id\tadset_name\tcampaign_id\tcampaign_name\t"
    "form_id\tform_name\tis_organic\tplatform\tfull_name\temail\tphone_number\tcountry\r\n"
)


def test_a_meta_lead_ads_download_in_utf16_with_prefixes_and_its_test_lead(
    marketer_client, google
):
    text = META_HEADER + (
        "l:9001\t2026-11-20T14:22:11+01:00\tag:1\tAd\tas:1\tSet\tc:1\tMeta Autumn\tf:1\tForm\t"
        "false\tfb\tJan van der Berg\tjan@x.test\tp:+31612345678\tNL\r\n"
        "l:9002\t2026-11-21T08:00:00+01:00\tag:1\tAd\tas:1\tSet\tc:1\tMeta Autumn\tf:1\tForm\t"
        "false\tfb\t<test lead: dummy data for full_name>\ttest@meta.com\t"
        "<test lead: dummy data for phone_number>\t<test lead: dummy data for country>\r\n"
    )
    upload(marketer_client, text.encode("utf-16"), name="meta.csv", default_campaign=google.pk)
    job = ImportJob.objects.get()
    assert {job.mapping[i] for i in job.mapping} >= {"full_name", "email", "phone", "created_at"}
    job = map_and_check(marketer_client, job)
    assert dict(job.rows.values_list("line", "reason")) == {
        3: "Meta's test lead (dummy data), not a person"
    }
    # Meta's campaign is not a LeadFlow campaign: the row goes to the default, and says so.
    assert job.file_notes == {"default_campaign": {"Meta Autumn": 1}}
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "“Meta Autumn”: 1 row" in body
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    lead = Lead.objects.get()
    assert shape(lead) == (
        "Jan",
        "van der Berg",
        "jan@x.test",
        "+31612345678",
        "",
        "NL",
        Stage.NEW,
    )
    assert lead.campaign == google
    assert lead.created_at == dt.datetime(2026, 11, 20, 13, 22, 11, tzinfo=dt.UTC)


HUBSPOT_ALL = (
    "Company Name,Create Date,Email,First Name,Last Name,Lead Status,Lifecycle Stage,"
    "Mobile Phone Number,Phone Number\n"
)


def test_a_hubspot_all_properties_export_takes_the_lifecycle_stage_and_the_mobile(
    marketer_client, google
):
    text = HUBSPOT_ALL + (
        "Acme,2026-03-05 14:22,mql@x.test,Mia,Mql,New,Marketing Qualified Lead,,+31 20 1\n"
        "Beta,2026-04-01 09:00,sub@x.test,Sam,Sub,Open,Subscriber,,\n"
        "Gamma,2026-05-02 10:30,mob@x.test,Mo,Bile,,Lead,+31 6 11,\n"
        "Delta,2026-06-03 11:00,both@x.test,Bo,Th,,Lead,+31 6 22,+31 20 2\n"
        "Eps,2026-07-04 12:00,cust@x.test,Cus,Tomer,,Customer,,\n"
    )
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert job.status == ImportStatus.DONE and job.created_count == 5
    # The sales stage is reported with its count, not silently made new.
    assert job.file_notes == {"sales_status": {"Customer": 1}}
    leads = leads_by_email()
    assert shape(leads["mql@x.test"]) == (
        "Mia",
        "Mql",
        "mql@x.test",
        "+31 20 1",
        "Acme",
        "",
        Stage.MQL,
    )
    assert leads["sub@x.test"].stage == Stage.NEW
    assert leads["mob@x.test"].phone == "+31 6 11"  # only a mobile: that is the phone
    both = leads["both@x.test"]
    assert both.phone == "+31 20 2" and "Mobile: +31 6 22" in both.notes
    assert leads["cust@x.test"].stage == Stage.NEW
    assert leads["mql@x.test"].created_at == dt.datetime(2026, 3, 5, 14, 22, tzinfo=AMS)


LINKEDIN = (
    "Notes:\n"
    '"When exporting your connection data, you may notice that some of the email addresses '
    "are missing. You will only see email addresses for connections who have allowed their "
    'connections to see or download their email address."\n'
    "\n"
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    "Ada,Lovelace,https://www.linkedin.com/in/ada,ada@x.test,Analytical Engines,CTO,"
    "05 Nov 2026\n"
    "Bob,Builder,https://www.linkedin.com/in/bob,,Bob & Co,CEO,01 Oct 2026\n"
)


def test_linkedin_connections_with_their_notes_preamble(marketer_client, google):
    upload(marketer_client, LINKEDIN, default_campaign=google.pk)
    job = ImportJob.objects.get()
    assert job.header_skip == 3 and job.header[0] == "First Name"
    job = map_and_check(marketer_client, job)
    # Rows as a spreadsheet numbers them: preamble 1-3, header 4, Ada 5, Bob 6.
    assert dict(job.rows.values_list("line", "reason")) == {6: "no email and no phone number"}
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    lead = Lead.objects.get()
    assert shape(lead) == (
        "Ada",
        "Lovelace",
        "ada@x.test",
        "",
        "Analytical Engines",
        "",
        Stage.NEW,
    )
    assert (lead.job_title, lead.created_at) == ("CTO", dt.datetime(2026, 11, 5, tzinfo=AMS))


def test_pipedrive_persons_with_a_full_name(marketer_client, google):
    text = (
        "Person - Name,Person - Email,Person - Phone,Person - Organization\n"
        "Jan van der Berg,jan@x.test,+31 6 33,Berg BV\n"
        "Ada Lovelace,ada@x.test,,\n"
    )
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert job.mapping == {"0": "full_name", "1": "email", "2": "phone", "3": "company"}
    leads = leads_by_email()
    assert shape(leads["jan@x.test"]) == (
        "Jan",
        "van der Berg",
        "jan@x.test",
        "+31 6 33",
        "Berg BV",
        "",
        Stage.NEW,
    )
    assert (leads["ada@x.test"].first_name, leads["ada@x.test"].last_name) == ("Ada", "Lovelace")


def test_salesforce_api_names_and_statuses(marketer_client, google):
    text = (
        "FirstName,LastName,Email,Company,LeadSource,Status,Country\n"
        "Ann,Open,open@x.test,A,Web,Open - Not Contacted,NL\n"
        "Bea,Closed,closed@x.test,B,Web,Closed - Not Converted,NL\n"
        "Cas,Work,work@x.test,C,Trade Show,Working - Contacted,BE\n"
    )
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert job.mapping["4"] == "utm_source" and job.mapping["5"] == "status"
    leads = leads_by_email()
    assert [leads[e].stage for e in ("open@x.test", "closed@x.test", "work@x.test")] == [
        Stage.NEW,
        Stage.DISQUALIFIED,
        Stage.NEW,
    ]
    assert job.file_notes == {"sales_status": {"Working - Contacted": 1}}
    assert (leads["work@x.test"].utm_source, leads["work@x.test"].country) == ("Trade Show", "BE")


def test_a_mailchimp_audience_with_its_country_code_and_a_nameless_subscriber(
    marketer_client, google
):
    text = (
        "Email Address,First Name,Last Name,Address,Phone Number,MEMBER_RATING,OPTIN_TIME,"
        "CC,REGION,NOTES\n"
        "ada@x.test,Ada,Lovelace,,,2,2026-10-01 09:15:00,GB,London,VIP\n"
        "anon@x.test,,,,,1,2026-10-02 10:00:00,NL,,\n"
    )
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert (job.created_count, job.invalid_rows) == (2, 0)
    leads = leads_by_email()
    assert shape(leads["ada@x.test"])[-2:] == ("GB", Stage.NEW)
    assert leads["ada@x.test"].notes == "VIP"
    anon = leads["anon@x.test"]
    assert (anon.last_name, anon.country, str(anon)) == ("", "NL", "anon@x.test")
    assert anon.created_at == dt.datetime(2026, 10, 2, 10, 0, tzinfo=AMS)


def test_phone_only_rows_are_accepted_with_a_name_and_rows_with_neither_are_not(
    marketer_client, google
):
    text = "Last Name,Phone,Email\nBel,+31 6 44,\nNobody,,\n"
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert dict(job.rows.filter(outcome="invalid").values_list("line", "reason")) == {
        3: "no email and no phone number"
    }
    assert shape(Lead.objects.get()) == ("", "Bel", "", "+31 6 44", "", "", Stage.NEW)


def test_a_record_with_quoted_line_breaks_is_reported_by_its_spreadsheet_row(
    marketer_client, google
):
    text = (
        "Last Name,Email,Notes\n"
        "Ada,ada@x.test,fine\n"
        'Bad,not-an-email,"three\nline\nnote"\n'
        "Cy,cy@x.test,fine\n"
        "Di,di-at-x,one\n"
    )
    upload(marketer_client, text, default_campaign=google.pk)
    job = map_and_check(marketer_client, ImportJob.objects.get())
    assert dict(job.rows.values_list("line", "reason")) == {
        3: "invalid email “not-an-email”",
        5: "invalid email “di-at-x”",
    }


def test_an_unknown_campaign_falls_back_to_the_default_with_a_note(marketer_client, google):
    other = factories.CampaignFactory(name="Webinar")
    text = "Last Name,Email,Campaign\nA,a@x.test,Webinar\nB,b@x.test,Nope\nC,c@x.test,Nope\n"
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert job.file_notes == {"default_campaign": {"Nope": 2}}
    leads = leads_by_email()
    assert [leads[e].campaign for e in ("a@x.test", "b@x.test", "c@x.test")] == [
        other,
        google,
        google,
    ]


def test_a_mapped_creation_date_dates_the_lead_but_its_clocks_start_at_the_import(
    marketer_client, google
):
    text = (
        "Last Name,Email,Create Date\nOld,old@x.test,2025-12-01 10:00\nSoon,s@x.test,2030-01-01\n"
    )
    upload(marketer_client, text, default_campaign=google.pk)
    job = map_and_check(marketer_client, ImportJob.objects.get())
    assert dict(job.rows.values_list("line", "reason")) == {
        3: "created “2030-01-01” lies in the future"
    }
    imported_at = timezone.now()
    with time_machine.travel(imported_at, tick=False):
        marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    lead = Lead.objects.get()
    assert lead.created_at == dt.datetime(2025, 12, 1, 10, 0, tzinfo=AMS)
    assert lead.received_at == imported_at and lead.court_since == imported_at
    # Triage of a web-form inquiry: an hour from the import, not from 2025.
    assert lead.triage_due_at == imported_at + dt.timedelta(minutes=60)
    touch = Touch.objects.get(lead=lead)
    assert touch.occurred_at == lead.created_at
    assert lead.court_time(imported_at + dt.timedelta(minutes=30))["marketing"] == 30


def test_the_date_order_of_a_file_is_read_from_its_dates(marketer_client, google):
    text = "Last Name,Email,Created\nA,a@x.test,03/05/2026\nB,b@x.test,12/31/2025\n"
    job = full_import(marketer_client, text, default_campaign=google.pk)
    assert job.date_order == "mdy"
    leads = leads_by_email()
    assert leads["a@x.test"].created_at.astimezone(AMS).date() == dt.date(2026, 3, 5)


def test_leadflows_own_export_imports_back_with_its_marketing_stages(
    marketer_client, make_lead, rep, google
):
    for stage in (Stage.NEW, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED, Stage.WON):
        make_lead(stage, email=f"{stage}@x.test", company="@Home Interiors")
    marketing.lead_intake(by=rep, data={"last_name": "Found", "email": "found@x.test"})
    exported = b"".join(marketer_client.get(reverse("leads:export"))).decode("utf-8-sig")
    assert "'@Home Interiors" in exported  # defused by the export
    # Into "another LeadFlow": the same rows, under emails this one does not know yet.
    rows = list(csv.reader(io.StringIO(exported)))
    email = rows[0].index("email")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(rows[0])
    for row in rows[1:]:
        row[email] = "copy-" + row[email]
        writer.writerow(row)
    job = full_import(marketer_client, out.getvalue(), default_campaign=google.pk)
    assert job.own_export and job.status == ImportStatus.DONE, job.error
    copies = {
        e.removeprefix("copy-"): lead
        for e, lead in leads_by_email().items()
        if e.startswith("copy-")
    }
    assert {e: lead.stage for e, lead in copies.items()} == {
        "new@x.test": Stage.NEW,
        "mql@x.test": Stage.MQL,
        "nurture@x.test": Stage.NURTURE,
        "disqualified@x.test": Stage.DISQUALIFIED,
        "won@x.test": Stage.NEW,  # reported: sales stages are reached by a handoff
        "found@x.test": Stage.NEW,
    }
    assert job.file_notes == {"sales_status": {"won": 1, "accepted": 1}}
    assert {lead.company for e, lead in copies.items() if e != "found@x.test"} == {
        "@Home Interiors"
    }
    original = Lead.objects.get(email="new@x.test")
    assert copies["new@x.test"].created_at == original.created_at


# --- credit never moves -----------------------------------------------------------------


@pytest.fixture
def found_by_sales(rep):
    """A lead a rep found himself: sales-generated, no campaign."""
    return marketing.lead_intake(
        by=rep, data={"last_name": "Found", "email": "found@x.test", "phone": ""}
    ).lead


def assert_credit_unmoved(lead, rep):
    lead.refresh_from_db()
    assert (lead.campaign_id, lead.origin, lead.owner, lead.stage) == (
        None,
        Origin.SALES,
        rep,
        Stage.ACCEPTED,
    )


def test_an_import_never_takes_a_sales_found_lead_for_its_campaign(
    marketer_client, found_by_sales, rep, google
):
    text = (
        "First Name,Last Name,Email,Company,Phone,Campaign Name\n"
        "X,Other,FOUND@x.test,Acme,+31 1,Google Ads\n"
    )
    job = full_import(marketer_client, text)
    assert (job.created_count, job.touched_count) == (0, 1)
    assert_credit_unmoved(found_by_sales, rep)
    found_by_sales.refresh_from_db()
    # Blank fields are filled; the name it has is kept; the touch is google's.
    assert (found_by_sales.company, found_by_sales.phone, found_by_sales.last_name) == (
        "Acme",
        "+31 1",
        "Found",
    )
    assert found_by_sales.last_touch_campaign == google
    assert Touch.objects.filter(lead=found_by_sales, campaign=google).exists()


def test_the_public_intake_never_moves_credit_either(client, found_by_sales, rep, google):
    response = client.post(
        reverse("intake", args=[google.intake_key]),
        {"last_name": "Other", "email": "found@x.test", "company": "Acme"},
    )
    assert response.status_code in (200, 201, 302)
    assert_credit_unmoved(found_by_sales, rep)


def test_the_api_never_moves_credit_either(found_by_sales, rep, google, marketer):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(marketer)
    response = api.post(
        "/api/v1/leads/",
        {"last_name": "Other", "email": "found@x.test", "campaign": google.pk},
        format="json",
    )
    assert response.status_code in (200, 201, 202), response.content
    assert_credit_unmoved(found_by_sales, rep)
