"""The SLA as a contract at handoff time (issue 16, item 5): each lead keeps the response
and first-contact thresholds of its latest handoff (and the first handoff's first-contact
threshold, for the contact-in-SLA rate). Leads handed off before take the thresholds of
their campaign's policy (or the global one) as it stands, which are what their stored
deadlines were computed from."""

from django.db import migrations, models
from django.db.models import F

DEFAULTS = {"response_minutes": 24 * 60, "first_contact_minutes": 48 * 60}


def take_terms(apps, schema_editor):
    """One UPDATE per policy in force: the overrides' campaigns, then everyone else."""
    Lead = apps.get_model("leads", "Lead")
    SLAPolicy = apps.get_model("leads", "SLAPolicy")
    handed = Lead.objects.filter(last_handed_off_at__isnull=False)

    def update(leads, terms):
        leads.update(
            sla_terms_at=F("last_handed_off_at"),
            sla_response_minutes=terms["response_minutes"],
            sla_contact_minutes=terms["first_contact_minutes"],
            first_sla_contact_minutes=terms["first_contact_minutes"],
        )

    def terms_of(policy):
        if policy is None:
            return DEFAULTS
        return {name: getattr(policy, name) for name in DEFAULTS}

    overrides = list(SLAPolicy.objects.filter(campaign__isnull=False))
    for policy in overrides:
        update(handed.filter(campaign_id=policy.campaign_id), terms_of(policy))
    rest = handed.exclude(campaign_id__in=[p.campaign_id for p in overrides])
    update(rest, terms_of(SLAPolicy.objects.filter(is_global=True).first()))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0015_lead_triage_deadline"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="sla_terms_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="sla_response_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="sla_contact_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="first_sla_contact_minutes",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(take_terms, migrations.RunPython.noop, elidable=True),
    ]
