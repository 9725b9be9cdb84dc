"""The lead list's search by phone number (issue 20): Lead.phone_digits, the digits of
the phone, filled for the existing leads in one UPDATE, then its trigram index.

The index is built after the backfill (not maintained row by row during it). PostgreSQL
only, like leads 0004's trigram indexes: SQLite scans."""

from django.db import migrations

import leads.models.lead


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # One statement over the table; a lead without a phone keeps the default "".
        schema_editor.execute(
            "UPDATE leads_lead SET phone_digits = LEFT(regexp_replace(phone, '[^0-9]', '', 'g'), 40) "
            "WHERE phone <> ''"
        )
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS lead_phone_digits_trgm_idx ON leads_lead "
            "USING gin (phone_digits gin_trgm_ops)"
        )
        return
    Lead = apps.get_model("leads", "Lead")
    digits = leads.models.lead.phone_digits
    batch = []
    for pk, phone in Lead.objects.exclude(phone="").values_list("pk", "phone").iterator():
        batch.append(Lead(pk=pk, phone_digits=digits(phone)[:40]))
        if len(batch) == 2000:
            Lead.objects.bulk_update(batch, ["phone_digits"])
            batch.clear()
    Lead.objects.bulk_update(batch, ["phone_digits"])


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS lead_phone_digits_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("leads", "0024_merge_auto_response")]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="phone_digits",
            field=leads.models.lead.DigitsField(default="", editable=False, source="phone"),
        ),
        migrations.RunPython(backfill, drop_index),
    ]
