"""Reading a spend CSV: "date, campaign, amount", one row per day per campaign, the shape
of an ad platform's daily cost report. Synchronous: a few thousand rows are read in well
under a second. Nothing is written here; campaigns.services.spend_import writes the good
rows once the file has no bad ones, or the user chose to import the good ones only."""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .models import Campaign
from .services import MAX_AMOUNT

HEADERS = {
    "date": ("date", "day", "datum", "dag"),
    "campaign": ("campaign", "campaign name", "campagne", "utm_campaign", "utm campaign"),
    "amount": ("amount", "cost", "spend", "bedrag", "kosten"),
}
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y")
MAX_ROWS = 20_000


@dataclass(frozen=True)
class SpendRow:
    line: int
    day: dt.date
    campaign: Campaign
    amount: Decimal


@dataclass
class SpendReport:
    rows: list = field(default_factory=list)  # SpendRow, the good ones
    problems: list = field(default_factory=list)  # (line, message)
    error: str = ""  # the file as a whole could not be read

    @property
    def total(self):
        return sum((row.amount for row in self.rows), Decimal("0.00"))


def decode(raw):
    """Text of an uploaded file: UTF-8 (with or without BOM), else Windows-1252."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def parse_amount(text):
    """``1234.56``, ``1234,56``, ``1.234,56``, ``1,234.56``, ``€ 12`` -> Decimal; None if
    it is not an amount. With both separators the last one is the decimal point; a single
    separator is the decimal point unless it occurs more than once (thousands)."""
    value = re.sub(r"[^\d.,\-]", "", text or "")
    if not value or not re.search(r"\d", value):
        return None
    if "." in value and "," in value:
        decimal_mark = "." if value.rfind(".") > value.rfind(",") else ","
        value = value.replace("," if decimal_mark == "." else ".", "").replace(decimal_mark, ".")
    elif value.count(",") == 1:
        value = value.replace(",", ".")
    elif value.count(",") > 1:
        value = value.replace(",", "")
    elif value.count(".") > 1:
        value = value.replace(".", "")
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def parse_date(text):
    text = (text or "").strip()
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _columns(header):
    found = {}
    names = [h.strip().lower() for h in header]
    for key, aliases in HEADERS.items():
        for i, name in enumerate(names):
            if name in aliases and key not in found:
                found[key] = i
    return found


def read(text):
    """Every row of the file checked: the good ones as SpendRows, the bad ones with their
    line number (the header is line 1) and what is wrong."""
    report = SpendReport()
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    lines = list(csv.reader(io.StringIO(text), dialect))
    if not lines:
        report.error = _("The file is empty.")
        return report
    columns = _columns(lines[0])
    missing = [key for key in HEADERS if key not in columns]
    if missing:
        report.error = _(
            "The first line must name the columns date, campaign and amount (missing: %(m)s)."
        ) % {"m": ", ".join(missing)}
        return report
    if len(lines) - 1 > MAX_ROWS:
        report.error = _("At most %(n)s rows per file.") % {"n": f"{MAX_ROWS:,}"}
        return report
    by_key = {}
    for campaign in Campaign.objects.only("pk", "name", "utm_campaign"):
        by_key.setdefault(campaign.name.strip().lower(), campaign)
        if campaign.utm_campaign:
            by_key.setdefault(campaign.utm_campaign.strip().lower(), campaign)
    seen = {}
    for line, cells in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(key, cells=cells):
            i = columns[key]
            return cells[i].strip() if i < len(cells) else ""

        problems = []
        day = parse_date(cell("date"))
        if day is None:
            problems.append(_("“%(v)s” is not a date (use YYYY-MM-DD).") % {"v": cell("date")})
        name = cell("campaign")
        campaign = by_key.get(name.lower()) if name else None
        if campaign is None:
            problems.append(_("No campaign has the name or UTM code “%(v)s”.") % {"v": name})
        amount = parse_amount(cell("amount"))
        if amount is None:
            problems.append(_("“%(v)s” is not an amount.") % {"v": cell("amount")})
        elif amount < 0:
            problems.append(_("Amounts cannot be negative."))
        elif amount > MAX_AMOUNT:
            problems.append(_("The amount is too large."))
        elif amount != amount.quantize(Decimal("0.01")):
            problems.append(_("Give the amount in whole cents."))
        if not problems:
            key = (campaign.pk, day)
            if key in seen:
                problems.append(
                    _("The same campaign and day as line %(line)s.") % {"line": seen[key]}
                )
            else:
                seen[key] = line
        if problems:
            report.problems.append((line, " ".join(problems)))
        else:
            report.rows.append(SpendRow(line=line, day=day, campaign=campaign, amount=amount))
    if not report.rows and not report.problems:
        report.error = _("The file has no rows below its header.")
    return report
