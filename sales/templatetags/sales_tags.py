"""Deadlines shown the way a rep reads them: "3 hours left", "overdue by 2 hours" (in red
and in words: never information by colour alone)."""

import functools

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

from leads.templatetags.flag_tags import flag_badges

register = template.Library()


# Simple tags, not inclusion templates: Today renders up to 125 of them per page, and an
# inclusion tag's context and template (with its blocktranslate) cost about ten times
# as much per row. The HTML is what sales/_due.html and sales/_follow_up.html rendered.
_WARN = '<span class="overdue"><span aria-hidden="true">⚠ </span>{}</span>'


def _time(moment, text):
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        date_format(local, "c"),
        date_format(local, "SHORT_DATETIME_FORMAT"),
        text,
    )


@register.simple_tag
def due(deadline, now=None, kind="response"):
    """A deadline relative to now: time left, or overdue by how long."""
    if deadline is None:
        return "—"
    now = now or timezone.now()
    if deadline <= now:
        span = timesince(deadline, now, depth=1)
        text = format_html(_WARN, _("overdue by %(span)s") % {"span": span})
    else:
        text = _("%(span)s left") % {"span": timeuntil(deadline, now, depth=2)}
    return _time(deadline, text)


@register.simple_tag
def follow_up(moment, now=None):
    """A follow-up moment: overdue (since when), today at a time, or a date."""
    if moment is None:
        return "—"
    now = now or timezone.now()
    local = timezone.localtime(moment)
    if moment < now:
        span = timesince(moment, now, depth=1)
        text = format_html(_WARN, _("overdue by %(span)s") % {"span": span})
    elif local.date() == timezone.localdate(now):
        text = _("today %(time)s") % {"time": time_format(local, "TIME_FORMAT")}
    else:
        text = date_format(local, "SHORT_DATETIME_FORMAT")
    return _time(moment, text)


@register.filter
def capped(count):
    """A CappedCount as read: "1,234", or "10,000+" when counting stopped at the cap."""
    text = intcomma(int(count))
    return f"{text}+" if getattr(count, "capped", False) else text


# --- a row's action form, on demand ---------------------------------------------------
# Today shows up to 125 rows, each offering a log, snooze or reject form. Rendering those
# forms into every row made a 550 KB page, two thirds of it forms nobody opened. Instead
# each kind of form is rendered once per page, for a stand-in lead, into a <template>;
# static/js/inplace.js copies it into a row when the rep opens that row's form, with the
# row's lead id and id prefix in place of the stand-in's. Without JavaScript the row
# links to the same form on a page of its own.
STAND_IN_PK = 987654320123
STAND_IN_PREFIX = "zzrowprefixzz"


class _StandInLead:
    pk = id = STAND_IN_PK


@register.simple_tag(takes_context=True)
def row_form_template(context, template_name, kind, next=""):
    """``{% row_form_template "sales/_form_activity.html" "log" next %}``: a <template>
    holding the form as ``{% include … with next=next prefix=prefix %}`` renders it for a
    stand-in lead; the form may use only ``lead.pk`` of the lead."""
    template_obj = context.template.engine.get_template(template_name)
    with context.push(lead=_StandInLead(), prefix=STAND_IN_PREFIX, next=next):
        html = template_obj.render(context)
    return format_html(
        '<template data-row-form="{}" data-stand-in-pk="{}" data-stand-in-prefix="{}">'
        "{}</template>",
        kind,
        STAND_IN_PK,
        STAND_IN_PREFIX,
        mark_safe(html),  # noqa: S308 - the template's own escaped output
    )


@register.simple_tag
def row_action_url(action, pk, query=""):
    """``{% row_action_url "log" lead.pk next_query %}``: reverse("sales:log", args=[pk])
    plus "?query", reversed once per action and prefix rather than once per row."""
    url = _action_url(action, get_script_prefix()).replace(str(STAND_IN_PK), str(pk))
    return f"{url}?{query}" if query else url


@functools.lru_cache(maxsize=64)
def _action_url(action, script_prefix):
    return reverse(f"sales:{action}", args=[STAND_IN_PK])


# --- a row's lead cell ------------------------------------------------------------------
@register.simple_tag
def lead_cell(lead):
    """A lead as Today's rows show it: name (linked), "sales-generated", company and
    campaign, phone and e-mail links, open flags. A simple tag rather than an included
    template: Today renders up to 150 of them."""
    parts = [
        format_html(
            '<a href="{}" class="fw-semibold">{}</a>',
            _lead_url(get_script_prefix()).replace(str(STAND_IN_PK), str(lead.pk)),
            lead.full_name,
        )
    ]
    if lead.origin == "sales":
        parts.append(
            format_html(
                ' <span class="badge text-bg-light border">{}</span>', _("sales-generated")
            )
        )
    campaign = lead.campaign.name if lead.campaign_id else ""
    parts.append(
        format_html(
            '\n<div class="small text-body-secondary">{}</div>',
            " · ".join(part for part in (lead.company, campaign) if part),
        )
    )
    contacts = []
    if lead.phone:
        contacts.append(format_html('<a href="tel:{}">{}</a>', lead.phone, lead.phone))
    if lead.email:
        contacts.append(format_html('<a href="mailto:{}">{}</a>', lead.email, lead.email))
    if contacts:
        parts.append(format_html('\n<div class="small">{}</div>', mark_safe(" · ".join(contacts))))  # noqa: S308 - each part escaped by format_html
    flags = getattr(lead, "open_flags", None)
    if flags:
        parts.append(format_html("\n<div>{}</div>", flag_badges(flags)))
    return mark_safe("".join(parts))  # noqa: S308 - each part escaped by format_html


@functools.lru_cache(maxsize=8)
def _lead_url(script_prefix):
    return reverse("leads:detail", args=[STAND_IN_PK])
