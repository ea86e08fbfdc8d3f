"""The seven platforms (service categories) of the 2022 report exist from the start."""

from django.db import migrations

PLATFORMS = [
    ("theory", "理论宣讲", "Theory lectures"),
    ("publicity", "社会宣传", "Public information"),
    ("education", "教育服务", "Education"),
    ("culture", "文化服务", "Culture"),
    ("science", "科技与科普", "Science popularisation"),
    ("sports", "体育健身", "Sports and fitness"),
    ("civility", "乡风文明", "Rural civility"),
]


def create(apps, schema_editor):
    Category = apps.get_model("practice", "Category")
    for order, (code, name, name_en) in enumerate(PLATFORMS, start=1):
        Category.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "sort_order": order}
        )


def remove(apps, schema_editor):
    apps.get_model("practice", "Category").objects.filter(
        code__in=[code for code, _, _ in PLATFORMS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("practice", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
