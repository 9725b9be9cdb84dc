"""SLA thresholds as durations (issue 16): the form reads "45 min", "4 h", "1 h 30 min",
"2 d", Dutch units and bare minutes, refuses anything else or a duration under a minute
with a form error, and shows a stored value in the largest exact unit."""

import pytest
from django import forms
from django.utils import translation

from leads.sla.durations import MinutesField, format_minutes, parse_minutes


@pytest.mark.parametrize(
    "text, minutes",
    [
        ("45 min", 45),
        ("45min", 45),
        ("45 minutes", 45),
        ("90", 90),
        ("4 h", 240),
        ("4h", 240),
        ("4 hours", 240),
        ("1 h 30 min", 90),
        ("1h30m", 90),
        ("1.5 h", 90),
        ("2 d", 2880),
        ("2 days", 2880),
        ("1 d 4 h", 1680),
        (" 3 H ", 180),
        # Dutch
        ("3 u", 180),
        ("3 uur", 180),
        ("1,5 uur", 90),
        ("2 dagen", 2880),
        ("1 dag", 1440),
        ("10 minuten", 10),
    ],
)
def test_durations_are_read_in_minutes_hours_and_days(text, minutes):
    assert parse_minutes(text) == minutes


@pytest.mark.parametrize(
    "text", ["", "   ", "soon", "4 x", "h", "4 h h", "1.5", "0.5 min", "4 h, 2", "1e3", "½ h"]
)
def test_anything_else_is_no_duration(text):
    assert parse_minutes(text) is None


@pytest.mark.parametrize(
    "minutes, shown",
    [(45, "45 min"), (60, "1 h"), (90, "90 min"), (240, "4 h"), (1440, "1 d"), (4320, "3 d")],
)
def test_a_duration_is_shown_in_the_largest_exact_unit_and_reads_back(minutes, shown):
    assert format_minutes(minutes) == shown
    assert parse_minutes(shown) == minutes


def test_the_dutch_page_shows_dutch_units_that_read_back():
    with translation.override("nl"):
        for minutes in (45, 240, 2880):
            assert parse_minutes(format_minutes(minutes)) == minutes


@pytest.mark.parametrize(
    "value, error",
    [
        ("0", "at least 1 minute"),
        ("0 h", "at least 1 minute"),
        ("-2 h", "at least 1 minute"),
        ("soon", "such as 45 min"),
        ("2 d", "at most 1 d"),
        ("", "required"),
    ],
)
def test_the_field_gives_a_clear_error_for_bad_input(value, error):
    field = MinutesField(max_minutes=1440)
    with pytest.raises(forms.ValidationError) as exc:
        field.clean(value)
    assert error in " ".join(exc.value.messages)


def test_the_field_cleans_to_minutes_and_renders_the_stored_value():
    field = MinutesField(max_minutes=10_000)
    assert field.clean("1 h 30 min") == 90
    assert field.widget.format_value(2880) == "2 d"
    assert field.widget.format_value("2 h") == "2 h"  # what was typed stays as typed
