"""Every string a user can read has a Dutch translation (README "Languages").

The strings are extracted here in pure Python, the way ``makemessages`` finds them, so
this runs where GNU gettext is not installed: templates through Django's ``templatize``
(which turns ``{% translate %}`` and ``{% blocktranslate %}`` into gettext calls),
Python modules through ``ast``. Each must have a non-empty, non-fuzzy ``msgstr`` in
``locale/nl/LC_MESSAGES/django.po`` with the same placeholders. A string added without
running ``make messages`` and translating it fails here.
"""

import ast
import re
import tokenize
from io import StringIO
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "nl" / "LC_MESSAGES" / "django.po"
PYTHON_PACKAGES = ["leadflow", "campaigns", "leads", "sales"]

GETTEXT_FUNCTIONS = {
    "gettext": "single",
    "gettext_lazy": "single",
    "gettext_noop": "single",
    "ngettext": "plural",
    "ngettext_lazy": "plural",
    "pgettext": "context",
    "pgettext_lazy": "context",
    "npgettext": "context_plural",
    "npgettext_lazy": "context_plural",
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]|\{\w*\}")


def _key(kind, strings):
    """The catalogue key of one call: msgid, (msgid, plural), or (context, msgid[, plural])."""
    if kind == "single":
        return strings[0]
    if kind == "plural":
        return tuple(strings[:2])
    if kind == "context":
        return ("ctx", *strings[:2])
    return ("ctx", *strings[:3])


def _template_strings(path):
    """(msgid key, path) of every translatable string in a template."""
    source = path.read_text(encoding="utf-8")
    code = templatize(source, origin=str(path))
    for match in re.finditer(r"\b(gettext|ngettext|pgettext|npgettext|_)\(", code):
        kind = GETTEXT_FUNCTIONS.get(match.group(1), "single")
        strings = []
        tokens = tokenize.generate_tokens(StringIO(code[match.end() :]).readline)
        try:
            for token in tokens:
                if token.type == tokenize.STRING:
                    strings.append(ast.literal_eval(token.string))
                elif token.string == ")":
                    break
        except tokenize.TokenError:
            pass
        assert strings, f"{path}: could not read the call at {code[match.start() :][:60]!r}"
        yield _key(kind, strings)


def _aliases(tree):
    """Local names of django.utils.translation's functions in a module (``_``, ``_lazy``…)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            for alias in node.names:
                if alias.name in GETTEXT_FUNCTIONS:
                    names[alias.asname or alias.name] = GETTEXT_FUNCTIONS[alias.name]
    return names


def _python_strings(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name):
            kind = aliases.get(node.func.id)
        elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            # translation.gettext("…") after ``from django.utils import translation``
            is_module = node.func.value.id == "translation"
            kind = GETTEXT_FUNCTIONS.get(node.func.attr) if is_module else None
        else:
            kind = None
        if kind is None:
            continue
        strings = [
            arg.value
            for arg in node.args
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        ]
        if strings:
            yield _key(kind, strings)


def _templates():
    return sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in {".html", ".txt"})


def _modules():
    for package in PYTHON_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _catalogue():
    translated = {}
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete:
            continue
        prefix = ("ctx", entry.msgctxt) if entry.msgctxt else ()
        if entry.msgid_plural:
            key = (*prefix, entry.msgid, entry.msgid_plural)
            values = [entry.msgstr_plural.get(i, "") for i in range(2)]
        else:
            key = (*prefix, entry.msgid) if prefix else entry.msgid
            values = [entry.msgstr]
        translated[key] = (entry, values)
    return translated


@pytest.fixture(scope="module")
def catalogue():
    return _catalogue()


def _problems(keys_by_source, catalogue):
    problems = []
    for source, keys in keys_by_source:
        for key in keys:
            found = catalogue.get(key)
            if found is None:
                problems.append(f"{source}: not in the catalogue: {key!r}")
                continue
            entry, values = found
            if entry.fuzzy or not all(values):
                problems.append(f"{source}: no Dutch translation (or fuzzy): {key!r}")
    return problems


def test_every_template_string_has_a_dutch_translation(catalogue):
    found = [(path.relative_to(ROOT), list(_template_strings(path))) for path in _templates()]
    assert sum(len(keys) for _path, keys in found) > 500, "the extraction found too little"
    problems = _problems(found, catalogue)
    assert not problems, "Run `make messages` and translate:\n" + "\n".join(problems)


def test_every_python_string_has_a_dutch_translation(catalogue):
    found = [(path.relative_to(ROOT), list(_python_strings(path))) for path in _modules()]
    assert sum(len(keys) for _path, keys in found) > 300, "the extraction found too little"
    problems = _problems(found, catalogue)
    assert not problems, "Run `make messages` and translate:\n" + "\n".join(problems)


def test_the_catalogue_is_complete_and_keeps_placeholders(catalogue):
    problems = []
    for entry, values in catalogue.values():
        if entry.fuzzy or not all(values):
            problems.append(f"untranslated or fuzzy: {entry.msgid!r}")
            continue
        wanted = sorted(PLACEHOLDER.findall(entry.msgid_plural or entry.msgid))
        # The singular of a plural may leave the number out ("the bad row").
        for value in values[-1:] if entry.msgid_plural else values:
            if sorted(PLACEHOLDER.findall(value)) != wanted:
                problems.append(f"placeholders differ: {entry.msgid!r} -> {value!r}")
        if "<" in entry.msgid and sorted(re.findall(r"</?\w+", entry.msgid)) != sorted(
            re.findall(r"</?\w+", values[0])
        ):
            problems.append(f"markup differs: {entry.msgid!r} -> {values[0]!r}")
    assert not problems, "\n".join(problems)
    assert len(catalogue) > 800


def test_the_compiled_catalogue_is_the_one_django_reads():
    # tests/conftest.py compiles the .po before the run (pure Python, no gettext needed).
    assert CATALOGUE.with_suffix(".mo").exists()
    with translation.override("nl"):
        assert translation.gettext("Log in") == "Inloggen"
        assert translation.ngettext("%(n)s lead", "%(n)s leads", 3) % {"n": 3} == "3 leads"
        assert translation.gettext("Handed off") == "Overgedragen"
    with translation.override("en"):
        assert translation.gettext("Log in") == "Log in"
