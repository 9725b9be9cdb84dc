"""Spend entries (SPEC §2), and the campaign's one all-time spend copied into one entry over
the campaign's dates (start to end, or to the day of the migration when it has none; none
when the spend is 0). 0005 drops the old column."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def spend_to_entries(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    SpendEntry = apps.get_model("campaigns", "SpendEntry")
    today = timezone.localdate()
    entries = [
        SpendEntry(
            campaign_id=campaign.pk,
            start=campaign.start_date,
            end=max(campaign.start_date, campaign.end_date or today),
            amount=campaign.spend,
            note="Spend recorded before spend entries",
        )
        for campaign in Campaign.objects.filter(spend__gt=0).only(
            "pk", "start_date", "end_date", "spend"
        )
    ]
    SpendEntry.objects.bulk_create(entries, batch_size=1000)


def entries_to_spend(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    SpendEntry = apps.get_model("campaigns", "SpendEntry")
    totals = SpendEntry.objects.values("campaign").annotate(total=models.Sum("amount")).order_by()
    for row in totals:
        Campaign.objects.filter(pk=row["campaign"]).update(spend=row["total"])
    SpendEntry.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_merge_auto_response_and_routing"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SpendEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("start", models.DateField(verbose_name="from")),
                ("end", models.DateField(verbose_name="to")),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=12, verbose_name="amount"),
                ),
                ("note", models.CharField(blank=True, max_length=200, verbose_name="note")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "spend entry",
                "verbose_name_plural": "spend entries",
                "ordering": ["-start", "-id"],
            },
        ),
        migrations.AddField(
            model_name="spendentry",
            name="campaign",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="spend_entries",
                to="campaigns.campaign",
                verbose_name="campaign",
            ),
        ),
        migrations.AddField(
            model_name="spendentry",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="spendentry",
            index=models.Index(
                fields=["campaign", "start", "end"], name="spend_campaign_dates_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="spendentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("end__gte", models.F("start"))),
                name="spend_entry_end_after_start",
                violation_error_message="The end date cannot be before the start date.",
            ),
        ),
        migrations.AddConstraint(
            model_name="spendentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gte", 0)),
                name="spend_entry_amount_not_negative",
                violation_error_message="Amounts cannot be negative.",
            ),
        ),
        migrations.RunPython(spend_to_entries, entries_to_spend),
    ]
