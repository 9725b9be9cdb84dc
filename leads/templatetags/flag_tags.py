"""A lead's open flags as badges, on the lead page, the lead list and Today."""

import functools

from django import template
from django.urls import reverse
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from leadflow.templatetags.leadflow_tags import ends_sentence

from ..models import Flag

register = template.Library()


@register.simple_tag
def flag_badges(flags):
    """Open flags as badges. Each names its kind and side in text (colour only repeats
    the side) and links to the lead list filtered by that kind. A simple tag rather than
    an included template: the lead list and Today render it on every row."""
    if not flags:
        return ""
    flag_list = reverse("leads:list")
    open_flag = _("Open flag:")
    title = _("%(side)s side, raised %(since)s. Show all leads with this flag.")
    when = get_format("SHORT_DATETIME_FORMAT")
    # Labels once per call (get_FOO_display() rebuilds its choices per call).
    kinds, sides = _labels("kind"), _labels("side")
    badges = format_html_join(
        "",
        '<a class="badge badge-flag flag-{} text-decoration-none me-1" href="{}?flag={}" '
        'title="{}"><span aria-hidden="true">⚑ </span><span class="visually-hidden">{} </span>'
        '{}<span class="flag-side"> · {}</span></a>',
        (
            (
                flag.side,
                flag_list,
                flag.kind,
                title
                % {
                    "side": sides.get(flag.side, flag.side),
                    "since": ends_sentence(dateformat.format(localtime(flag.raised_at), when)),
                },
                open_flag,
                kinds.get(flag.kind, flag.kind),
                sides.get(flag.side, flag.side),
            )
            for flag in flags
        ),
    )
    return format_html('<span class="flag-badges">{}</span>', badges)


def _labels(field):
    return _labels_in(field, get_language())


@functools.lru_cache(maxsize=16)
def _labels_in(field, language):
    """{value: label} of a Flag field's choices in ``language`` (the active one)."""
    return {value: str(label) for value, label in Flag._meta.get_field(field).flatchoices}
