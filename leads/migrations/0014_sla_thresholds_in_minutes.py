"""SLA thresholds in minutes (issue 16): every *_hours / *_days threshold becomes a
*_minutes one holding the same duration (hours × 60, days × 1440), so existing policies
keep their meaning; the dashboard statistics' remembered first-contact SLA too. And the
per-inquiry-type triage thresholds of the new_untriaged flag, at their defaults."""

from django.db import migrations, models
from django.db.models import F

HOUR, DAY = 60, 24 * 60
# old name, new name, minutes per old unit
RENAMES = (
    ("mql_waiting_hours", "mql_waiting_minutes", HOUR),
    ("rejection_unactioned_hours", "rejection_unactioned_minutes", HOUR),
    ("response_hours", "response_minutes", HOUR),
    ("first_contact_hours", "first_contact_minutes", HOUR),
    ("follow_up_grace_hours", "follow_up_grace_minutes", HOUR),
    ("stalled_days", "stalled_minutes", DAY),
    ("unconverted_days", "unconverted_minutes", DAY),
)


def to_minutes(apps, schema_editor):
    """One set-based UPDATE per table: the renamed columns still hold hours or days."""
    SLAPolicy = apps.get_model("leads", "SLAPolicy")
    SLAPolicy.objects.update(**{new: F(new) * factor for _old, new, factor in RENAMES})
    StatsState = apps.get_model("leads", "StatsState")
    StatsState.objects.filter(sla_minutes__isnull=False).update(
        sla_minutes=F("sla_minutes") * HOUR
    )


def to_hours_and_days(apps, schema_editor):
    """Back to whole hours and days, rounded up (a threshold never gets shorter)."""
    SLAPolicy = apps.get_model("leads", "SLAPolicy")
    SLAPolicy.objects.update(
        **{new: (F(new) + (factor - 1)) / factor for _old, new, factor in RENAMES}
    )
    StatsState = apps.get_model("leads", "StatsState")
    StatsState.objects.filter(sla_minutes__isnull=False).update(
        sla_minutes=(F("sla_minutes") + (HOUR - 1)) / HOUR
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0013_consent_per_touch"),
    ]

    operations = [
        *(
            migrations.RenameField(model_name="slapolicy", old_name=old, new_name=new)
            for old, new, _factor in RENAMES
        ),
        migrations.RenameField(
            model_name="statsstate", old_name="sla_hours", new_name="sla_minutes"
        ),
        migrations.RunPython(to_minutes, to_hours_and_days, elidable=False),
        # The new defaults and labels live in Python only (no schema change on PostgreSQL).
        # State only, so SQLite does not rebuild leads_slapolicy from this migration's
        # model state: unapplied after a branch that added columns to the table (proof of
        # contact, leads 0014_slapolicy_late_grace_unreached_attempts), the rebuild would
        # drop those columns.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="slapolicy",
                    name=name,
                    field=models.PositiveIntegerField(default=default, verbose_name=label),
                )
                for name, default, label in (
                    ("mql_waiting_minutes", 24 * HOUR, "MQL waiting for handoff"),
                    ("rejection_unactioned_minutes", 72 * HOUR, "rejection not actioned"),
                    ("response_minutes", 24 * HOUR, "sales response"),
                    ("first_contact_minutes", 48 * HOUR, "first contact"),
                    ("follow_up_grace_minutes", 24 * HOUR, "follow-up overdue after"),
                    ("stalled_minutes", 14 * DAY, "stalled after (without activity)"),
                    ("unconverted_minutes", 60 * DAY, "unconverted after (since first handoff)"),
                )
            ]
        ),
        *(
            migrations.AddField(
                model_name="slapolicy",
                name=name,
                field=models.PositiveIntegerField(default=default, verbose_name=label),
            )
            for name, default, label in (
                ("triage_phone_call_minutes", 60, "triage of a phone call"),
                ("triage_information_request_minutes", 60, "triage of an information request"),
                ("triage_web_form_minutes", 60, "triage of a web form"),
                ("triage_email_minutes", 60, "triage of an email"),
                ("triage_event_minutes", 3 * DAY, "triage of an event lead"),
                ("triage_other_minutes", 3 * DAY, "triage of another inquiry"),
            )
        ),
    ]
