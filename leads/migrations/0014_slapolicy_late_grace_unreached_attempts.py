import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("leads", "0013_consent_per_touch")]

    operations = [
        migrations.AddField(
            model_name="slapolicy",
            name="late_grace_minutes",
            field=models.PositiveIntegerField(
                default=1440, verbose_name="activity logged late after (minutes)"
            ),
        ),
        migrations.AddField(
            model_name="slapolicy",
            name="unreached_attempts",
            field=models.PositiveIntegerField(
                default=6,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="unreachable after (attempts without a connect)",
            ),
        ),
    ]
