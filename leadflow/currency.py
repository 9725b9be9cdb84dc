"""Money as people read it: the site currency (settings.CURRENCY, ISO 4217) with its symbol,
in the active language's number format. One place; the ``money`` template filter uses it."""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import translation
from django.utils.formats import number_format

# code -> (symbol, decimals). A symbol of letters is always followed by a space.
SYMBOLS = {
    "EUR": ("€", 2),
    "USD": ("$", 2),
    "GBP": ("£", 2),
    "JPY": ("¥", 0),
    "CHF": ("CHF", 2),
    "SEK": ("kr", 2),
    "NOK": ("kr", 2),
    "DKK": ("kr", 2),
}
# Languages that write a space between a sign symbol and the amount (€ 12,50).
SPACED = {"nl"}


def format_money(value, code=None):
    code = (code or settings.CURRENCY).upper()
    symbol, places = SYMBOLS.get(code, (code, 2))
    amount = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    number = number_format(abs(amount), decimal_pos=places, force_grouping=True)
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    space = " " if symbol.isalpha() or language in SPACED else ""
    return f"{'-' if amount < 0 else ''}{symbol}{space}{number}"
