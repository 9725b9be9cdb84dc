import csv
import datetime as dt
import io

from django.urls import reverse
from django.utils import timezone

from leadflow.csv_safe import SafeWriter
from leads import exports
from leads.models import Flag, Lead, Stage
from tests import factories

EXPORT = reverse("leads:export")
SPEC_COLUMNS = (
    "id,first_name,last_name,email,company,campaign,channel,inquiry_type,origin,stage,owner,"
    "created_at,mql_at,handed_off_at,last_handed_off_at,accepted_at,rejected_at,"
    "rejection_reason,first_contact_at,opportunity_at,closed_at,deal_value,lost_reason,open_flags,"
    "first_connect_at,marketing_court_minutes,sales_court_minutes"
)


def rows_of(response):
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text))), text.splitlines()[0]


def test_columns_are_exactly_the_spec_in_order(marketer_client, db):
    rows, header = rows_of(marketer_client.get(EXPORT))
    assert header == SPEC_COLUMNS and rows == []


def test_values_iso_times_with_offset_username_empty_cells_and_flags(marketer_client, make_lead):
    lead = make_lead(Stage.WON)
    now = timezone.now()
    Flag.objects.create(lead=lead, kind="unconverted", side="sales", raised_at=now)
    Flag.objects.create(lead=lead, kind="follow_up_overdue", side="sales", raised_at=now)
    Flag.objects.create(lead=lead, kind="stalled", side="sales", raised_at=now, resolved_at=now)
    (row,), _ = rows_of(marketer_client.get(EXPORT))
    assert row["id"] == str(lead.pk) and row["owner"] == "rep1"
    assert row["stage"] == "won" and row["deal_value"] == "6000.00"
    assert row["channel"] == "search_ads" and row["campaign"] == lead.campaign.name
    created = dt.datetime.fromisoformat(row["created_at"])
    assert created.utcoffset() is not None and created == lead.created_at
    assert row["created_at"].endswith(("+01:00", "+02:00"))  # Europe/Amsterdam
    assert row["rejected_at"] == "" and row["lost_reason"] == "" and row["rejection_reason"] == ""
    assert row["open_flags"] == "follow_up_overdue;unconverted"
    assert dt.datetime.fromisoformat(row["first_connect_at"]) == lead.first_connect_at


def test_first_connect_at_follows_open_flags(marketer_client, make_lead):
    lead = make_lead(Stage.CONTACTED)
    connected = timezone.now().replace(microsecond=0)
    Lead.objects.filter(pk=lead.pk).update(first_connect_at=connected)
    make_lead(Stage.ACCEPTED)  # never reached: an empty cell
    (row, unreached), header = rows_of(marketer_client.get(EXPORT))
    # Right after open_flags, before the court-time columns (SPEC §6).
    assert header.split(",")[-4:] == [
        "open_flags",
        "first_connect_at",
        "marketing_court_minutes",
        "sales_court_minutes",
    ]
    assert unreached["first_connect_at"] == ""
    assert dt.datetime.fromisoformat(row["first_connect_at"]) == connected


def test_export_honours_filters_and_scope(marketer_client, rep_client, make_lead, other_rep):
    won = make_lead(Stage.WON)
    make_lead(Stage.NEW)
    theirs = make_lead(Stage.ACCEPTED, owner=other_rep)
    rows, _ = rows_of(marketer_client.get(EXPORT + "?stage=won"))
    assert [r["id"] for r in rows] == [str(won.pk)]
    rows, _ = rows_of(rep_client.get(EXPORT))
    assert str(theirs.pk) not in {r["id"] for r in rows}
    assert {r["id"] for r in rows} == {str(won.pk)}


def test_export_streams_in_chunks_without_losing_rows(marketer_client, monkeypatch, db):
    monkeypatch.setattr(exports, "CHUNK", 3)
    campaign = factories.CampaignFactory()
    made = [factories.LeadFactory(campaign=campaign).pk for _ in range(8)]
    rows, _ = rows_of(marketer_client.get(EXPORT))
    assert [int(r["id"]) for r in rows] == sorted(made)


def test_bad_filters_answer_400_with_the_reason(marketer_client, db):
    response = marketer_client.get(EXPORT + "?created_from=yesterday")
    assert response.status_code == 400
    assert "Created from" in response.content.decode()


def test_export_needs_a_role(client, db):
    assert client.get(EXPORT).status_code == 302
    client.force_login(factories.UserFactory())
    assert client.get(EXPORT).status_code == 403


def test_export_link_on_the_list_carries_the_filters(marketer_client, db):
    body = marketer_client.get(reverse("leads:list") + "?stage=won&q=x").content.decode()
    assert f'href="{EXPORT}?stage=won&amp;q=x"' in body


def test_a_cell_with_a_delimiter_of_either_dialect_stays_one_quoted_cell(
    marketer_client, make_lead
):
    # Dutch Excel splits on ";": unquoted, "Acme;=1+1;x" would put "=1+1" in a cell of its own.
    lead = make_lead(Stage.NEW)
    lead.company = "Acme;=1+1;x"
    lead.save()
    text = b"".join(marketer_client.get(EXPORT).streaming_content).decode()
    # A ";" reader sees a quote only at the start of a line, so the "=" after the embedded
    # ";" carries the apostrophe as well.
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=";") for cell in row]
    assert not any(cell.startswith("=") for cell in cells)
    assert "'=1+1" in cells
    # A "," reader gets the company back as one quoted cell.
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["company"] == "Acme;'=1+1;x"
    assert ',"Acme;\'=1+1;x",' in text


def test_safe_writer_quotes_delimiters_of_either_dialect_and_matches_csv_otherwise():
    plain = [7, "Ada", "", None, 'say "hi"', "two\nlines", dt.date(2026, 1, 2)]
    ours, theirs = io.StringIO(), io.StringIO()
    SafeWriter(ours).writerow(plain)
    csv.writer(theirs).writerow(plain)
    assert ours.getvalue() == theirs.getvalue()
    out = io.StringIO()
    SafeWriter(out).writerow(["a,b", "a;b", "a\t+1", "-1"])
    assert out.getvalue() == '"a,b","a;b","a\t\'+1",\'-1\r\n'
