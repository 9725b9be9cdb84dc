"""The lead's first connect and its attempts before it (SPEC §3), backfilled from the
activities logged so far (none of them late or corrected, so each counts at occurred_at);
the dashboard statistics record the "unreachable after N attempts" they were built with,
and rebuild when it changes (a NULL here: at the next refresh)."""

from django.db import migrations, models
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

CONTACT_KINDS = ("call", "email", "meeting")
CONNECT_OUTCOMES = ("connected", "replied", "meeting_held", "objection")


def backfill(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    Activity = apps.get_model("sales", "Activity")
    contacts = Activity.objects.filter(lead=OuterRef("pk"), kind__in=CONTACT_KINDS).order_by()
    contacted = Lead.objects.filter(first_contact_at__isnull=False)

    def first(qs):
        return Subquery(qs.values("lead").annotate(at=Min("occurred_at")).values("at")[:1])

    def number(qs):
        return Coalesce(Subquery(qs.values("lead").annotate(n=Count("id")).values("n")[:1]), 0)

    contacted.update(first_connect_at=first(contacts.filter(outcome__in=CONNECT_OUTCOMES)))
    contacted.filter(first_connect_at__isnull=True).update(
        attempts_before_connect=number(contacts)
    )
    contacted.filter(first_connect_at__isnull=False).update(
        attempts_before_connect=number(
            contacts.filter(Q(occurred_at__lt=OuterRef("first_connect_at")))
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0014_slapolicy_late_grace_unreached_attempts"),
        ("sales", "0004_activity_logged_at_corrections"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="first_connect_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="lead",
            name="attempts_before_connect",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="statsstate",
            name="unreached_attempts",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
