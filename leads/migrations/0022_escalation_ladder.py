"""The escalation ladder (issue 18): the policy's two delays, the lead's two stored
deadlines with the sweep's partial indexes, the two flag kinds, and a deadline recompute
for the leads waiting for a response (the watchdog starts it), which arms their ladder
with the policy in force."""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def request_recompute(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    if not Lead.objects.filter(stage="handed_off").exists():
        return
    apps.get_model("leads", "DeadlineRecompute").objects.create(
        reason="Escalation deadlines of leads waiting for a response (ladder added)",
        requested_at=timezone.now(),
        heartbeat_at=None,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("leads", "0021_import_real_exports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="escalation_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="reassign_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="slapolicy",
            name="auto_reassign_minutes",
            field=models.PositiveIntegerField(
                default=0,
                verbose_name="reassign by the rules after (beyond the escalation; 0 = never)",
            ),
        ),
        migrations.AddField(
            model_name="slapolicy",
            name="escalation_minutes",
            field=models.PositiveIntegerField(
                default=240,
                verbose_name="escalate to the team lead and managers after (beyond the response threshold)",
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
                    ("response_escalated", "Response overdue: escalated"),
                    ("response_reassigned", "Response overdue: reassigned by the rules"),
                ],
                max_length=30,
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("escalation_due_at__isnull", False)),
                fields=["escalation_due_at"],
                name="lead_escalation_due_at_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("reassign_due_at__isnull", False)),
                fields=["reassign_due_at"],
                name="lead_reassign_due_at_idx",
            ),
        ),
        migrations.RunPython(request_recompute, migrations.RunPython.noop),
    ]
