"""CSV import (SPEC §6): headers, encodings, delimiters, every bad-row reason, the confirm
step, the batched run, resuming after a failure, and the line-by-line report."""

import csv
import io

import pytest
from django.urls import reverse

from leads.imports import reader as csv_import
from leads.imports import services as imports
from leads.models import ImportJob, ImportStatus, Lead, Stage, Touch
from tests import factories

SALESFORCE = "First Name,Last Name,Email,Company,Phone,Title,Campaign Name,Lead Status,Country"
HUBSPOT = "First name,Last name,Email,Phone number,Company name,Job title,Lifecycle stage"


def upload(client, text, *, encoding="utf-8", name="leads.csv", **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    raw = text.encode(encoding) if isinstance(text, str) else text
    data = {"file": SimpleUploadedFile(name, raw, content_type="text/csv")}
    data.setdefault("default_inquiry_type", "web_form")
    data.update(extra)
    return client.post(reverse("leads:import"), data)


def map_and_check(client, job, **overrides):
    data = {f"col_{k}": v for k, v in job.mapping.items()}
    data["default_inquiry_type"] = job.default_inquiry_type
    data["default_campaign"] = job.default_campaign_id or ""
    data.update(overrides)
    client.post(reverse("leads:import_mapping", args=[job.pk]), data)
    job.refresh_from_db()
    return job


def full_import(client, text, skip=True, **upload_extra):
    response = upload(client, text, **upload_extra)
    assert response.status_code == 302, response.context["form"].errors
    job = ImportJob.objects.latest("pk")
    job = map_and_check(client, job)
    client.post(
        reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"} if skip else {}
    )
    job.refresh_from_db()
    return job


# The import's Celery tasks run as their transactions commit.
pytestmark = pytest.mark.usefixtures("immediate_on_commit")


def test_salesforce_headers_are_mapped_case_insensitively():
    header = [h.upper() for h in SALESFORCE.split(",")]
    assert csv_import.guess_mapping(header) == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "company",
        "4": "phone",
        "5": "job_title",
        "6": "campaign",
        "7": "status",
        "8": "country",
    }


def test_lead_source_names_a_channel_and_is_kept_as_the_source_not_a_campaign():
    """Salesforce's Lead Source ("Web", "Partner Referral") and HubSpot's Original Source
    ("Organic Search") are not campaigns: mapping them to Campaign made every row an
    unknown campaign."""
    mapping = csv_import.guess_mapping(["Last Name", "Email", "Lead Source", "Campaign Name"])
    assert mapping == {"0": "last_name", "1": "email", "2": "utm_source", "3": "campaign"}
    assert csv_import.guess_mapping(["Original Source"]) == {"0": "utm_source"}


def test_hubspot_headers_are_mapped():
    assert csv_import.guess_mapping(HUBSPOT.split(",")) == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "phone",
        "4": "company",
        "5": "job_title",
        "6": "status",
    }


def test_mapping_page_is_prefilled_and_editable(marketer_client, google):
    upload(marketer_client, f"{HUBSPOT}\nAda,Lovelace,ada@x.test,1,ACME,CEO,lead\n")
    job = ImportJob.objects.get()
    response = marketer_client.get(reverse("leads:import_mapping", args=[job.pk]))
    body = response.content.decode()
    assert '<option value="company" selected>' in body
    assert "Lovelace" in body  # preview of the first values
    # The user maps the Company name column to notes instead.
    job = map_and_check(marketer_client, job, col_4="notes", default_campaign=google.pk)
    assert job.mapping["4"] == "notes" and job.status == ImportStatus.VALIDATED


@pytest.mark.parametrize(
    "encoding, delimiter",
    [("utf-8", ","), ("utf-8-sig", ";"), ("cp1252", ";"), ("cp1252", ",")],
)
def test_encodings_and_delimiters(marketer_client, google, encoding, delimiter):
    text = (
        SALESFORCE.replace(",", delimiter)
        + "\r\n"
        + delimiter.join(
            ["Zoë", "Brontë", "zoe@x.test", "Café Noir", "", "", "Google Ads", "", "België"]
        )
        + "\r\n"
    )
    job = full_import(marketer_client, text, encoding=encoding)
    assert job.status == ImportStatus.DONE, job.error
    lead = Lead.objects.get()
    assert (lead.first_name, lead.last_name, lead.company, lead.country) == (
        "Zoë",
        "Brontë",
        "Café Noir",
        "België",
    )
    assert lead.campaign == google


def test_every_bad_row_reason_is_reported_with_its_line(marketer_client, google):
    long_company = "C" * 201
    rows = [
        SALESFORCE,
        "Ada,Lovelace,ada@x.test,,,,Google Ads,,",  # 2 fine
        "Bob,,,,+31 6 1234 5678,,Google Ads,,",  # 3 a phone without a name
        "Cy,Young,,,,,Google Ads,,",  # 4 neither email nor phone
        "Di,Dot,not-an-email,,,,Google Ads,,",  # 5 invalid email
        "Ed,Eel,ed@x.test,,,,Yahoo Ads,,",  # 6 unknown campaign
        "Flo,Fox,ADA@x.test,,,,gads-1,,",  # 7 duplicate of line 2 (campaign by UTM code)
        f"Gus,Gray,gus@x.test,{long_company},,,Google Ads,,",  # 8 over-long company
        "",  # blank line: ignored, not an error
        "Hal,Hill,hal@x.test,,,,google ads,,",  # 10 fine (case-insensitive campaign)
    ]
    upload(marketer_client, "\n".join(rows) + "\n")
    job = map_and_check(marketer_client, ImportJob.objects.get())
    assert (job.total_rows, job.valid_rows, job.invalid_rows) == (8, 2, 6)
    reasons = dict(job.rows.values_list("line", "reason"))
    assert reasons == {
        3: "missing name (a phone needs one)",
        4: "no email and no phone number",
        5: "invalid email “not-an-email”",
        6: "unknown campaign “Yahoo Ads”",
        7: "duplicate within the file (same email as line 2)",
        8: "Company is longer than 200 characters",
    }
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert (
        "unknown campaign “Yahoo Ads”" in body
        and "Import the good rows and skip the 6 bad rows" in body
    )


def test_a_file_without_campaigns_needs_a_default_at_the_mapping_step(marketer_client):
    """Not a hundred rows that each fail the check for the same reason: the mapping step
    says it once, before any row is read."""
    upload(marketer_client, "Last Name,Email\nLovelace,ada@x.test\n")
    job = ImportJob.objects.get()
    data = {f"col_{k}": v for k, v in job.mapping.items()} | {"default_inquiry_type": "other"}
    response = marketer_client.post(reverse("leads:import_mapping", args=[job.pk]), data)
    assert "Choose a campaign for the rows" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.MAPPING and not job.rows.exists()


def test_a_row_with_an_empty_campaign_cell_and_no_default_is_reported(marketer_client, google):
    upload(marketer_client, "Last Name,Email,Campaign\nLovelace,ada@x.test,\n")
    job = map_and_check(marketer_client, ImportJob.objects.get())
    assert job.invalid_rows == 1
    assert "no campaign" in job.rows.get().reason


def test_confirm_needs_agreement_to_skip_bad_rows(marketer_client, google):
    upload(
        marketer_client,
        f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\nB,Beta,,,,,Google Ads,,\n",
    )
    job = map_and_check(marketer_client, ImportJob.objects.get())
    response = marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), follow=True)
    assert "Confirm that the bad row will be skipped." in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED and not Lead.objects.exists()
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.touched_count, job.skipped_count) == (1, 0, 1)


def test_known_emails_become_touches_and_statuses_set_the_stage(
    marketer_client, make_lead, google, marketer
):
    existing = make_lead(Stage.MQL, email="old@x.test", phone="")
    text = (
        f"{SALESFORCE}\n"
        "Old,Friend,OLD@x.test,,+31 6 99,,Google Ads,,\n"
        "New,Mql,mql@x.test,,,,Google Ads,Marketing Qualified Lead,\n"
        "New,Nurture,later@x.test,,,,Google Ads,Contact in Future,\n"
        "New,Sub,sub@x.test,,,,Google Ads,subscriber,\n"
        "New,Dq,dq@x.test,,,,Google Ads,Unqualified,\n"
        "New,Plain,plain@x.test,,,,Google Ads,Open - Not Contacted,\n"
    )
    job = full_import(marketer_client, text)
    assert (job.status, job.created_count, job.touched_count) == (ImportStatus.DONE, 5, 1)
    existing.refresh_from_db()
    assert existing.phone == "+31 6 99" and existing.last_touch_campaign == google
    assert Touch.objects.filter(lead=existing).count() == 2
    stages = dict(Lead.objects.exclude(pk=existing.pk).values_list("last_name", "stage"))
    assert stages == {
        "Mql": "mql",
        "Nurture": "nurture",
        "Sub": "new",  # a HubSpot subscriber is a lead marketing has not looked at
        "Dq": "disqualified",
        "Plain": "new",
    }
    mql = Lead.objects.get(last_name="Mql")
    assert mql.mql_at is not None and mql.mql_due_at is not None
    assert list(mql.stage_changes.values_list("to_stage", flat=True)) == ["new", "mql"]


def test_a_rep_imports_sales_generated_leads(rep_client, rep, google):
    job = full_import(rep_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,MQL,\n")
    lead = Lead.objects.get()
    assert job.status == ImportStatus.DONE
    assert (lead.origin, lead.stage, lead.owner) == ("sales", "accepted", rep)


def test_run_in_batches_resumes_after_a_failure(marketer_client, google, monkeypatch, marketer):
    rows = "\n".join(f"F{i},L{i},p{i}@x.test,,,,Google Ads,," for i in range(7))
    upload(marketer_client, f"{SALESFORCE}\n{rows}\n")
    job = map_and_check(marketer_client, ImportJob.objects.get())
    real = imports.lead_import_batch
    calls = []

    def flaky(**kwargs):
        calls.append(len(kwargs["rows"]))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(imports, "lead_import_batch", flaky)
    monkeypatch.setattr(imports, "IMPORT_BATCH", 3)
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    job.refresh_from_db()
    # The first batch is in, the second rolled back whole, the rest not started.
    assert job.status == ImportStatus.FAILED and "database went away" in job.error
    assert job.processed_rows == 3 and Lead.objects.count() == 3
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "Retry the rest" in body
    marketer_client.post(reverse("leads:import_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Lead.objects.count() == 7 and job.created_count == 7
    assert sorted(job.rows.values_list("line", flat=True)) == list(range(2, 9))


def test_report_csv_lists_every_line(marketer_client, google):
    job = full_import(
        marketer_client,
        f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\nB,Beta,,,,,Google Ads,,\n",
    )
    response = marketer_client.get(reverse("leads:import_report", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    lead = Lead.objects.get()
    assert rows == [
        ["line", "outcome", "email", "lead_id", "reason"],
        ["2", "created", "a@x.test", str(lead.pk), ""],
        ["3", "invalid", "", "", "no email and no phone number"],
    ]


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "file is empty."),
        (b"PK\x03\x04\x00\x00binary", "This is an Excel workbook (.xlsx)"),
        (b"\x00\x01\x02\x03\xff\xfe\x00\x00", "This looks like a binary file"),
        (b"\n\n", "The file is empty."),
        (b",,,\nA,B,C\n", "The first row must name the columns."),
        (b"Last Name,Email\n\x81\x8d\x8f\x90\x9d\n", "not text LeadFlow can read"),
    ],
)
def test_unreadable_files_are_refused_with_a_message(marketer_client, raw, message):
    response = upload(marketer_client, raw)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists()


def test_too_large_files_are_refused(marketer_client, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_BYTES", 10)
    response = upload(marketer_client, f"{SALESFORCE}\nA,B,c@x.test\n")
    assert "larger than 50 MB" in " ".join(response.context["form"].errors["file"])


def test_an_upload_past_djangos_memory_threshold_never_touches_the_disk(
    marketer_client, settings, tmp_path, monkeypatch
):
    """Django spools uploads over 2.5 MB to a temporary file, which outlives a web worker
    killed mid-upload; LeadFlow's stay in memory (the import reads them whole anyway)."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    seen = []
    real_create = imports.import_create

    def create(**kwargs):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))  # while the upload is open
        return real_create(**kwargs)

    monkeypatch.setattr(imports, "import_create", create)
    rows = "".join(f"A,Alpha{i},a{i}@x.test,,,,,,\n" for i in range(120_000))
    text = f"{SALESFORCE}\n{rows}"
    assert len(text) > 2.5 * 1024 * 1024
    response = upload(marketer_client, text)
    assert response.status_code == 302
    assert seen == [[]]
    assert ImportJob.objects.get().size == len(text)
    assert not list(tmp_path.iterdir())


def test_mapping_needs_last_name_and_email(marketer_client, google):
    upload(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\n")
    job = ImportJob.objects.get()
    response = marketer_client.post(
        reverse("leads:import_mapping", args=[job.pk]),
        {"col_0": "first_name", "col_1": "last_name", "default_inquiry_type": "other"},
    )
    assert "Map a column to Email, Phone or Mobile phone" in response.content.decode()
    response = marketer_client.post(
        reverse("leads:import_mapping", args=[job.pk]),
        {
            "col_0": "last_name",
            "col_1": "last_name",
            "col_2": "email",
            "default_inquiry_type": "other",
        },
    )
    assert "one column only" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.MAPPING


def test_imports_belong_to_their_uploader(marketer_client, rep_client, manager_client, google):
    upload(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\n")
    job = ImportJob.objects.get()
    assert rep_client.get(job.get_absolute_url()).status_code == 404
    assert rep_client.post(reverse("leads:import_confirm", args=[job.pk])).status_code == 404
    assert manager_client.get(job.get_absolute_url()).status_code == 200


def test_progress_endpoint_reports_json(marketer_client, google):
    job = full_import(marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\n")
    data = marketer_client.get(reverse("leads:import_progress", args=[job.pk])).json()
    assert data["status"] == "done" and data["progress"] == 100 and data["created"] == 1


def test_anonymous_and_roleless_users_cannot_import(client, db):
    assert client.get(reverse("leads:import")).status_code == 302
    client.force_login(factories.UserFactory())
    assert client.get(reverse("leads:import")).status_code == 403


def test_a_reps_import_needs_no_campaign(rep_client, rep):
    job = full_import(rep_client, "Last Name,Email\nFound,found@x.test\n")
    assert (job.status, job.invalid_rows, job.created_count) == (ImportStatus.DONE, 0, 1)
    lead = Lead.objects.get()
    assert (lead.origin, lead.owner, lead.campaign) == ("sales", rep, None)


def test_the_report_leaves_out_the_ids_of_leads_outside_the_importers_scope(
    rep_client, manager_client, make_lead, other_rep, google
):
    """rep1's import touched rep2's lead: rep1's report says "touched" without its id, as
    the API's ``lead: null`` does; their own new lead keeps its id, and a manager (who sees
    every lead) gets both."""
    theirs = make_lead(Stage.ACCEPTED, owner=other_rep)
    job = full_import(
        rep_client,
        f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,MQL,\nB,Beta,{theirs.email},,,,,,\n",
    )
    mine = Lead.objects.get(email="a@x.test")
    url = reverse("leads:import_report", args=[job.pk])

    def report(client):
        return list(csv.reader(io.StringIO(client.get(url).content.decode())))[1:]

    assert report(rep_client) == [
        ["2", "created", "a@x.test", str(mine.pk), ""],
        ["3", "touched", theirs.email, "", ""],
    ]
    assert report(manager_client) == [
        ["2", "created", "a@x.test", str(mine.pk), ""],
        ["3", "touched", theirs.email, str(theirs.pk), ""],
    ]
    body = rep_client.get(job.get_absolute_url()).content.decode()
    assert theirs.get_absolute_url() not in body


def test_the_report_checks_the_scope_once_per_chunk_of_rows(rep, other_rep, make_lead):
    from leads.imports.views import with_visible_leads
    from leads.models import ImportRow

    theirs = make_lead(Stage.ACCEPTED, owner=other_rep)
    mine = make_lead(Stage.ACCEPTED, owner=rep)
    rows = [ImportRow(line=i, lead_id=[mine.pk, theirs.pk, None][i % 3]) for i in range(7)]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        out = [lead_id for _row, lead_id in with_visible_leads(rep, rows, chunk_size=3)]
    assert out == [mine.pk, None, None] * 2 + [mine.pk]
    assert len(queries) == 3
