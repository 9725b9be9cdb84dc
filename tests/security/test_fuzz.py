"""Fuzz pass over every page form and filter: hypothesis sends arbitrary strings, numbers,
dates, unicode and huge values for every parameter of every page of the URL walk's table
(and the public intake) and no answer may be a 500. The JSON API has its own fuzzing
(schemathesis in scripts/api_contract.sh).

For each URL the parameters are the names the page's own forms submit (read from the
rendered HTML), the walk's valid body, and the filters the page reads from the query
string. Each example keeps some valid values so the fuzzed ones reach the deeper checks.
Bounded: a few examples per URL, no deadline; each request runs in a rolled-back
savepoint.
"""

import datetime as dt
import os

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_url_walk import PATTERNS, outcome
from .walk import OWN_CHECKS, ROUTES, url_for
from .world import form_data, forms_on

# A few examples per URL in the suite; FUZZ_EXAMPLES=500 for a long hunt, with
# FUZZ_RANDOM=1 to draw new values on every run instead of the same ones.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM") != "1"

NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1.5",
    "1e309",
    "NaN",
    "-Infinity",
    "9" * 30,
    str(2**63),
    str(-(2**63) - 1),
    "٣",  # an Arabic-Indic digit: str.isdigit() says yes, int() accepts it
    "１２",  # full-width digits
    "²",  # isdigit() but not int()-able
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "../../etc/passwd",
    "2024-02-30",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "1900-01-01T25:61",
    "x" * 5000,
    "🙂" * 200,
    "me",
    "none",
    "any",
    "on",
    "true",
    "[]",
    "{}",
    "//evil.example/",
    "https://evil.example/",
    "eyJ2IjpbXSwiZCI6Im5leHQifQ",  # a base64 cursor of the wrong shape
    "eyJ2IjpbIngiLDFdLCJkIjoibmV4dCJ9",
]
# Query-string parameters the pages read besides their forms' fields.
QUERY_PARAMS = ("cursor", "page", "sort", "next", "campaign", "channel", "start", "end", "q")

value = st.one_of(
    st.sampled_from(NASTY),
    # Ids and numbers past a 64-bit column: the database driver, not the form, refuses them.
    st.sampled_from([str(2**63), str(2**64 + 1), "9" * 25, str(-(2**63) - 1)]),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
    st.datetimes(min_value=dt.datetime(1, 1, 1)).map(dt.datetime.isoformat),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
values = st.one_of(value, st.lists(value, min_size=2, max_size=4))


def _role(row, method):
    codes = row.expected("get" if method == "get" else "post")
    for role in ("manager", "rep", "marketer", "anon"):
        if codes[role] == "K":
            return role
    return None


_FIELDS = {}


def _fields(world, pattern, row, url, method, role):
    """(valid values, parameter names) for fuzzing ``method`` on ``url``."""
    key = (id(world), url, method)
    if key not in _FIELDS:
        _FIELDS[key] = _read_fields(world, row, url, method)
    valid, names = _FIELDS[key]
    return dict(valid), names


def _read_fields(world, row, url, method):
    valid = {}
    if method != "get" and row.data:
        valid = {k: v for k, v in row.data(world).items() if not hasattr(v, "read")}
    names = set(valid)
    if _role(row, "get"):
        page = world.client(_role(row, "get")).get(url)
        if page.get("Content-Type", "").startswith("text/html"):
            for form in forms_on(page.content.decode()):
                # The page's filters (GET forms), or the forms that post to this URL.
                posts_here = form["method"] == "post" and form["action"] in ("", url)
                if (form["method"] == "get") if method == "get" else posts_here:
                    names |= set(form["names"]) - {"csrfmiddlewaretoken"}
                    if not valid and posts_here:
                        valid = form_data(form)
    # Every page reads these from the query string, and the action forms post a ``next``.
    names |= set(QUERY_PARAMS) if method == "get" else {"next"}
    return valid, sorted(names)


def _targets():
    for pattern in PATTERNS:
        if pattern.key in OWN_CHECKS or pattern.route.startswith(("api/", "admin/")):
            continue
        if pattern.key in ("login", "logout"):
            continue  # test_login_throttle.py; logging out has no parameters
        row = ROUTES[pattern.key]
        for method in ("get", row.method):
            if _role(row, method) is not None:
                yield pytest.param(pattern, method, id=f"{method.upper()} {pattern.route}")


@pytest.mark.parametrize("pattern, method", list(_targets()))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_parameter_value_makes_a_page_fail(world, db, pattern, method, data):
    row = ROUTES[pattern.key]
    url = url_for(pattern, row, world)
    role = _role(row, method)
    valid, names = _fields(world, pattern, row, url, method, role)
    if data.draw(st.booleans(), label="one field at a time"):
        # The other fields valid, so the odd value reaches the checks behind them.
        name = data.draw(st.sampled_from(names), label="field")
        params = {**valid, name: data.draw(values, label="value")}
    else:
        fuzzed = data.draw(
            st.fixed_dictionaries(
                {},
                optional={
                    name: (st.one_of(st.just(valid[name]), values) if name in valid else values)
                    for name in names
                },
            ),
            label="parameters",
        )
        params = {**{k: v for k, v in valid.items() if k not in names}, **fuzzed}
    if os.environ.get("FUZZ_DEBUG"):
        print(url, method, role, sorted(valid), names, params)
    client = world.client(role)
    with transaction.atomic():
        if method == "get":
            response = client.get(url, params)
        else:
            response = getattr(client, method)(url, params)
        transaction.set_rollback(True)
    # The test client raises a view's exception; any 5xx it still returns fails here.
    assert response.status_code < 500, (response.status_code, outcome(response))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "first_name",
                "last_name",
                "name",
                "email",
                "phone",
                "company",
                "job_title",
                "country",
                "message",
                "consent",
                "inquiry_type",
                "utm_source",
                "utm_campaign",
                "next",
                "website",
                "extra",
            ]
        ),
        values,
    ),
    as_json=st.booleans(),
)
def test_no_intake_post_makes_the_intake_fail(world, db, fields, as_json):
    client = world.client("anon")
    url = f"/intake/{world.campaign.intake_key}/"
    with transaction.atomic():
        if as_json:
            response = client.post(url, fields, content_type="application/json")
        else:
            response = client.post(url, fields)
        transaction.set_rollback(True)
    assert response.status_code < 500


# --- what the fuzz pass found, kept as plain regression tests ----------------------------


@pytest.mark.parametrize("next_url", ["0", "home", "leads:list", "javascript:alert(1)"])
def test_a_next_that_is_not_a_path_falls_back_to_the_page(world, db, next_url):
    lead = world.leads["handed_off"]
    response = world.client("rep").post(f"/sales/leads/{lead.pk}/accept/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == lead.get_absolute_url()


@pytest.mark.parametrize("url", ["/leads/bulk/", "/sales/reassign/"])
def test_a_selected_id_past_a_bigint_is_refused_not_a_500(world, db, url):
    response = world.client("manager").post(
        url,
        {"action": "qualify", "ids": [str(2**63)], "to_user": world.users["rep"].pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "The selection is not valid." in response.content.decode()


def test_format_suffixed_api_paths_are_unknown_not_a_500(world, db):
    client = world.client("manager")
    for path in ("/api/v1/leads.json", f"/api/v1/leads/{world.leads['new'].pk}.json"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
