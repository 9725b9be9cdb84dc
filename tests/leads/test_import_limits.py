"""The CSV import's bounds (security issue 15, finding 4): reading a file (its header at
upload, its rows in the check and the run) never makes a decoded copy of it, a check
keeps the first MAX_PROBLEM_ROWS bad rows and counts the rest per reason, a file has at
most MAX_ROWS rows, and the mapping page reads only the start of the file."""

import csv
import io
import re
import tracemalloc
from unittest.mock import patch

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.imports import reader as csv_import
from leads.imports import services as imports
from leads.models import (
    MAX_PROBLEM_ROWS,
    ImportFile,
    ImportJob,
    ImportOutcome,
    ImportStatus,
    Lead,
    Touch,
)

from .test_import import SALESFORCE, map_and_check, upload

# The import's Celery tasks run as their transactions commit.
pytestmark = pytest.mark.usefixtures("immediate_on_commit")


def peak_memory(function):
    """(result, peak bytes allocated) of ``function()``."""
    tracemalloc.start()
    try:
        result = function()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


# --- Reading: line by line, no decoded copy of the file -----------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "windows-1252"])
def test_reading_the_rows_makes_no_decoded_copy_of_the_file(encoding):
    text = "Last Name,Email\n" + "Brontë,b@x.test\n" * 100_000
    raw = text.encode("cp1252" if encoding == "windows-1252" else encoding)
    count, peak = peak_memory(lambda: sum(1 for _ in csv_import.iter_rows(raw, encoding, ",")))
    assert count == 100_000
    # Decoding the whole file first held its text (1.7 MB) and a StringIO of it (4x that).
    assert peak < len(raw) / 4, f"{peak / 2**20:.1f} MB for a {len(raw) / 2**20:.1f} MB file"


def test_a_second_byte_order_mark_is_not_part_of_the_header():
    raw = "\ufeff\ufeffLast Name,Email\nLovelace,ada@x.test\n".encode()
    assert list(csv_import.iter_rows(raw, "utf-8-sig", ",")) == [(2, ["Lovelace", "ada@x.test"])]


def test_a_line_that_cannot_be_decoded_is_a_file_problem():
    raw = b"Last Name,Email\nLovelace,ada@x.test\nBront\xeb,b@x.test\n"
    rows = csv_import.iter_rows(raw, "utf-8", ",")
    with pytest.raises(csv_import.FileProblem, match="not text LeadFlow can read"):
        list(rows)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "windows-1252"])
def test_reading_the_header_of_an_upload_makes_no_decoded_copy_of_the_file(encoding):
    text = "Last Name;Email\n" + "Brontë;b@x.test\n" * 100_000
    raw = text.encode("cp1252" if encoding == "windows-1252" else encoding)
    found, peak = peak_memory(lambda: csv_import.read_header(raw))
    assert found == (["Last Name", "Email"], encoding, ";", 0)
    # The upload's check decoded the whole file into a str and a StringIO of that: 8 MB.
    assert peak < len(raw) / 4, f"{peak / 2**20:.1f} MB for a {len(raw) / 2**20:.1f} MB file"


def test_an_upload_with_a_byte_order_mark_but_not_utf_8_is_refused_with_a_message(
    marketer_client,
):
    response = upload(marketer_client, b"\xef\xbb\xbfLast Name,Email\nBront\xeb,b@x.test\n")
    assert response.status_code == 200  # was a UnicodeDecodeError: a server error
    assert "not text LeadFlow can read" in " ".join(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists()


# --- The check: the first MAX_PROBLEM_ROWS bad rows kept, every bad row counted ------------


def mixed_file(blocks=1000):
    """Per block a good row and three bad ones (no email, a bad email, a duplicate of an
    earlier block's good row); the last block's first bad row has two problems. 1,000
    blocks: 4,000 rows, 1,000 good, 3,000 bad."""
    lines, bad = [SALESFORCE], []
    for i in range(blocks):
        lines.append(f"G{i},Good{i},good{i}@x.test,,,,Google Ads,,")
        if i == blocks - 1:
            lines.append("X,,,,,,Yahoo Ads,,")  # no email or phone, unknown campaign
        else:
            lines.append(f"M{i},Miss{i},,,,,Google Ads,,")
        lines.append(f"I{i},Inv{i},inv{i}.x.test,,,,Google Ads,,")
        # The duplicate of a good row half the file back: a resumed run must still know it.
        lines.append(f"D{i},Dup{i},GOOD{i // 2}@x.test,,,,Google Ads,,")
        first = 2 + 4 * i
        bad += [first + 1, first + 2, first + 3]
    return "\n".join(lines) + "\n", bad


@pytest.fixture
def checked(marketer_client, google):
    """The mixed file, uploaded, mapped and checked."""
    text, bad_lines = mixed_file()
    upload(marketer_client, text)
    return map_and_check(marketer_client, ImportJob.objects.get()), bad_lines


def test_the_check_keeps_the_first_thousand_bad_rows_and_counts_every_one(checked):
    job, bad_lines = checked
    assert job.status == ImportStatus.VALIDATED
    assert (job.total_rows, job.valid_rows, job.invalid_rows) == (4000, 1000, 3000)
    kept = job.rows.filter(outcome=ImportOutcome.INVALID)
    assert kept.count() == MAX_PROBLEM_ROWS == 1000
    assert list(kept.order_by("line").values_list("line", flat=True)) == bad_lines[:1000]
    assert dict(kept.values_list("line", "reason")[:3]) == {
        3: "no email and no phone number",
        4: "invalid email “inv0.x.test”",
        5: "duplicate within the file (same email as line 2)",
    }
    assert job.problem_counts == {
        "missing_contact": 1000,  # 999 alone and one with another problem
        "invalid_email": 1000,
        "duplicate_in_file": 1000,
        "unknown_campaign": 1,
    }
    assert job.problems_not_listed == 2000


def test_checking_again_counts_afresh(marketer_client, checked, google):
    job, _bad_lines = checked
    # No campaign column now, but a default: the unknown campaign is no problem any more.
    job = map_and_check(marketer_client, job, col_6="", default_campaign=google.pk)
    assert job.invalid_rows == 3000 and "unknown_campaign" not in job.problem_counts
    assert job.problem_counts["missing_contact"] == 1000
    assert job.rows.count() == MAX_PROBLEM_ROWS


def imported(job):
    leads = set(Lead.objects.values_list("email", flat=True))
    assert leads == {f"good{i}@x.test" for i in range(1000)}
    assert not Touch.objects.exclude(lead__email__in=leads).exists()
    assert Touch.objects.count() == 1000  # one per new lead: no duplicate became a touch
    assert (job.created_count, job.touched_count, job.skipped_count) == (1000, 0, 3000)
    assert job.rows.filter(outcome=ImportOutcome.INVALID).count() == MAX_PROBLEM_ROWS
    assert job.rows.filter(outcome=ImportOutcome.CREATED).count() == 1000
    return True


def test_the_run_skips_every_bad_row_not_only_those_kept(marketer_client, checked):
    job, _bad_lines = checked
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.error
    assert imported(job)


def test_a_resumed_run_still_skips_the_bad_rows_and_the_duplicates_of_earlier_ones(
    marketer_client, checked, monkeypatch
):
    job, _bad_lines = checked
    real, calls = imports.lead_import_batch, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(imports, "lead_import_batch", flaky)
    monkeypatch.setattr(imports, "IMPORT_BATCH", 1500)
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and job.processed_rows == 1500
    assert (job.created_count, job.skipped_count) == (375, 1125)
    marketer_client.post(reverse("leads:import_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.error
    assert imported(job)


def test_checking_a_file_of_bad_rows_takes_memory_by_its_rows_not_by_its_problems(
    marketer, google
):
    """400,000 bad rows took a worker from 118 to 352 MB: every one was kept as an
    ImportRow until the end. Checking 30,000 took 31 MB (tracemalloc), now 5 MB."""
    raw = (SALESFORCE + "\n" + "".join(f"A,,bad{i},,,,Nope,,\n" for i in range(30_000))).encode()
    job = imports.import_create(by=marketer, filename="bad.csv", raw=raw)
    with patch.object(imports, "enqueue"):
        imports.import_set_mapping(job=job, by=marketer, mapping=job.mapping)
    _job, peak = peak_memory(lambda: imports.import_validate(job.pk))
    job.refresh_from_db()
    assert (job.invalid_rows, job.rows.count()) == (30_000, MAX_PROBLEM_ROWS)
    assert peak < 10 * 2**20, f"{peak / 2**20:.1f} MB"


# --- The report: the kept rows, then how many more and the count per reason -------------


def test_the_report_page_lists_the_kept_rows_and_counts_the_rest_per_reason(
    marketer_client, checked
):
    job, _bad_lines = checked
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    problems = body.split('id="import-problems"')[1].split("</table>")[0]
    assert problems.count("<tr>") == 1 + MAX_PROBLEM_ROWS
    assert "2,000 more rows with problems not listed." in body
    counts = body.split('id="import-problem-counts"')[1].split("</table>")[0]
    cells = re.findall(r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", counts)
    assert cells == [
        ("no email and no phone number", "1,000"),
        ("invalid email", "1,000"),
        ("duplicate within the file", "1,000"),
        ("unknown campaign", "1"),
    ]


def test_a_report_with_every_bad_row_listed_has_no_counts(marketer_client, google):
    upload(
        marketer_client, f"{SALESFORCE}\nA,Alpha,a@x.test,,,,Google Ads,,\nB,,,,,,Yahoo Ads,,\n"
    )
    job = map_and_check(marketer_client, ImportJob.objects.get())
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert "no email and no phone number; unknown campaign “Yahoo Ads”" in body
    assert "not listed" not in body and "import-problem-counts" not in body


def test_the_report_csv_ends_with_the_rows_not_listed_and_the_counts(marketer_client, checked):
    job, bad_lines = checked
    marketer_client.post(reverse("leads:import_confirm", args=[job.pk]), {"skip_invalid": "1"})
    response = marketer_client.get(reverse("leads:import_report", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["line", "outcome", "email", "lead_id", "reason"]
    listed = rows[1:-5]
    assert [int(r[0]) for r in listed if r[1] == "invalid"] == bad_lines[:1000]
    assert sum(1 for r in listed if r[1] == "created") == 1000
    assert rows[-5:] == [
        ["", "invalid", "", "", "2000 more rows with problems not listed."],
        ["", "invalid", "", "", "no email and no phone number: 1000"],
        ["", "invalid", "", "", "invalid email: 1000"],
        ["", "invalid", "", "", "duplicate within the file: 1000"],
        ["", "invalid", "", "", "unknown campaign: 1"],
    ]


# --- The row cap ---------------------------------------------------------------------------


def test_a_file_over_the_row_cap_fails_the_check_without_reading_on(
    marketer_client, google, monkeypatch
):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 5)
    parsed = []
    real = csv_import.parse_row
    monkeypatch.setattr(csv_import, "parse_row", lambda *a, **k: parsed.append(1) or real(*a, **k))
    rows = "".join(f"A,Alpha{i},a{i}@x.test,,,,Google Ads,,\n\n" for i in range(1000))
    upload(marketer_client, f"{SALESFORCE}\n{rows}")
    job = map_and_check(marketer_client, ImportJob.objects.get())
    assert job.status == ImportStatus.FAILED
    assert job.error == "The file has more than 5 rows; split it into smaller files."
    assert len(parsed) == 5 and not job.rows.exists() and not job.can_retry
    body = marketer_client.get(job.get_absolute_url()).content.decode()
    assert job.error in body and "Upload a corrected file" in body
    assert reverse("leads:import_confirm", args=[job.pk]) not in body


def test_a_file_at_the_row_cap_is_checked_blank_lines_not_counted(
    marketer_client, google, monkeypatch
):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 5)
    rows = "".join(f"A,Alpha{i},a{i}@x.test,,,,Google Ads,,\n\n" for i in range(5))
    upload(marketer_client, f"{SALESFORCE}\n{rows}")
    job = map_and_check(marketer_client, ImportJob.objects.get())
    assert (job.status, job.valid_rows) == (ImportStatus.VALIDATED, 5)


def test_the_row_cap_is_two_hundred_thousand_and_the_upload_form_says_so(marketer_client):
    assert csv_import.MAX_ROWS == 200_000
    message = "The file has more than 200,000 rows; split it into smaller files."
    assert str(csv_import.too_many_rows()) == message
    body = marketer_client.get(reverse("leads:import")).content.decode()
    assert "at most 50 MB and 200,000 rows." in body


# --- The mapping page's preview: the start of the file only -----------------------------


def mapping_page(client, job):
    with CaptureQueriesContext(connection) as queries:
        body = client.get(reverse("leads:import_mapping", args=[job.pk])).content.decode()
    file_queries = [q["sql"] for q in queries if "leads_importfile" in q["sql"]]
    return body, file_queries


def samples(body, column):
    """The sample values the mapping table shows for ``column``."""
    row = body.split(f">{column}</label></th>")[1].split("</td>")[0]
    return row.split('text-body-secondary">')[1].split(" · ")


def test_the_preview_reads_the_first_64_kb_of_the_file_not_all_of_it(marketer_client, google):
    rows = "".join(f"F{i},Last{i},p{i}@x.test,,,,Google Ads,,\n" for i in range(4000))
    upload(marketer_client, f"{SALESFORCE}\n{rows}")
    job = ImportJob.objects.get()
    # Past the first 64 KB the stored bytes are not text: reading them would fail.
    content = bytes(ImportFile.objects.get(job=job).content)
    assert len(content) > csv_import.PREVIEW_BYTES + 1000
    garbage = content[: csv_import.PREVIEW_BYTES] + b"\xff\x00\xfe" * 100_000
    ImportFile.objects.filter(job=job).update(content=garbage)
    body, file_queries = mapping_page(marketer_client, job)
    assert samples(body, "Last Name") == ["Last0", "Last1", "Last2"]
    assert len(file_queries) == 1 and "SUBSTR" in file_queries[0].upper()
    assert job.file_head(100) == garbage[:100]


def test_the_preview_leaves_out_a_row_and_a_character_cut_off_at_64_kb(marketer_client, google):
    head = f"{SALESFORCE}\nAda,Lovelace,ada@x.test,,,,,,\nZoë,Brontë,zoe@x.test,,,,,,\n"
    cut = "Marie,Curie,marie@x.test,"
    # The third row's company runs past 64 KB, the cut falling inside an "ë" (two bytes).
    filler = csv_import.PREVIEW_BYTES - len((head + cut).encode())
    company = "x" * (filler - 1) + "ë" * 100
    text = head + cut + company + ",,,,,\nEd,Eel,ed@x.test,,,,,,\n"
    upload(marketer_client, text, default_campaign=google.pk)
    job = ImportJob.objects.get()
    head_bytes = job.file_head(csv_import.PREVIEW_BYTES)
    assert head_bytes[-1:] == "ë".encode()[:1]  # half a character
    body, _queries = mapping_page(marketer_client, job)
    assert samples(body, "Last Name") == ["Lovelace", "Brontë"]
    assert "Curie" not in body
    # The rows themselves, from bytes cut inside a quoted value spanning lines:
    raw = b'Last Name,Notes\nA,"one\nB,two\nC,three'
    assert csv_import.preview_rows(raw, "utf-8", ",", complete=False) == []
    assert csv_import.preview_rows(raw, "utf-8", ",", complete=True) == [
        ["A", "one\nB,two\nC,three"]
    ]


def test_the_preview_of_a_small_file_shows_its_last_row_without_a_line_break(
    marketer_client, google
):
    upload(
        marketer_client,
        "\ufeffLast Name;Email\nLovelace;a@x.test\n\nBrontë;b@x.test\nCurie;c@x.test",
        encoding="utf-8",
    )
    job = ImportJob.objects.get()
    assert job.encoding == "utf-8-sig"
    body, _queries = mapping_page(marketer_client, job)
    assert samples(body, "Last Name") == ["Lovelace", "Brontë", "Curie"]
