"""A lead's open flags as badges, on the lead page, the lead list and Today."""

from django import template
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from leadflow.templatetags.leadflow_tags import ends_sentence

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
                _("%(side)s side, raised %(since)s. Show all leads with this flag.")
                % {
                    "side": flag.get_side_display(),
                    "since": ends_sentence(
                        date_format(localtime(flag.raised_at), "SHORT_DATETIME_FORMAT")
                    ),
                },
                open_flag,
                flag.get_kind_display(),
                flag.get_side_display(),
            )
            for flag in flags
        ),
    )
    return format_html('<span class="flag-badges">{}</span>', badges)
