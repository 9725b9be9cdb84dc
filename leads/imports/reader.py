"""Reading lead CSV files (SPEC §6): encodings, delimiters, Salesforce- and HubSpot-style
headers, and the per-row checks of the validation report. Nothing here writes."""

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign

from ..consent import consent_answer
from ..models import ImportProblem, InquiryType, Lead, Stage

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
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone"),
    "company": gettext_lazy("Company"),
    "job_title": gettext_lazy("Job title"),
    "country": gettext_lazy("Country"),
    "campaign": gettext_lazy("Campaign (name or UTM code)"),
    "inquiry_type": gettext_lazy("Inquiry type"),
    "status": gettext_lazy("Lead status / lifecycle stage"),
    "notes": gettext_lazy("Notes"),
    "consent": gettext_lazy("Consent"),
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "utm_term": "UTM term",
    "utm_content": "UTM content",
}

# Header names from Salesforce and HubSpot exports (and plain ones), lower-cased.
ALIASES = {
    "first_name": ["first name", "firstname", "first_name", "given name", "voornaam"],
    "last_name": ["last name", "lastname", "last_name", "surname", "family name", "achternaam"],
    "email": ["email", "e-mail", "email address", "e-mailadres", "emailadres"],
    "phone": ["phone", "phone number", "mobile", "mobile phone", "telefoon", "telefoonnummer"],
    "company": ["company", "company name", "account name", "organization", "bedrijf"],
    "job_title": ["title", "job title", "jobtitle", "position", "functie"],
    "country": ["country", "country/region", "land"],
    "campaign": ["campaign", "campaign name", "primary campaign source", "campagne"],
    "inquiry_type": ["inquiry type", "inquiry_type"],
    "status": ["lead status", "lifecycle stage", "lifecyclestage", "status"],
    "notes": ["description", "notes", "message", "comments", "opmerkingen"],
    "consent": ["consent", "email opt in", "marketing consent", "opt-in"],
    # Salesforce's Lead Source and HubSpot's Original Source name a channel ("Web",
    # "Organic Search"), not a campaign: they are kept as the source.
    "utm_source": ["utm source", "utm_source", "lead source", "original source", "bron"],
    "utm_medium": ["utm medium", "utm_medium"],
    "utm_campaign": ["utm campaign", "utm_campaign"],
    "utm_term": ["utm term", "utm_term"],
    "utm_content": ["utm content", "utm_content"],
}
_ALIAS_INDEX = {alias: target for target, names in ALIASES.items() for alias in names}

# Lead Status (Salesforce) / Lifecycle stage (HubSpot) -> the stage marketing starts it at.
# Anything else imports at "new": sales stages are reached through handoffs, not imports.
STATUS_STAGES = {
    "marketingqualifiedlead": Stage.MQL,
    "marketing qualified lead": Stage.MQL,
    "mql": Stage.MQL,
    "qualified": Stage.MQL,
    "subscriber": Stage.NURTURE,
    "nurture": Stage.NURTURE,
    "nurturing": Stage.NURTURE,
    "unqualified": Stage.DISQUALIFIED,
    "disqualified": Stage.DISQUALIFIED,
    "closed - not converted": Stage.DISQUALIFIED,
}


def _norm(header):
    return re.sub(r"\s+", " ", header.replace("_", " ").strip().lower())


def guess_mapping(header):
    """Column index -> target field, from the header names; each target used once."""
    mapping, used = {}, set()
    for index, name in enumerate(header):
        key = _norm(name)
        target = _ALIAS_INDEX.get(key) or _ALIAS_INDEX.get(key.replace(" ", "_"))
        if target and target not in used:
            mapping[str(index)] = target
            used.add(target)
    return mapping


class FileProblem(Exception):
    """The file as a whole cannot be read (encoding, empty, no header)."""


def _not_text():
    return FileProblem(
        _("The file is neither UTF-8 nor Windows-1252 text. Save it as CSV (UTF-8).")
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


def detect_encoding(raw):
    """UTF-8 with or without BOM, else Windows-1252; FileProblem when it is neither."""
    if raw.startswith(b"\xef\xbb\xbf"):
        if _is_text(raw, "utf-8-sig"):
            return "utf-8-sig"
        raise _not_text()
    for encoding in ("utf-8", "windows-1252"):
        if _is_text(raw, encoding):
            return encoding
    raise _not_text()


def sniff_delimiter(text):
    """`,` or `;` (Dutch Excel) — or a tab — judged from the header line."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_header(raw):
    """(header, encoding, delimiter) of an uploaded file, or FileProblem."""
    if not raw or raw.isspace():
        raise FileProblem(_("The file is empty."))
    if b"\x00" in raw[:4096]:
        raise FileProblem(_("This looks like a binary file (e.g. .xlsx); export it as CSV first."))
    encoding = detect_encoding(raw)
    delimiter = sniff_delimiter(next(_lines(raw, encoding), ""))
    reader = csv.reader(_lines(raw, encoding), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise FileProblem(_("The file has no header row.")) from exc
    header = [h.strip() for h in header]
    if not any(header):
        raise FileProblem(_("The first row must name the columns."))
    return header, encoding, delimiter


def _lines(raw, encoding):
    """The file's text line by line, decoded as it is read: no decoded copy of the whole
    file (up to four times its size as a str) is ever made."""
    lines = io.TextIOWrapper(io.BytesIO(raw), encoding=encoding, newline="")
    first = next(lines, "")
    if not first:
        return
    # utf-8-sig takes off one byte order mark; a second one is not part of the header.
    yield first[1:] if encoding == "utf-8-sig" and first.startswith("\ufeff") else first
    yield from lines


def too_many_rows():
    return FileProblem(
        _("The file has more than %(max)s rows; split it into smaller files.")
        % {"max": number_format(MAX_ROWS, force_grouping=True)}
    )


def iter_rows(raw, encoding, delimiter):
    """(line number, cells) for every data row; the header is line 1. Blank lines skipped.
    FileProblem at data row MAX_ROWS + 1, before it is parsed."""
    reader = csv.reader(_lines(raw, encoding), delimiter=delimiter)
    rows = 0
    try:
        if next(reader, None) is None:
            return
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise too_many_rows()
            yield reader.line_num, cells
    except UnicodeDecodeError:
        # Not after the upload's check of the whole file (detect_encoding), unless the
        # stored bytes were changed since.
        raise _not_text() from None
    except csv.Error as exc:
        raise FileProblem(
            _("Line %(line)s cannot be read: %(error)s") % {"line": reader.line_num, "error": exc}
        ) from exc


def preview_rows(head, encoding, delimiter, *, complete, count=3):
    """The first ``count`` data rows of a file, from its first bytes ``head`` (the mapping
    page's sample values). When ``head`` is not the whole file (``complete`` False) the
    character and the row it cuts off are dropped: only rows read to their end are shown
    (a quoted value may span lines, so "up to the last line break" is not enough)."""
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=complete)
    if encoding == "utf-8-sig" and text.startswith("\ufeff"):
        text = text[1:]
    rows = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
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
    utm: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    @property
    def email_key(self):
        return (self.data.get("email") or "").lower()

    def add_problem(self, code, message):
        self.problems.append(Problem(code, message))

    @property
    def reason(self):
        """The row's problems in one text, as the report stores it."""
        return "; ".join(problem.message for problem in self.problems)


def parse_row(
    line,
    cells,
    mapping,
    *,
    campaigns,
    default_campaign,
    default_inquiry_type,
    campaign_required=True,
):
    """One CSV line -> Row with normalized data and every problem found (SPEC §6 reasons)."""
    row = Row(line=line, inquiry_type=default_inquiry_type, campaign=default_campaign)
    values = {}
    for index, target in mapping.items():
        i = int(index)
        if target and i < len(cells):
            values[target] = cells[i].strip()
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
    row.data["notes"] = values.get("notes", "")
    row.data["consent"] = consent_answer(values.get("consent"))
    if not row.data["last_name"]:
        row.add_problem(ImportProblem.MISSING_LAST_NAME, _("missing last name"))
    email = row.data["email"]
    if not email:
        row.add_problem(ImportProblem.MISSING_EMAIL, _("missing email"))
    else:
        try:
            validate_email(email)
        except ValidationError:
            row.add_problem(
                ImportProblem.INVALID_EMAIL,
                _("invalid email “%(email)s”") % {"email": email[:80]},
            )
    if values.get("campaign"):
        found = campaigns.get(values["campaign"])
        if found is None:
            row.add_problem(
                ImportProblem.UNKNOWN_CAMPAIGN,
                _("unknown campaign “%(name)s”") % {"name": values["campaign"][:80]},
            )
        row.campaign = found
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
    row.stage = STATUS_STAGES.get(values.get("status", "").lower(), Stage.NEW)
    row.utm = {k: values[k][:200] for k in TARGETS if k.startswith("utm_") and values.get(k)}
    return row
