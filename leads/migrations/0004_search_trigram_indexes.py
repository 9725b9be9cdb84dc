"""Trigram indexes for the lead list's search (ILIKE '%term%' on name, email, company).

PostgreSQL only: Django's icontains is UPPER(col::text) LIKE UPPER(pattern), so the
indexes are on that expression with gin_trgm_ops. On SQLite this migration does nothing
(the search scans, which is fine at SQLite sizes)."""

from django.db import migrations

COLUMNS = ("last_name", "first_name", "email", "company")


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS lead_{column}_trgm_idx ON leads_lead "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS lead_{column}_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_imports_and_list_indexes")]

    operations = [migrations.RunPython(create, drop)]
