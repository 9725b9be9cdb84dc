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
