"""Template filters of the SLA pages."""

from django import template

from ..sla.durations import format_minutes

register = template.Library()


@register.filter
def minutes(value):
    """A threshold in minutes as the form shows it: 90 → "90 min", 240 → "4 h", 2880 → "2 d"."""
    return format_minutes(value)
