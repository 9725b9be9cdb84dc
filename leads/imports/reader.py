"""Reading lead CSV files (SPEC §6): encodings, delimiters, Salesforce- and HubSpot-style
headers, and the per-row checks of the validation report. Nothing here writes."""

import codecs
import csv
import datetime as dt
import io
import itertools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign
from leadflow.csv_safe import undefuse
from leadflow.errors import InvalidInput

from ..consent import consent_answer
from ..csv_format import COLUMNS as EXPORT_COLUMNS
from ..models import DateOrder, ImportNote, ImportProblem, InquiryType, Lead, Stage
from ..names import split_full_name

MAX_BYTES = 50 * 1024 * 1024
# Data rows per file (blank lines not counted): a check reading row MAX_ROWS + 1 stops and
# fails the import, so its memory (the emails seen so far) and run time stay bounded.
MAX_ROWS = 200_000
# The mapping page's sample values come from this much of the start of the file.
PREVIEW_BYTES = 64 * 1024
csv.field_size_limit(1024 * 1024)

# target field -> label shown in the mapping step
TARGETS = {
    "": gettext_lazy("(ignore this column)"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "full_name": gettext_lazy("Full name (split into first and last name)"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "mobile": gettext_lazy("Mobile phone"),
    "company": gettext_lazy("Company"),
    "job_title": gettext_lazy("Job title"),
    "country": gettext_lazy("Country"),
    "campaign": gettext_lazy("Campaign (name or UTM code)"),
    "inquiry_type": gettext_lazy("Inquiry type"),
    "status": gettext_lazy("Lead status / lifecycle stage"),
    "created_at": gettext_lazy("Created (date and time of the inquiry)"),
    "notes": gettext_lazy("Notes"),
    "consent": gettext_lazy("Consent"),
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "utm_term": "UTM term",
    "utm_content": "UTM content",
}


def header_key(name):
    """A header name as the synonym table knows it: case, spaces and punctuation dropped,
    so "Lead Source", "LeadSource", "lead_source" and "Person - Email" read alike."""
    return re.sub(r"[\W_]+", "", name.casefold())


# Header names of the tools marketers export from (Salesforce labels and API names,
# HubSpot, Pipedrive, Zoho, Mailchimp, LinkedIn, Meta Lead Ads, LeadFlow's own export),
# as header_key gives them; per target the better column first: when a file has two
# columns for one target, the one higher in its list wins (HubSpot's Lifecycle Stage
# over its Lead Status).
ALIASES = {
    "first_name": ["firstname", "personfirstname", "givenname", "fname", "voornaam"],
    "last_name": ["lastname", "personlastname", "surname", "familyname", "lname", "achternaam"],
    "full_name": ["fullname", "personname", "name", "contactname", "naam"],
    "email": [
        "email",
        "emailaddress",
        "personemail",
        "workemail",
        "primaryemail",
        "emailadres",
        "mail",
    ],
    "phone": [
        "phone",
        "phonenumber",
        "personphone",
        "businessphone",
        "workphone",
        "telephone",
        "telefoon",
        "telefoonnummer",
    ],
    "mobile": [
        "mobilephone",
        "mobilephonenumber",
        "mobile",
        "mobilenumber",
        "cellphone",
        "mobiel",
    ],
    "company": [
        "company",
        "companyname",
        "accountname",
        "organization",
        "organisation",
        "organizationname",
        "personorganization",
        "bedrijf",
        "bedrijfsnaam",
    ],
    "job_title": ["jobtitle", "title", "position", "functie"],
    "country": ["country", "countryregion", "mailingcountry", "countrycode", "cc", "land"],
    "campaign": ["campaign", "campaignname", "primarycampaignsource", "campagne"],
    "inquiry_type": ["inquirytype"],
    "status": ["lifecyclestage", "stage", "leadstatus", "status"],
    "created_at": [
        "createdat",
        "createdate",
        "createddate",
        "createdtime",
        "created",
        "createdon",
        "optintime",
        "connectedon",
        "aangemaakt",
    ],
    "notes": ["notes", "description", "message", "comments", "note", "opmerkingen"],
    "consent": ["consent", "emailoptin", "marketingconsent", "optin"],
    # Salesforce's Lead Source and HubSpot's Original Source name a channel ("Web",
    # "Organic Search"), not a campaign: they are kept as the source.
    "utm_source": ["utmsource", "leadsource", "originalsource", "bron"],
    "utm_medium": ["utmmedium"],
    "utm_campaign": ["utmcampaign"],
    "utm_term": ["utmterm"],
    "utm_content": ["utmcontent"],
}
# header_key -> (target, rank in its list)
_ALIAS_INDEX = {
    alias: (target, rank) for target, names in ALIASES.items() for rank, alias in enumerate(names)
}


def known_target(name):
    """The target a header name maps to, or None."""
    found = _ALIAS_INDEX.get(header_key(name))
    return found[0] if found else None


def guess_mapping(header):
    """Column index -> target field, from the header names; each target once, from the
    column whose name ranks best for it (the first such column on a tie)."""
    best = {}
    for index, name in enumerate(header):
        found = _ALIAS_INDEX.get(header_key(name))
        if found and (found[0] not in best or found[1] < best[found[0]][1]):
            best[found[0]] = (index, found[1])
    return {str(index): target for target, (index, _rank) in sorted(best.items())}


def is_own_export(header):
    """Whether a header is that of LeadFlow's own lead export (leads/exports.py)."""
    return [h.strip() for h in header[: len(EXPORT_COLUMNS)]] == EXPORT_COLUMNS


def check_mapping(targets, *, default_campaign, campaign_required):
    """InvalidInput unless a mapping can give leads: an email or a phone column, a name or
    an email column, each target once, and a campaign for every row when one is needed
    (a column, or a default for rows without one)."""
    if not {"email", "phone", "mobile"} & set(targets):
        raise InvalidInput(
            _("Map a column to Email, Phone or Mobile phone: a lead needs one of them."),
            field="mapping",
        )
    if not {"last_name", "full_name", "email"} & set(targets):
        raise InvalidInput(
            _("Map a column to Last name or Full name: a lead without an email needs a name."),
            field="mapping",
        )
    if len(targets) != len(set(targets)):
        raise InvalidInput(_("Each field can be mapped from one column only."), field="mapping")
    if campaign_required and default_campaign is None and "campaign" not in targets:
        raise InvalidInput(
            _("Choose a campaign for the rows, or map a column that names their campaign."),
            field="default_campaign",
        )


# Lead statuses and lifecycle stages (LeadFlow, HubSpot, Salesforce, Zoho and plain ones),
# as header_key gives them, -> the marketing stage an import starts the lead at.
STATUS_STAGES = {
    "new": Stage.NEW,
    "lead": Stage.NEW,
    "subscriber": Stage.NEW,
    "open": Stage.NEW,
    "other": Stage.NEW,
    "opennotcontacted": Stage.NEW,
    "notcontacted": Stage.NEW,
    "mql": Stage.MQL,
    "marketingqualifiedlead": Stage.MQL,
    "marketingqualified": Stage.MQL,
    "qualified": Stage.MQL,
    "prequalified": Stage.MQL,
    "nurture": Stage.NURTURE,
    "nurturing": Stage.NURTURE,
    "badtiming": Stage.NURTURE,
    "contactinfuture": Stage.NURTURE,
    "disqualified": Stage.DISQUALIFIED,
    "unqualified": Stage.DISQUALIFIED,
    "notqualified": Stage.DISQUALIFIED,
    "closednotconverted": Stage.DISQUALIFIED,
    "junklead": Stage.DISQUALIFIED,
}
# Statuses of sales' side: an import cannot set them (sales stages are reached through
# handoffs), so the lead starts at new and the report counts them per status.
SALES_STATUSES = frozenset(
    {
        *(header_key(stage) for stage in Stage.values if stage not in STATUS_STAGES),
        "salesqualifiedlead",
        "sql",
        "opportunity",
        "customer",
        "evangelist",
        "inprogress",
        "opendeal",
        "connected",
        "attemptedtocontact",
        "workingcontacted",
        "closedconverted",
        "contacted",
        "lostlead",
    }
)


class FileProblem(Exception):
    """The file as a whole cannot be read (encoding, empty, no header)."""


def _not_text():
    return FileProblem(
        _(
            "The file is not text LeadFlow can read (UTF-8, UTF-16 or Windows-1252). "
            "Save it as CSV UTF-8."
        )
    )


def _is_text(raw, encoding, chunk=64 * 1024):
    """Whether all of ``raw`` decodes as ``encoding``, checked a chunk at a time: the str
    of a 50 MB file (and a StringIO of it, four bytes a character) is never made."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), chunk):
            decoder.decode(view[start : start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# Spreadsheets, which are not text: each gets its own advice.
WORKBOOKS = (
    (b"PK\x03\x04", gettext_lazy("This is an Excel workbook (.xlsx), not a CSV file.")),
    (
        b"\xd0\xcf\x11\xe0",
        gettext_lazy("This is an Excel 97–2003 workbook (.xls), not a CSV file."),
    ),
)
SAVE_AS_CSV = gettext_lazy(
    "In Excel choose File › Save As › “CSV UTF-8 (comma delimited)” or “Unicode Text”; "
    "in Google Sheets File › Download › CSV; then upload that file."
)


def _utf16_without_bom(sample):
    """'utf-16-le' or 'utf-16-be' when every other byte of ``sample`` is a NUL (text of
    Latin letters in UTF-16 without a byte order mark), else None."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.6 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.6 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def detect_encoding(raw):
    """UTF-16 (by its byte order mark or its pattern of NUL bytes), UTF-8 with or without a
    BOM, else Windows-1252; FileProblem for a workbook or anything else that is not text."""
    for magic, message in WORKBOOKS:
        if raw.startswith(magic):
            raise FileProblem(f"{message} {SAVE_AS_CSV}")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif raw.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif b"\x00" in raw[:4096]:
        utf16 = _utf16_without_bom(raw[:4096])
        if utf16 is None:
            raise FileProblem(
                _("This looks like a binary file, not CSV text. %(advice)s")
                % {"advice": SAVE_AS_CSV}
            )
        candidates = [utf16]
    else:
        candidates = ["utf-8", "windows-1252"]
    for encoding in candidates:
        if _is_text(raw, encoding):
            return encoding
    raise _not_text()


DELIMITERS = (",", ";", "\t", "|")
# The header may follow a preamble (LinkedIn's "Notes:"): it is looked for this far down.
HEADER_SEARCH_LINES = 20


def _count_delimiter(line):
    """The delimiter most frequent in ``line`` (`,` when there is none)."""
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class FileShape(NamedTuple):
    header: list
    encoding: str
    delimiter: str
    # Records (spreadsheet rows) before the header: a preamble.
    skip: int


def _records(text, delimiter):
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        return []


def find_header(lines):
    """(delimiter, records before the header) from the first lines of a file: the first
    record, for any delimiter, with at least two column names the synonym table knows
    (the most known names on a tie); else the first line, split on its most frequent
    delimiter."""
    text = "".join(lines)
    best = None
    for order, delimiter in enumerate(DELIMITERS):
        for index, cells in enumerate(_records(text, delimiter)):
            known = len({known_target(c) for c in cells} - {None})
            if known >= 2:
                candidate = (index, -known, order)
                if best is None or candidate < best[0]:
                    best = (candidate, delimiter)
                break
    if best is not None:
        return best[1], best[0][0]
    return _count_delimiter(lines[0] if lines else ""), 0


def read_header(raw):
    """The FileShape of an uploaded file (its header, encoding, delimiter and preamble), or
    FileProblem."""
    if not raw or raw.isspace():
        raise FileProblem(_("The file is empty."))
    encoding = detect_encoding(raw)
    lines = list(itertools.islice(_lines(raw, encoding), HEADER_SEARCH_LINES))
    delimiter, skip = find_header(lines)
    reader = csv.reader(_lines(raw, encoding), delimiter=delimiter)
    try:
        for _skipped in range(skip):
            next(reader)
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise FileProblem(_("The file has no header row.")) from exc
    header = [h.strip() for h in header]
    if not any(header):
        raise FileProblem(_("The first row must name the columns."))
    return FileShape(header, encoding, delimiter, skip)


def _lines(raw, encoding):
    """The file's text line by line, decoded as it is read: no decoded copy of the whole
    file (up to four times its size as a str) is ever made."""
    lines = io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, newline="")
    first = next(lines, "")
    if not first:
        return
    # utf-8-sig and utf-16 take off one byte order mark; a second one is not the header's.
    yield first[1:] if first.startswith("\ufeff") else first
    yield from lines


def too_many_rows():
    return FileProblem(
        _("The file has more than %(max)s rows; split it into smaller files.")
        % {"max": number_format(MAX_ROWS, force_grouping=True)}
    )


def iter_rows(raw, encoding, delimiter, skip=0):
    """(row number, cells) for every data row after the ``skip`` records of a preamble and
    the header. The row number is the record's spreadsheet row: a record whose quoted
    values span three lines is one row, and the preamble, the header and blank lines
    count as rows, as a spreadsheet shows them. Blank rows are skipped. FileProblem at
    data row MAX_ROWS + 1, before it is parsed."""
    reader = csv.reader(_lines(raw, encoding), delimiter=delimiter)
    rows = 0
    try:
        for _skipped in range(skip + 1):
            if next(reader, None) is None:
                return
        for number, cells in enumerate(reader, start=skip + 2):
            if not any(c.strip() for c in cells):
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise too_many_rows()
            yield number, cells
    except UnicodeDecodeError:
        # Not after the upload's check of the whole file (detect_encoding), unless the
        # stored bytes were changed since.
        raise _not_text() from None
    except csv.Error as exc:
        raise FileProblem(
            _("Line %(line)s cannot be read: %(error)s") % {"line": reader.line_num, "error": exc}
        ) from exc


def preview_rows(head, encoding, delimiter, *, complete, count=3, skip=0):
    """The first ``count`` data rows of a file, from its first bytes ``head`` (the mapping
    page's sample values). When ``head`` is not the whole file (``complete`` False) the
    character and the row it cuts off are dropped: only rows read to their end are shown
    (a quoted value may span lines, so "up to the last line break" is not enough)."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=complete)
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for _skipped in range(skip + 1):
            next(reader, None)
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append(cells)
                if len(rows) > count:
                    return rows[:count]
    except csv.Error:
        pass
    return rows if complete else rows[:-1]


MAX_LENGTHS = {
    f.name: f.max_length
    for f in Lead._meta.get_fields()
    if getattr(f, "max_length", None) and f.name in TARGETS
}


class CampaignLookup:
    """Campaign by name or UTM code, case-insensitive; loaded once per import."""

    def __init__(self):
        self.by_key = {}
        for campaign in Campaign.objects.all():
            self.by_key.setdefault(campaign.name.strip().lower(), campaign)
            if campaign.utm_campaign:
                self.by_key.setdefault(campaign.utm_campaign.strip().lower(), campaign)

    def get(self, value):
        return self.by_key.get(value.strip().lower())


INQUIRY_LOOKUP = {
    **{v: v for v in InquiryType.values},
    **{str(label).lower(): v for v, label in InquiryType.choices},
    "phone": InquiryType.PHONE_CALL,
    "call": InquiryType.PHONE_CALL,
    "form": InquiryType.WEB_FORM,
    "web": InquiryType.WEB_FORM,
    "website": InquiryType.WEB_FORM,
}


class Problem(NamedTuple):
    """One reason a row cannot be imported: its ImportProblem code, counted per job, and the
    message the report shows for the row (with the offending value)."""

    code: str
    message: str


@dataclass
class Row:
    line: int
    data: dict = field(default_factory=dict)
    campaign: object = None
    inquiry_type: str = InquiryType.OTHER
    stage: str = Stage.NEW
    created_at: object = None  # the mapped creation date; None: the import's time
    utm: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    # What the report says of the file as a whole, counted over its rows: (ImportNote code,
    # the value it is about).
    notes: list = field(default_factory=list)

    @property
    def email_key(self):
        return (self.data.get("email") or "").lower()

    def add_problem(self, code, message):
        self.problems.append(Problem(code, message))

    @property
    def reason(self):
        """The row's problems in one text, as the report stores it."""
        return "; ".join(problem.message for problem in self.problems)


# Meta Lead Ads writes "p:+31612345678" (phone) and "l:123" (lead id): the source's prefix
# is not part of the value.
SOURCE_PREFIX = re.compile(r"^[pl]:(?=\S)")
# Meta's test lead carries "<test lead: dummy data for full_name>" in every field.
META_TEST_LEAD = "<test lead:"
# The other phone number goes to the notes under this label.
OTHER_PHONE_LABEL = {"phone": gettext_lazy("Phone"), "mobile": gettext_lazy("Mobile")}


_LOCAL_DATE = re.compile(
    r"^(\d{1,4})[/.-](\d{1,2})[/.-](\d{2,4})"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$"
)


def guess_date_order(values):
    """The date order a column's values show (a first number over 12 is a day, a second
    one over 12 is a day too); day first when they do not tell."""
    for value in values:
        match = _LOCAL_DATE.match(value.strip())
        if match and len(match.group(1)) <= 2:
            if int(match.group(2)) > 12:
                return DateOrder.MONTH_FIRST
            if int(match.group(1)) > 12:
                return DateOrder.DAY_FIRST
    return DateOrder.DAY_FIRST


def parse_when(value, date_order=DateOrder.DAY_FIRST):
    """An aware datetime from a date (and time) as the tools write it: ISO 8601 with or
    without an offset (HubSpot, Meta, LeadFlow), 31/12/2026 14:05 and 12/31/2026 2:05 PM
    in ``date_order``, or 05 Nov 2026; a time without an offset is the site's. None if
    unreadable."""
    value = value.strip()
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        match = _LOCAL_DATE.match(value)
        if match is None:
            return _with_month_name(value)
        first, second, third, hour, minute, sec, half = match.groups()
        if len(first) == 4:
            year, month, day = first, second, third
        elif date_order == DateOrder.MONTH_FIRST:
            month, day, year = first, second, third
        else:
            day, month, year = first, second, third
        year = int(year) + (2000 if len(year) == 2 else 0)
        hour = int(hour or 0)
        if half:
            if hour > 12:
                return None
            hour = hour % 12 + (12 if half.lower() == "pm" else 0)
        try:
            when = dt.datetime(year, int(month), int(day), hour, int(minute or 0), int(sec or 0))
        except ValueError:
            return None
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


# Dates with an English month name, as LinkedIn ("05 Nov 2026") and others write them.
MONTH_NAME_FORMATS = ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y")


def _with_month_name(value):
    for fmt in MONTH_NAME_FORMATS:
        try:
            return timezone.make_aware(dt.datetime.strptime(value, fmt))
        except ValueError:
            continue
    return None


def parse_row(
    line,
    cells,
    mapping,
    *,
    campaigns,
    default_campaign,
    default_inquiry_type,
    campaign_required=True,
    date_order=DateOrder.DAY_FIRST,
    own_export=False,
    now=None,
):
    """One CSV line -> Row with normalized data and every problem found (SPEC §6 reasons).
    ``own_export``: the file is LeadFlow's own export, whose defused cells get their
    apostrophe taken off again (leadflow.csv_safe.undefuse)."""
    row = Row(line=line, inquiry_type=default_inquiry_type, campaign=default_campaign)
    values = {}
    for index, target in mapping.items():
        i = int(index)
        if target and i < len(cells):
            value = SOURCE_PREFIX.sub("", cells[i].strip())
            values[target] = undefuse(value) if own_export else value
    if any(v.lower().startswith(META_TEST_LEAD) for v in values.values()):
        row.add_problem(ImportProblem.TEST_LEAD, _("Meta's test lead (dummy data), not a person"))
        return row
    if values.get("full_name") and not values.get("last_name"):
        first, last = split_full_name(values["full_name"])
        values["last_name"] = last
        values["first_name"] = values.get("first_name") or first
    # The lead keeps the first phone number given; the other one goes to its notes.
    numbers = [(t, values.get(t, "")) for t in ("phone", "mobile") if values.get(t)]
    extra = []
    if numbers:
        values["phone"] = numbers[0][1]
        for target, number in numbers[1:]:
            if number != values["phone"]:
                extra.append(f"{OTHER_PHONE_LABEL[target]}: {number}")
    for name, limit in MAX_LENGTHS.items():
        if len(values.get(name, "")) > limit:
            row.add_problem(
                ImportProblem.TOO_LONG,
                _("%(field)s is longer than %(max)s characters")
                % {"field": TARGETS[name], "max": limit},
            )
            values[name] = values[name][:limit]
    for name in ("first_name", "last_name", "email", "phone", "company", "job_title", "country"):
        row.data[name] = values.get(name, "")
    row.data["notes"] = "\n".join(filter(None, [values.get("notes", ""), *extra]))
    row.data["consent"] = consent_answer(values.get("consent"))
    email = row.data["email"]
    # As the lead form: an email or a phone number; an email alone identifies a person
    # (a Mailchimp subscriber has no name), a phone number needs a name beside it.
    if not email and not row.data["phone"]:
        row.add_problem(ImportProblem.MISSING_CONTACT, _("no email and no phone number"))
    elif not email and not row.data["last_name"]:
        row.add_problem(ImportProblem.MISSING_LAST_NAME, _("missing name (a phone needs one)"))
    if email:
        try:
            validate_email(email)
        except ValidationError:
            row.add_problem(
                ImportProblem.INVALID_EMAIL,
                _("invalid email “%(email)s”") % {"email": email[:80]},
            )
    if values.get("campaign"):
        found = campaigns.get(values["campaign"])
        if found is not None:
            row.campaign = found
        elif default_campaign is not None:
            row.notes.append((ImportNote.DEFAULT_CAMPAIGN, values["campaign"][:80]))
        else:
            row.add_problem(
                ImportProblem.UNKNOWN_CAMPAIGN,
                _("unknown campaign “%(name)s”") % {"name": values["campaign"][:80]},
            )
    elif default_campaign is None and campaign_required:
        row.add_problem(
            ImportProblem.NO_CAMPAIGN,
            _("no campaign (map a campaign column or choose a default campaign)"),
        )
    if values.get("inquiry_type"):
        kind = INQUIRY_LOOKUP.get(values["inquiry_type"].lower())
        if kind is None:
            row.add_problem(
                ImportProblem.UNKNOWN_INQUIRY_TYPE,
                _("unknown inquiry type “%(value)s”") % {"value": values["inquiry_type"][:40]},
            )
        else:
            row.inquiry_type = kind
    status = values.get("status", "")
    key = header_key(status)
    row.stage = STATUS_STAGES.get(key, Stage.NEW)
    if key in SALES_STATUSES:
        row.notes.append((ImportNote.SALES_STATUS, status[:80]))
    elif key and key not in STATUS_STAGES:
        row.notes.append((ImportNote.UNKNOWN_STATUS, status[:80]))
    if values.get("created_at"):
        when = parse_when(values["created_at"], date_order)
        if when is None:
            row.add_problem(
                ImportProblem.INVALID_DATE,
                _("unreadable date “%(value)s”") % {"value": values["created_at"][:40]},
            )
        elif when > (now or timezone.now()):
            row.add_problem(
                ImportProblem.FUTURE_DATE,
                _("created “%(value)s” lies in the future") % {"value": values["created_at"][:40]},
            )
        else:
            row.created_at = when
    row.utm = {k: values[k][:200] for k in TARGETS if k.startswith("utm_") and values.get(k)}
    return row
