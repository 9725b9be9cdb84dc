from django.utils import translation

from leadflow.templatetags.leadflow_tags import money, percent


def test_percent_rounds_and_says_dash_for_undefined():
    with translation.override("en"):
        assert percent(8 / 9) == "88.9%"
        assert percent(0.5, 0) == "50%"
        assert percent(None) == "—"


def test_money_is_localized():
    with translation.override("nl"):
        assert money(1234567.891) == "1.234.567,89"
    with translation.override("en"):
        assert money(1234567.891) == "1,234,567.89"
        assert money(None) == "—"
