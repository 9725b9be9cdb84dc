"""Merge of proof of contact (leads 0014-0015: the late grace, N unreached attempts, the
lead's first connect and attempts) with the SLA thresholds in minutes, contracts at handoff
and the court-time ledger (0014-0017). The branches touch different fields; nothing to do."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0015_lead_first_connect_attempts"),
        ("leads", "0017_merge_sla_minutes_court_time"),
    ]

    operations = []
