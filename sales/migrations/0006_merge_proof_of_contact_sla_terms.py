"""Merge of proof of contact (sales 0004-0005: activities' logged_at, logged late and
corrections, append-only on PostgreSQL) with the handoffs' SLA terms (0004_handoff_sla_terms).
They touch different tables; nothing to do."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0004_handoff_sla_terms"),
        ("sales", "0005_activity_append_only_trigger"),
    ]

    operations = []
