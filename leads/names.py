"""Splitting a full name into first and last name, as a Dutch CRM files it: the public
intake's ``name`` field and the CSV import's full-name column read it the same way."""

# Dutch and other surname particles ("tussenvoegsels"): "Jan van der Berg" is Jan,
# van der Berg.
NAME_PARTICLES = frozenset(
    "van von de der den des het 't ten ter te op in la le du da di dos del della bin ibn".split()
)


def split_full_name(name):
    """(first, last) of a full name: the last name starts at the first particle after the
    first word ("Jan van der Berg" -> Jan / van der Berg), otherwise it is the last word."""
    words = name.split()
    if len(words) < 2:
        return "", name.strip()
    for i, word in enumerate(words[1:-1], start=1):
        if word.lower() in NAME_PARTICLES:
            return " ".join(words[:i]), " ".join(words[i:])
    return " ".join(words[:-1]), words[-1]
