from django import template
from django.utils.formats import number_format

from leadflow import currency, names
from leadflow.dates import duration_part

register = template.Library()


@register.filter
def percent(value, digits=1):
    """A fraction 0-1 as a localized percentage; "—" when undefined (zero denominator)."""
    if value is None or value == "":
        return "—"
    # number_format cuts extra decimals off; round first so 8/9 reads 88.9%, not 88.8%.
    digits = int(digits)
    return f"{number_format(round(float(value) * 100, digits), decimal_pos=digits)}%"


@register.filter
def money(value):
    """An amount in the site currency, in the user's language: "€1,042,454.53" in English,
    "€ 1.042.454,53" in Dutch, "PLN 12.00" for a currency without a known symbol; "—" when
    unset. (The CSVs and the API keep plain decimals with two places.)"""
    if value is None or value == "":
        return "—"
    return currency.format_money(value)


@register.filter
def get_item(mapping, key):
    """mapping[key] in templates (dicts keyed by ids or choice values); None when absent."""
    if mapping is None:
        return None
    return mapping.get(key)


@register.filter
def person(user, arg=""):
    """A user as people see them everywhere (leadflow.names.person): the full name, else
    the username; ``person:"username"`` adds the username to a full name."""
    return names.person(user, with_username=arg == "username")


@register.filter
def ends_sentence(value):
    """A value that ends a sentence, without its own trailing full stop: the sentence's
    stop serves for both, so "due 9:29 a.m." does not read "a.m.." (nor "Ltd.." for a
    company name)."""
    text = str(value)
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


@register.filter
def minutes_span(value):
    """Minutes as the two largest units people read at a glance: "3 h 10 min", "4 d 2 h",
    "25 min"; "—" when unset."""
    if value is None or value == "":
        return "—"
    days, rest = divmod(max(0, int(value)), 24 * 60)
    hours, mins = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (mins, "min")]
    while len(units) > 1 and not units[0][0]:
        units.pop(0)
    shown = [duration_part(n, unit) for n, unit in units[:2] if n] or [duration_part(0, "min")]
    return " ".join(shown)
