"""The lead list's search by phone number (issue 20): a trigram index on the digits of the
phone (leads.models.PhoneDigits), so "31667339" finds "+31 6 31667339".

An index on the expression rather than a stored column of digits: building it reads the
table once, where filling a new column rewrote every row and its 30 index entries
(250 µs a row, minutes at a million leads), and the digits cannot fall out of step with
the phone. PostgreSQL only, like leads 0004's trigram indexes: SQLite scans."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS lead_phone_digits_trgm_idx ON leads_lead "
        "USING gin ((regexp_replace(phone, '[^0-9]', '', 'g')) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_phone_digits_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0024_merge_auto_response")]

    operations = [migrations.RunPython(create, drop)]
