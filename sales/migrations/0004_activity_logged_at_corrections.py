"""Proof of contact: each activity's server time of logging, whether that was late, and
the activity a correction replaces. Existing activities were logged at their created_at
and are not late (there was no grace to judge them by)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def logged_at_from_created_at(apps, schema_editor):
    Activity = apps.get_model("sales", "Activity")
    Activity.objects.update(logged_at=models.F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0013_consent_per_touch"),
        ("sales", "0003_handoff_rejected_at_response_note"),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="logged_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddField(
            model_name="activity",
            name="logged_late",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name="activity",
            name="corrects",
            field=models.OneToOneField(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="correction",
                to="sales.activity",
            ),
        ),
        # Like the stage log: a lead with activities is not deleted with them.
        migrations.AlterField(
            model_name="activity",
            name="lead",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="activities",
                to="leads.lead",
            ),
        ),
        migrations.RunPython(logged_at_from_created_at, migrations.RunPython.noop),
    ]
