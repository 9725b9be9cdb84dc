"""The all-time spend column goes, now that 0004 copied it into spend entries: a campaign's
spend is its entries' (campaigns/spend.py). Its own migration, so that PostgreSQL commits
the new entries (and their deferred foreign-key checks) before the table is altered."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0004_spend_entries"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="campaign",
            name="campaign_money_not_negative",
        ),
        migrations.RemoveField(
            model_name="campaign",
            name="spend",
        ),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.CheckConstraint(
                condition=models.Q(("budget__gte", 0)),
                name="campaign_budget_not_negative",
                violation_error_message="The budget cannot be negative.",
            ),
        ),
    ]
