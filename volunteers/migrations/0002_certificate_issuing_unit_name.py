from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0001_volunteers"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificate",
            name="issuing_unit_name",
            field=models.CharField(default="", max_length=100, verbose_name="issuing unit"),
            preserve_default=False,
        ),
    ]
