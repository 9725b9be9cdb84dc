"""The CSV import's bounds (security issue 15, finding 4): reading a file never makes a
decoded copy of it, a check keeps the first MAX_PROBLEM_ROWS bad rows and counts the rest
per reason, a file has at most MAX_ROWS rows, and the mapping page reads only the start
of the file."""

import tracemalloc

import pytest

from leads.imports import reader as csv_import

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
    with pytest.raises(csv_import.FileProblem, match="neither UTF-8 nor Windows-1252"):
        list(rows)
