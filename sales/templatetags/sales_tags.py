"""Deadlines shown the way a rep reads them: "3 hours left", "overdue by 2 hours" (in red
and in words: never information by colour alone)."""

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
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


# --- a row's copy of a small action form -----------------------------------------------
# Today shows up to 125 rows, each with its log, snooze or reject form; rendering each of
# those templates per row was most of the page's server time at a million leads. A row
# form is rendered once per page for a stand-in lead, then stamped with each row's lead id
# and id prefix: the same HTML, one render per kind of form.
STAND_IN_PK = 987654320123
STAND_IN_PREFIX = "zzrowprefixzz"


class _StandInLead:
    pk = id = STAND_IN_PK


@register.simple_tag(takes_context=True)
def row_form(context, template_name, lead, prefix="", next=""):
    """``{% row_form "sales/_form_activity.html" lead prefix next %}``: the template as
    ``{% include … with next=next prefix=prefix %}`` would render it for ``lead``; the
    template may use only ``lead.pk`` of the lead."""
    request = context.get("request")
    cache = getattr(request, "_row_forms", None) if request is not None else None
    if cache is None:
        cache = {}
        if request is not None:
            request._row_forms = cache
    key = (template_name, next)
    if key not in cache:
        template_obj = context.template.engine.get_template(template_name)
        with context.push(lead=_StandInLead(), prefix=STAND_IN_PREFIX, next=next):
            cache[key] = template_obj.render(context)
    html = cache[key].replace(str(STAND_IN_PK), str(lead.pk))
    html = html.replace(STAND_IN_PREFIX, conditional_escape(prefix))
    return mark_safe(html)  # noqa: S308 - the cached template's own escaped output
