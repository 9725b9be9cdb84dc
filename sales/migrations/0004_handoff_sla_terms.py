"""Each handoff keeps the response and first-contact thresholds in force when it was made
(issue 16, item 5). Handoffs made before take those of their lead's campaign policy (or the
global one) as it stands, the same the lead's contract takes (leads 0016)."""

from django.db import migrations, models

DEFAULTS = {"response_minutes": 24 * 60, "first_contact_minutes": 48 * 60}


def take_terms(apps, schema_editor):
    """One UPDATE per policy in force: the overrides' campaigns, then everyone else."""
    Handoff = apps.get_model("sales", "Handoff")
    SLAPolicy = apps.get_model("leads", "SLAPolicy")

    def terms_of(policy):
        if policy is None:
            return DEFAULTS
        return {name: getattr(policy, name) for name in DEFAULTS}

    overrides = list(SLAPolicy.objects.filter(campaign__isnull=False))
    for policy in overrides:
        Handoff.objects.filter(lead__campaign_id=policy.campaign_id).update(**terms_of(policy))
    Handoff.objects.exclude(lead__campaign_id__in=[p.campaign_id for p in overrides]).update(
        **terms_of(SLAPolicy.objects.filter(is_global=True).first())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("sales", "0003_handoff_rejected_at_response_note"),
        ("leads", "0014_sla_thresholds_in_minutes"),
    ]

    operations = [
        migrations.AddField(
            model_name="handoff",
            name="response_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="handoff",
            name="first_contact_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(take_terms, migrations.RunPython.noop, elidable=True),
    ]
