"""Compiling the translation catalogues (``locale/<lang>/LC_MESSAGES/*.po``) into the
``.mo`` files Django reads, in pure Python (polib), so that ``make run`` and the tests
work on a machine without GNU gettext. The ``.mo`` files are build output (not committed);
CI also runs Django's ``compilemessages`` (msgfmt) over the same catalogues, which checks
them strictly. Fuzzy and untranslated entries are left out, as msgfmt does.
"""

from pathlib import Path

import polib


def catalogues(locale_paths):
    """Every ``.po`` file under the given locale directories."""
    for base in locale_paths:
        yield from sorted(Path(base).glob("*/LC_MESSAGES/*.po"))


def compile_catalogues(locale_paths, *, force=False):
    """Write ``x.mo`` next to each ``x.po`` that is newer than it (or every one with
    ``force``); returns the ``.po`` paths compiled."""
    compiled = []
    for po_path in catalogues(locale_paths):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalogue = polib.pofile(str(po_path))
        # Write next to it and rename: a running server never reads half a file.
        partial = mo_path.with_suffix(".mo.partial")
        catalogue.save_as_mofile(str(partial))
        partial.replace(mo_path)
        compiled.append(po_path)
    return compiled
