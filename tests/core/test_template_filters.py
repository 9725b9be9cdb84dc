from decimal import Decimal

import pytest
from django.utils import translation

from leadflow.templatetags.leadflow_tags import money, percent


def test_percent_rounds_and_says_dash_for_undefined():
    with translation.override("en"):
        assert percent(8 / 9) == "88.9%"
        assert percent(0.5, 0) == "50%"
        assert percent(None) == "—"


def test_money_shows_the_site_currency_in_the_users_language(settings):
    settings.CURRENCY = "EUR"
    with translation.override("nl"):
        assert money(Decimal("1042454.53")) == "€ 1.042.454,53"
        assert money(1234567.891) == "€ 1.234.567,89"
    with translation.override("en"):
        assert money(Decimal("1042454.53")) == "€1,042,454.53"
        assert money(Decimal("-5")) == "-€5.00"
        assert money(None) == "—"


@pytest.mark.parametrize(
    "code, english, dutch",
    [
        ("USD", "$1,042,454.53", "$ 1.042.454,53"),
        ("GBP", "£1,042,454.53", "£ 1.042.454,53"),
        ("JPY", "¥1,042,455", "¥ 1.042.455"),  # no minor unit
        ("CHF", "CHF 1,042,454.53", "CHF 1.042.454,53"),
        ("SEK", "kr 1,042,454.53", "kr 1.042.454,53"),
        ("PLN", "PLN 1,042,454.53", "PLN 1.042.454,53"),  # no symbol known: the code
    ],
)
def test_money_symbols_per_currency(settings, code, english, dutch):
    settings.CURRENCY = code
    with translation.override("en"):
        assert money(Decimal("1042454.53")) == english
    with translation.override("nl"):
        assert money(Decimal("1042454.53")) == dutch
