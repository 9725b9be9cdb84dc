"""Reading a consent answer (SPEC §2: each touch carries the consent answer it had).

One reading for the public intake, the CSV import and the API: a yes gives consent, a no
refuses or withdraws it, and anything else (an unticked box, an empty cell) is no answer,
which leaves the lead's consent as its latest explicit answer set it
(``Lead.take_consent``)."""

YES = frozenset(
    {"1", "on", "yes", "y", "true", "ja", "j", "x", "opt-in", "opted in", "subscribed"}
)
NO = frozenset(
    {
        "0",
        "off",
        "no",
        "n",
        "false",
        "nee",
        "opt-out",
        "opted out",
        "unsubscribed",
        "withdrawn",
    }
)


def consent_answer(value):
    """True, False or None (no answer) for a posted, imported or JSON value."""
    if isinstance(value, bool) or value is None:
        return value
    text = str(value).strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    return None
