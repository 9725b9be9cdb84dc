"""leadflow.dates.quick_moments: the quick times the log and snooze forms offer, read on
the site's calendar (Europe/Amsterdam here), clock changes included."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from leadflow.dates import QUICK_MOMENTS, quick_moments

AMS = ZoneInfo("Europe/Amsterdam")
UTC = dt.UTC


@pytest.fixture(autouse=True)
def amsterdam(settings):
    settings.TIME_ZONE = "Europe/Amsterdam"


def _utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def test_quick_moments_come_in_the_labels_order_in_the_site_time_zone():
    moments = quick_moments(_utc(2026, 12, 1, 10, 0))
    assert list(moments) == list(QUICK_MOMENTS)
    for moment in moments.values():
        assert moment.tzinfo.key == "Europe/Amsterdam"


def test_quick_moments_on_an_ordinary_tuesday():
    # Tuesday 1 December 2026, 11:00:40 in Amsterdam (CET, UTC+1).
    moments = quick_moments(_utc(2026, 12, 1, 10, 0, 40))
    assert moments == {
        "in_1_hour": dt.datetime(2026, 12, 1, 12, 0, 40, tzinfo=AMS),
        "tomorrow_9": dt.datetime(2026, 12, 2, 9, 0, tzinfo=AMS),
        "in_2_days": dt.datetime(2026, 12, 3, 11, 0, tzinfo=AMS),
        "next_monday_9": dt.datetime(2026, 12, 7, 9, 0, tzinfo=AMS),
    }


def test_next_monday_across_the_spring_clock_change_is_nine_in_summer_time():
    # Friday 27 March 2026, 10:00 CET; the clocks go forward on Sunday 29 March.
    monday = quick_moments(_utc(2026, 3, 27, 9, 0))["next_monday_9"]
    assert monday == _utc(2026, 3, 30, 7, 0)  # 9:00 CEST, UTC+2
    assert monday.hour == 9 and monday.utcoffset() == dt.timedelta(hours=2)


def test_next_monday_across_the_autumn_clock_change_is_nine_in_winter_time():
    # Friday 23 October 2026, 10:00 CEST; the clocks go back on Sunday 25 October.
    monday = quick_moments(_utc(2026, 10, 23, 8, 0))["next_monday_9"]
    assert monday == _utc(2026, 10, 26, 8, 0)  # 9:00 CET, UTC+1
    assert monday.hour == 9 and monday.utcoffset() == dt.timedelta(hours=1)


def test_next_monday_on_a_monday_is_a_week_on_even_before_nine():
    assert quick_moments(_utc(2026, 12, 7, 6, 0))["next_monday_9"] == dt.datetime(
        2026, 12, 14, 9, 0, tzinfo=AMS
    )


def test_tomorrow_at_half_past_eleven_at_night_is_the_next_local_morning():
    # Tuesday 1 December, 23:30 CET: tomorrow is Wednesday, nine and a half hours away.
    assert quick_moments(_utc(2026, 12, 1, 22, 30))["tomorrow_9"] == dt.datetime(
        2026, 12, 2, 9, 0, tzinfo=AMS
    )


def test_tomorrow_just_after_local_midnight_counts_from_the_local_day_not_utc():
    # Wednesday 2 December, 0:30 CET is still Tuesday 23:30 in UTC.
    assert quick_moments(_utc(2026, 12, 1, 23, 30))["tomorrow_9"] == dt.datetime(
        2026, 12, 3, 9, 0, tzinfo=AMS
    )


def test_tomorrow_at_half_past_eleven_before_the_clock_change_is_nine_in_summer_time():
    # Saturday 28 March 2026, 23:30 CET; Sunday starts in winter time, 9:00 is CEST.
    assert quick_moments(_utc(2026, 3, 28, 22, 30))["tomorrow_9"] == _utc(2026, 3, 29, 7, 0)


def test_in_an_hour_is_an_hour_of_elapsed_time_across_the_clock_change():
    # Sunday 29 March 2026, 1:30 CET; at 2:00 the clocks jump to 3:00.
    in_an_hour = quick_moments(_utc(2026, 3, 29, 0, 30))["in_1_hour"]
    assert in_an_hour == _utc(2026, 3, 29, 1, 30)
    assert (in_an_hour.hour, in_an_hour.minute) == (3, 30)


def test_in_two_days_keeps_the_wall_clock_time_to_the_minute_across_the_clock_change():
    # Friday 27 March 2026, 15:20:45 CET -> Sunday 15:20 CEST (only 47 hours on).
    assert quick_moments(_utc(2026, 3, 27, 14, 20, 45))["in_2_days"] == dt.datetime(
        2026, 3, 29, 15, 20, tzinfo=AMS
    )


def test_in_an_hour_inside_the_repeated_autumn_hour_is_the_later_instant():
    # Sunday 25 October 2026, 2:40 CEST; at 3:00 CEST the clocks go back to 2:00 CET.
    in_an_hour = quick_moments(_utc(2026, 10, 25, 0, 40))["in_1_hour"]
    assert in_an_hour.astimezone(UTC) == _utc(2026, 10, 25, 1, 40)
    assert (in_an_hour.hour, in_an_hour.utcoffset()) == (2, dt.timedelta(hours=1))
