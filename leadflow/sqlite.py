"""SQLite's LIKE folds only ASCII letters: "émilie" would not find Émilie. The lead
list's search is ``icontains``, which Django writes as ``LIKE … ESCAPE '\\'`` on SQLite, so
LIKE is replaced on each SQLite connection by one that compares casefolded text
(PostgreSQL's ILIKE already folds É and é in a UTF-8 database)."""

import functools
import re


@functools.lru_cache(maxsize=512)
def _pattern(pattern, escape):
    parts, chars, i = [], pattern.casefold(), 0
    while i < len(chars):
        char = chars[i]
        if escape and char == escape and i + 1 < len(chars):
            parts.append(re.escape(chars[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def like(pattern, value, escape=None):
    """SQL ``value LIKE pattern [ESCAPE escape]``, case-insensitive for every letter."""
    if pattern is None or value is None:
        return None
    return _pattern(str(pattern), escape).fullmatch(str(value).casefold()) is not None


def install(sender, connection, **kwargs):
    """connection_created receiver (LeadflowConfig.ready)."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("like", 2, like, deterministic=True)
    connection.connection.create_function("like", 3, like, deterministic=True)
