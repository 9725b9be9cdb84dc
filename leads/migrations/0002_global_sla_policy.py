from django.db import migrations


def create_global_policy(apps, schema_editor):
    SLAPolicy = apps.get_model("leads", "SLAPolicy")
    if not SLAPolicy.objects.filter(is_global=True).exists():
        SLAPolicy.objects.create(is_global=True)


class Migration(migrations.Migration):
    dependencies = [("leads", "0001_initial")]

    operations = [migrations.RunPython(create_global_policy, migrations.RunPython.noop)]
