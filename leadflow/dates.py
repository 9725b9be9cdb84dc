"""Local days: every period in LeadFlow is whole days in the site's time zone."""

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# Midnight of year 1, or the day after 9999-12-31, cannot be expressed in UTC: a date
# outside these bounds would be a 500, not a period.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(9998, 12, 31)


def validate_day(value):
    """The validator of every date field that becomes a period's bound."""
    if value is not None and not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValidationError(_("Enter a date between 1900 and 9998."), code="out_of_range")


def today_bounds():
    """(now, the start of tomorrow in the site's time zone): "due today" ends at midnight."""
    now = timezone.now()
    tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
    return now, timezone.make_aware(dt.datetime.combine(tomorrow, dt.time.min))


# The quick moments the log forms (next follow-up) and the snooze form offer, in this
# order. Each form offers the ones it names; the moments are computed in quick_moments.
QUICK_MOMENTS = {
    "in_1_hour": _("In an hour"),
    "tomorrow_9": _("Tomorrow 9:00"),
    "in_2_days": _("In 2 days"),
    "next_monday_9": _("Next Monday 9:00"),
}


def quick_moments(now=None):
    """{key: moment} of QUICK_MOMENTS from ``now``, in the site's time zone: an hour on
    (elapsed time, across a clock change too), 9:00 on the local day after today, this
    local time in two days to the minute, and 9:00 on the Monday after today (a week on
    when today is Monday). Compare them as instants: an hour on inside autumn's repeated
    hour is a local time with fold=1, which Python never finds == to another zone's."""
    now = now or timezone.now()
    local = timezone.localtime(now)

    def at_nine(day):
        return timezone.make_aware(dt.datetime.combine(day, dt.time(9)), local.tzinfo)

    return {
        "in_1_hour": timezone.localtime(now.astimezone(dt.UTC) + dt.timedelta(hours=1)),
        "tomorrow_9": at_nine(local.date() + dt.timedelta(days=1)),
        # Wall-clock days: 15:20 stays 15:20 across a clock change.
        "in_2_days": timezone.localtime(
            (local + dt.timedelta(days=2)).replace(second=0, microsecond=0)
        ),
        "next_monday_9": at_nine(local.date() + dt.timedelta(days=7 - local.weekday())),
    }


def start_of_day(day):
    """Midnight at the start of ``day`` in the site's time zone (periods are local days)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class DayField(forms.DateField):
    """An optional date input that bounds a period: the browser's date picker, ISO
    values, and the 1900–9998 guard."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        super().__init__(**kwargs)
        self.validators.append(validate_day)


def duration_part(count, unit):
    """One part of a duration in minutes' units as people read it: "3 d", "4 h", "25 min"
    (``unit``: "d", "h" or "min"). The SLA thresholds' exact form ("2 d") and the court
    time's glance ("3 h 10 min") both write their parts with it."""
    texts = {
        "d": gettext("%(count)s d"),
        "h": gettext("%(count)s h"),
        "min": gettext("%(count)s min"),
    }
    return texts[unit] % {"count": count}
