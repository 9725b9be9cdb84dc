"""The new_untriaged flag (issue 16): the lead's stored triage deadline with the sweep's
partial index, the flag kind, and a deadline recompute for the leads already at `new`
(the watchdog starts it: it has no heartbeat), which computes their deadlines with the
policy and business hours in force."""

from django.db import migrations, models
from django.utils import timezone


def request_recompute(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    if not Lead.objects.filter(stage="new").exists():
        return
    DeadlineRecompute = apps.get_model("leads", "DeadlineRecompute")
    DeadlineRecompute.objects.create(
        reason="Triage deadlines of leads at new (new_untriaged flag added)",
        requested_at=timezone.now(),
        heartbeat_at=None,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0014_sla_thresholds_in_minutes"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="triage_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("triage_due_at__isnull", False)),
                fields=["triage_due_at"],
                name="lead_triage_due_at_idx",
            ),
        ),
        migrations.AlterField(
            model_name="flag",
            name="kind",
            field=models.CharField(
                choices=[
                    ("new_untriaged", "New lead not triaged"),
                    ("mql_waiting", "MQL waiting for handoff"),
                    ("rejection_unactioned", "Rejection not actioned"),
                    ("response_overdue", "Response overdue"),
                    ("first_contact_overdue", "First contact overdue"),
                    ("follow_up_overdue", "Follow-up overdue"),
                    ("stalled", "Stalled"),
                    ("unconverted", "Unconverted"),
                ],
                max_length=30,
            ),
        ),
        migrations.RunPython(request_recompute, migrations.RunPython.noop, elidable=True),
    ]
