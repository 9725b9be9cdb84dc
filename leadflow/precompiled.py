"""EXISTS tests whose SQL is compiled once per process, for the hottest path (the public
intake reads its campaign with two of them on every post).

Compiling ``Exists(queryset)`` costs about half a millisecond of CPU per request (the
queryset is cloned and compiled afresh each time): as much as the round trip it saves.
A test whose queryset has only constants (no dates, no users, no ids) always compiles to
the same SQL and parameters, so it is compiled the first time a process asks and reused
as raw SQL from then on; the database still evaluates it on every query, so its answer is
never stale. The queryset stays the one definition of the rule.
"""

from django.db import models
from django.db.models.expressions import RawSQL

_compiled = {}


def exists(name, make_queryset):
    """``EXISTS (make_queryset())`` as an expression, compiled once per process under
    ``name``. The subquery is not correlated with the outer query and uses its tables'
    own names: use it on a query that does not join those tables."""
    if name not in _compiled:
        sql, params = make_queryset().order_by().values("pk")[:1].query.sql_with_params()
        _compiled[name] = (f"EXISTS ({sql})", params)
    sql, params = _compiled[name]
    return RawSQL(sql, params, output_field=models.BooleanField())
