"""The row_form_template tag (sales/templatetags/sales_tags.py): Today renders each kind
of row form once, for a stand-in lead, into a <template>; static/js/inplace.js stamps a
copy with a row's lead id and id prefix when the row's form is opened (``_stamp`` here
does what the script does). A stamped form must be the form an include renders for that
row, CSRF token and hidden fields included."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse

from leads.models import Lead, Stage
from sales.forms import SnoozeForm
from sales.models import Activity, Snooze
from sales.templatetags.sales_tags import STAND_IN_PK, STAND_IN_PREFIX
from sales.views.helpers import choices

TEMPLATES = {
    "sales/_form_activity.html": "sales:log",
    "sales/_form_snooze.html": "sales:snooze",
    "sales/_form_reject.html": "sales:reject",
}
# Short ids, ids that contain the stand-in's digits (or are a part of them), the largest.
PKS = (
    1,
    7,
    42,
    int(str(STAND_IN_PK)[:5]),
    int(str(STAND_IN_PK)[:-1]),
    int(f"1{STAND_IN_PK}"),
    int(f"{STAND_IN_PK}9"),
    STAND_IN_PK + 1,
    2**63 - 1,
)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DIRECT = engines["django"].from_string("{% include template_name with next=next prefix=prefix %}")
TEMPLATE = engines["django"].from_string(
    "{% load sales_tags %}{% row_form_template template_name 'kind' next %}"
)


class Row:
    """A lead as the row forms read it: only its pk."""

    def __init__(self, pk):
        self.pk = self.id = pk


def _request():
    request = RequestFactory().get("/sales/")
    request.user = AnonymousUser()  # the context processors read it
    get_token(request)  # the page's CSRF secret, as the middleware sets it
    return request


def _render(template, request, **context):
    base = {"sales_choices": choices(), "snooze_choices": SnoozeForm.SNOOZE_CHOICES}
    return template.render({**base, **context}, request)


def _stamp(page_html, kind, pk, prefix):
    """What inplace.js's fillRowForm puts into a row: the <template>'s content with its
    stand-in lead id and id prefix replaced by the row's."""
    template = re.search(
        rf'<template data-row-form="{kind}" data-stand-in-pk="(\d+)" '
        rf'data-stand-in-prefix="(\w+)">(.*?)</template>',
        page_html,
        re.S,
    )
    assert template, kind
    stand_in_pk, stand_in_prefix, html = template.groups()
    assert (int(stand_in_pk), stand_in_prefix) == (STAND_IN_PK, STAND_IN_PREFIX)
    return html.replace(stand_in_pk, str(pk)).replace(stand_in_prefix, prefix)


def _stamped(request, template_name, pk, prefix, next=""):
    html = _render(TEMPLATE, request, template_name=template_name, next=next)
    return _stamp(html, "kind", pk, prefix)


def _without_token(html):
    """The HTML with the CSRF token's value taken out, and that value. Each {% csrf_token %}
    masks the page's secret afresh, so two renders never show the same string."""
    tokens = TOKEN.findall(html)
    assert len(tokens) == 1, html
    return TOKEN.sub('name="csrfmiddlewaretoken" value="…"', html), tokens[0]


def _same_secret(request, *tokens):
    # A masked token is the secret and its mask; the middleware accepts any masking.
    secret = request.META["CSRF_COOKIE"]
    return all(_unmask_cipher_token(token) == secret for token in tokens)


@pytest.mark.parametrize("template_name", TEMPLATES)
@pytest.mark.parametrize("pk", PKS)
def test_a_stamped_form_is_the_form_rendered_for_that_row(template_name, pk):
    request = _request()
    context = {
        "template_name": template_name,
        "lead": Row(pk),
        "prefix": "follow_up-31",
        "next": "/sales/?tab=due&x=1",
    }
    stamped, stamped_token = _without_token(
        _stamped(request, template_name, pk, context["prefix"], context["next"])
    )
    direct, direct_token = _without_token(_render(DIRECT, request, **context))
    assert stamped == direct
    assert f'action="{reverse(TEMPLATES[template_name], args=[pk])}"' in stamped
    assert f'id="follow_up-31-{pk}-' in stamped and STAND_IN_PREFIX not in stamped
    assert _same_secret(request, stamped_token, direct_token)


def test_rows_of_one_page_are_stamped_from_one_render_each_the_rows_own():
    request = _request()
    template_name = "sales/_form_activity.html"
    page = _render(TEMPLATE, request, template_name=template_name, next="/sales/")
    for pk, prefix in ((5, "due-5"), (55, "missed-9"), (int(f"5{STAND_IN_PK}"), "backlog-1")):
        context = {"template_name": template_name, "lead": Row(pk), "prefix": prefix}
        stamped = _without_token(_stamp(page, "kind", pk, prefix))[0]
        direct = _without_token(_render(DIRECT, request, next="/sales/", **context))[0]
        assert stamped == direct


def test_next_is_escaped_as_an_include_escapes_it():
    # The prefix is a row id the server makes ("missed-follow_up-12"); next is the page's
    # own address, which a user can put anything into.
    request = _request()
    context = {
        "template_name": "sales/_form_snooze.html",
        "lead": Row(12),
        "prefix": "backlog-follow_up-12",
        "next": '/sales/?q="x"&y=<z>',
    }
    stamped = _without_token(
        _stamped(request, context["template_name"], 12, context["prefix"], context["next"])
    )[0]
    assert stamped == _without_token(_render(DIRECT, request, **context))[0]
    assert '<input type="hidden" name="next" value="/sales/?q=&quot;x&quot;&amp;y=&lt;z&gt;">' in (
        stamped
    )


def test_without_a_next_there_is_no_hidden_next_and_the_token_is_still_there():
    request = _request()
    context = {"template_name": "sales/_form_reject.html", "lead": Row(3), "prefix": "awaiting"}
    html = _stamped(request, context["template_name"], 3, context["prefix"])
    assert 'name="next"' not in html
    assert _same_secret(request, _without_token(html)[1])


@pytest.fixture
def morning():
    """Tuesday 1 December 2026, 11:00 in the site's time zone."""
    with time_machine.travel(
        dt.datetime(2026, 12, 1, 11, 0, tzinfo=ZoneInfo(settings.TIME_ZONE)), tick=False
    ):
        yield


def _form_of(page, action):
    """(the hidden fields, the form's HTML) of the form posting to ``action``."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form, action
    html = form.group(0)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return {k: v.replace("&amp;", "&") for k, v in hidden.items()}, html


def test_todays_stamped_forms_post_with_their_csrf_token_and_next(make_lead, rep, morning):
    lead = make_lead(Stage.CONTACTED)
    other = make_lead(Stage.CONTACTED)
    Lead.objects.filter(pk__in=[lead.pk, other.pk]).update(
        next_follow_up_at=dt.datetime(2026, 12, 1, 15, 0, tzinfo=ZoneInfo(settings.TIME_ZONE))
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    page = client.get(reverse("sales:inbox")).content.decode()
    # Each row's forms as the script copies them into the row when the rep opens them.
    log_form = _stamp(page, "log", lead.pk, f"due-follow_up-{lead.pk}")
    snooze_form = _stamp(page, "snooze", other.pk, f"due-follow_up-{other.pk}")

    hidden, html = _form_of(log_form, reverse("sales:log", args=[lead.pk]))
    # occurred_at: empty (now) unless the script fills in the time of a call just made.
    assert set(hidden) == {"csrfmiddlewaretoken", "next", "occurred_at"}
    assert (hidden["next"], hidden["occurred_at"]) == ("/sales/", "")
    assert f'id="due-follow_up-{lead.pk}-{lead.pk}-notes"' in html
    response = client.post(
        reverse("sales:log", args=[lead.pk]), {**hidden, "kind": "call", "notes": "Rang"}
    )
    assert response.status_code == 302 and response["Location"] == "/sales/"
    assert Activity.objects.get(lead=lead, notes="Rang").kind == "call"

    hidden, _html = _form_of(snooze_form, reverse("sales:snooze", args=[other.pk]))
    response = client.post(
        reverse("sales:snooze", args=[other.pk]),
        {**hidden, "snooze": "tomorrow", "reason": "Away"},
    )
    assert response.status_code == 302
    assert Snooze.objects.get(lead=other).reason == "Away"
    # Without the token the same post is refused.
    del hidden["csrfmiddlewaretoken"]
    refused = client.post(
        reverse("sales:snooze", args=[other.pk]), {**hidden, "snooze": "monday", "reason": "x"}
    )
    assert refused.status_code == 403
