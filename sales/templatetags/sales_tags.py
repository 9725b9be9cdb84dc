"""Deadlines shown the way a rep reads them: "3 hours left", "overdue by 2 hours" (in red
and in words: never information by colour alone)."""

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

register = template.Library()


@register.inclusion_tag("sales/_due.html")
def due(deadline, now=None, kind="response"):
    """A deadline relative to now: time left, or overdue by how long."""
    now = now or timezone.now()
    if deadline is None:
        return {"deadline": None}
    overdue = deadline <= now
    span = timesince(deadline, now, depth=1) if overdue else timeuntil(deadline, now, depth=2)
    return {"deadline": deadline, "overdue": overdue, "span": span, "kind": kind}


@register.inclusion_tag("sales/_follow_up.html")
def follow_up(moment, now=None):
    """A follow-up moment: overdue (since when), today at a time, or a date."""
    now = now or timezone.now()
    if moment is None:
        return {"moment": None}
    local, today = timezone.localtime(moment), timezone.localdate(now)
    return {
        "moment": moment,
        "overdue": moment < now,
        "today": local.date() == today,
        "span": timesince(moment, now, depth=1),
    }


@register.filter
def capped(count):
    """A CappedCount as read: "1,234", or "10,000+" when counting stopped at the cap."""
    text = intcomma(int(count))
    return f"{text}+" if getattr(count, "capped", False) else text
