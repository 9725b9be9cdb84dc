"""Fast inserts of many model instances.

On PostgreSQL, ids are reserved from the table's sequence and the rows are written with
COPY, which is several times faster than a multi-row INSERT that Django must compile value
by value. Elsewhere this is ``bulk_create``. Either way ``obj.pk`` is set afterwards.
Model ``save()`` is not called; auto_now/auto_now_add fields are stamped here."""

from django.db import connection
from django.utils import timezone


def _db_value(field, obj):
    value = getattr(obj, field.attname)
    if value is None:
        return None
    if field.get_internal_type() in ("JSONField",):
        return field.get_db_prep_save(value, connection)
    return value


def bulk_insert(model, objs):
    if not objs:
        return objs
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs)
    meta = model._meta
    pk = meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(objs)],
        )
        for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, pk.attname, new_id)
        fields = meta.concrete_fields
        stamped = [
            f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        relations = [f for f in fields if f.is_relation and f.many_to_one]
        now = timezone.now()
        for obj in objs:
            for field in stamped:
                if getattr(obj, field.attname) is None or getattr(field, "auto_now", False):
                    setattr(obj, field.attname, now)
            # Related objects inserted earlier in the same batch got their id only now.
            for field in relations:
                related = field.get_cached_value(obj, default=None)
                if related is not None and getattr(obj, field.attname) is None:
                    setattr(obj, field.attname, related.pk)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        copy_sql = f"COPY {meta.db_table} ({columns}) FROM STDIN"
        with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for obj in objs:
                copy.write_row([_db_value(f, obj) for f in fields])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = "default"
    return objs


def copy_rows(model, columns, rows):
    """Insert plain tuples (values of ``columns``, in that order; the id from its default):
    COPY on PostgreSQL, without a model instance per row; bulk_create elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    table = model._meta.db_table
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
