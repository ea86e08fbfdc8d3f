"""Every text field of the practice models follows the portal's text rule (``portal.fields``).

The columns do not change. Text stored before the rule is brought in line with it, so that
no export fails on it and no name hides an invisible character: Unicode NFC (codes and phone
numbers NFKC: full-width digits become ASCII), line breaks and tabs in one-line fields
become spaces, and control characters, lone surrogates, noncharacters and — in names and
codes — invisible formatting characters are dropped. A value left empty by that, or a unit
name that would then clash with a sibling's, is kept as it was: editing it asks for a fix.
"""

import unicodedata

from django.db import IntegrityError, migrations, transaction

import portal.fields
import portal.validators

# (model, field, strict, normalization); what the fields below declare.
TEXT_FIELDS = [
    ("Unit", "name", True, "NFC"),
    ("Unit", "division_code", True, "NFKC"),
    ("Unit", "address", False, "NFC"),
    ("Unit", "contact_name", True, "NFC"),
    ("Unit", "contact_phone", True, "NFKC"),
    ("Unit", "opening_hours", False, "NFC"),
    ("User", "name", True, "NFC"),
    ("Category", "name", True, "NFC"),
    ("Category", "name_en", True, "NFC"),
]
BLANK_LETTERS = "\u115f\u1160\u3164\uffa0"
LINE_BREAKS = "\t\n\r\u2028\u2029"


def _kept(char, strict):
    code = ord(char)
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return False
    if strict and char in BLANK_LETTERS:
        return False
    category = unicodedata.category(char)
    return not (category in ("Cc", "Cs") or (strict and category == "Cf"))


def clean(value, strict, normalization):
    text = unicodedata.normalize(normalization, value)
    text = "".join(" " if c in LINE_BREAKS else c for c in text)
    return "".join(c for c in text if _kept(c, strict)).strip()


def clean_stored_text(apps, schema_editor):
    for model_name, field, strict, normalization in TEXT_FIELDS:
        model = apps.get_model("practice", model_name)
        rows = model.objects.exclude(**{field: ""}).order_by("pk").values_list("pk", field)
        for pk, value in rows.iterator():
            cleaned = clean(value, strict, normalization)
            if cleaned == value or not cleaned:
                continue
            try:
                with transaction.atomic():
                    model.objects.filter(pk=pk).update(**{field: cleaned})
            except IntegrityError:
                pass  # the cleaned name is taken among the unit's siblings


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0002_categories"),
    ]

    operations = [
        migrations.AlterField(
            model_name="category",
            name="name",
            field=portal.fields.PlainCharField(max_length=50, strict=True, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="category",
            name="name_en",
            field=portal.fields.PlainCharField(
                blank=True, max_length=80, strict=True, verbose_name="English name"
            ),
        ),
        migrations.AlterField(
            model_name="unit",
            name="address",
            field=portal.fields.PlainCharField(blank=True, max_length=200, verbose_name="address"),
        ),
        migrations.AlterField(
            model_name="unit",
            name="contact_name",
            field=portal.fields.PlainCharField(
                blank=True, max_length=30, strict=True, verbose_name="contact person"
            ),
        ),
        migrations.AlterField(
            model_name="unit",
            name="contact_phone",
            field=portal.fields.PlainCharField(
                blank=True,
                max_length=20,
                normalization="NFKC",
                strict=True,
                validators=[portal.validators.validate_landline_or_mobile],
                verbose_name="contact phone",
            ),
        ),
        migrations.AlterField(
            model_name="unit",
            name="division_code",
            field=portal.fields.PlainCharField(
                blank=True,
                help_text="Administrative division code (行政区划代码): 6, 9 or 12 digits.",
                max_length=12,
                normalization="NFKC",
                strict=True,
                validators=[portal.validators.validate_division_code],
                verbose_name="division code",
            ),
        ),
        migrations.AlterField(
            model_name="unit",
            name="name",
            field=portal.fields.PlainCharField(max_length=100, strict=True, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="unit",
            name="opening_hours",
            field=portal.fields.PlainCharField(
                blank=True, max_length=100, verbose_name="opening hours"
            ),
        ),
        migrations.AlterField(
            model_name="user",
            name="name",
            field=portal.fields.PlainCharField(
                blank=True, max_length=30, strict=True, verbose_name="full name"
            ),
        ),
        migrations.RunPython(clean_stored_text, migrations.RunPython.noop, elidable=True),
    ]
