"""SLA thresholds as durations in minutes (SPEC §4): read from what a manager types ("45 min",
"4 h", "1 h 30 min", "2 d", Dutch "3 uur", "2 dagen", or a bare number of minutes) and shown
back in the largest unit that is exact ("90 min", "4 h", "2 d")."""

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy

from leadflow.dates import duration_part

HOUR = 60
DAY = 24 * HOUR

# Every spelling the form accepts, English and Dutch, whatever the interface language:
# what the page shows in either language reads back as the same duration.
UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "minuut", "minuten"), 1),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "u", "uur", "uren"), HOUR),
    **dict.fromkeys(("d", "day", "days", "dag", "dagen"), DAY),
}
# One "<number> <unit>" part; a decimal comma is Dutch for a decimal point.
PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([^\W\d_]*)")

INVALID = gettext_lazy("Enter a duration such as 45 min, 4 h, 1 h 30 min or 2 d.")


def parse_minutes(text):
    """The whole number of minutes ``text`` names, or None when it names no duration (a bad
    unit, a stray character, a fraction of a minute). A bare number is minutes."""
    text = (text or "").strip().lower()
    if not text:
        return None
    total, pos = Decimal(0), 0
    for match in PART.finditer(text):
        if text[pos : match.start()].strip():
            return None  # something between the parts that is not a part
        number, unit = match.groups()
        if unit and unit not in UNITS:
            return None
        try:
            total += Decimal(number.replace(",", ".")) * UNITS.get(unit, 1)
        except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
            return None
        pos = match.end()
    if pos == 0 or text[pos:].strip() or total != total.to_integral_value():
        return None
    return int(total)


def format_minutes(minutes):
    """``minutes`` in the largest unit that holds it exactly: 2880 → "2 d", 90 → "90 min"."""
    if minutes is None or minutes == "":
        return ""
    minutes = int(minutes)
    if minutes and minutes % DAY == 0:
        return duration_part(minutes // DAY, "d")
    if minutes and minutes % HOUR == 0:
        return duration_part(minutes // HOUR, "h")
    return duration_part(minutes, "min")


class DurationInput(forms.TextInput):
    """A text box showing a stored number of minutes as "4 h"; typed text stays as typed."""

    def format_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return format_minutes(value)
        return super().format_value(value)


class MinutesField(forms.Field):
    """A duration typed in minutes, hours or days, cleaned to a whole number of minutes from
    ``min_minutes`` (1, or 0 where 0 turns something off) up to ``max_minutes``."""

    widget = DurationInput
    default_error_messages = {
        "invalid": INVALID,
        "min_value": gettext_lazy("Enter a duration of at least 1 minute."),
        "max_value": gettext_lazy("Enter a duration of at most %(max)s."),
    }

    def __init__(self, *, max_minutes, min_minutes=1, **kwargs):
        self.max_minutes = max_minutes
        self.min_minutes = min_minutes
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "autocomplete": "off", "spellcheck": "false"}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # A sign is no duration, but "-5" should say "at least 1 minute", not "bad format".
        text = str(value).strip()
        negative = text.startswith("-")
        minutes = parse_minutes(text.lstrip("-"))
        if minutes is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return -minutes if negative else minutes

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        if value < self.min_minutes:
            raise forms.ValidationError(self.error_messages["min_value"], code="min_value")
        if value > self.max_minutes:
            raise forms.ValidationError(
                self.error_messages["max_value"],
                code="max_value",
                params={"max": format_minutes(self.max_minutes)},
            )
