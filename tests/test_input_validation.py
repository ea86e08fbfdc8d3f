"""One text rule for every text a person types: pages, API and spreadsheet import alike.

Control characters are refused everywhere (they made the Excel export of a unit and all its
ancestors fail), invisible characters in names and codes, and text is stored normalized:
NFC, and full-width digits of codes as ASCII. Ids given in bodies and filters are whole
numbers in range (``portal.validators.parse_id``).
"""

import importlib
import unicodedata
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.errors import ValidationFailed
from portal.fields import PlainTextFormField
from portal.validators import (
    CODE,
    ID_MAX,
    MULTILINE,
    NAME,
    TEXT,
    TextValidator,
    normalize_mobile,
    parse_id,
    validate_division_code,
    validate_landline_or_mobile,
    validate_mobile,
)
from practice import services, tree
from practice.choices import UnitKind
from practice.models import Category, Unit, User
from tests.conftest import World

CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"]
# Zero-width, joiners, word joiner, BOM, soft hyphen, Mongolian vowel separator, tags…
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\U000e0041"]
# Direction marks, embeddings and overrides, isolates, the Arabic letter mark.
BIDI = [
    "\u200e",
    "\u200f",
    "\u061c",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]
BLANK_LETTERS = ["\u3164", "\u115f"]
DECOMPOSED = "Cafe\u0301 五里亭"  # "é" as e + combining acute
COMPOSED = unicodedata.normalize("NFC", DECOMPOSED)


def codes(exc: ValidationError) -> set[str]:
    return {e.code for e in exc.error_list if e.code}


# --- the validator and the normalizer -----------------------------------------------------


@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize("rules", [TEXT, MULTILINE, NAME, CODE])
def test_control_characters_are_refused_everywhere(rules: Any, char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        rules.clean(f"新{char}村")
    assert codes(caught.value) == {"control_character"}
    assert f"U+{ord(char):04X}" in caught.value.messages[0]


@pytest.mark.parametrize("char", INVISIBLE + BIDI + BLANK_LETTERS)
@pytest.mark.parametrize("rules", [NAME, CODE])
def test_names_and_codes_refuse_invisible_characters(rules: Any, char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        rules.clean(f"一{char}村站")
    assert codes(caught.value) == {"invisible_character"}
    seen = unicodedata.normalize(rules.normalization, char)  # NFKC: U+3164 → U+1160
    assert caught.value.error_list[0].params == {"char": f"U+{ord(seen):04X}", "position": 2}


@pytest.mark.parametrize("char", ["\u200d", "\u200e"])
def test_free_text_keeps_joiners_and_marks(char: str) -> None:
    # An address or a description may hold an emoji sequence or mixed-direction text.
    assert TEXT.clean(f"一村{char}站") == f"一村{char}站"


@pytest.mark.parametrize("text", ["一村\n站", "一村\t站", "一村\r站", "一村\u2028站"])
def test_one_line_fields_refuse_line_breaks_and_tabs(text: str) -> None:
    for rules in (TEXT, NAME, CODE):
        with pytest.raises(ValidationError) as caught:
            rules.clean(text)
        assert codes(caught.value) == {"line_break"}


def test_multiline_text_keeps_tabs_and_line_breaks_as_newlines() -> None:
    assert MULTILINE.clean(" 第一行\r\n\t第二行\r第三行\u2029第四行 ") == (
        "第一行\n\t第二行\n第三行\n第四行"
    )


@pytest.mark.parametrize("char", [chr(0xD800), chr(0xDFFF), "\ufffe", "\uffff", "\ufdd0"])
def test_surrogates_and_noncharacters_are_refused(char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TEXT.clean(f"a{char}b")
    assert codes(caught.value) == {"invalid_character"}


@pytest.mark.parametrize(
    "name",
    [
        "欧阳·娜娜",  # middle dot in a transliterated or minority name
        "阿依古丽·买买提",
        "𠮷野家",  # CJK Extension B
        "\U00031350村",  # CJK Extension H (Unicode 15): newer than Python's tables
        "\ue000记",  # private use: legacy encodings of rare characters
        "葛\U000e0100",  # an ideographic variation selector
        "Renée Müller",
        "Олег",
        "محمد",
        "　全角空格　内",  # ideographic spaces (stripped at the ends)
    ],
)
def test_names_of_any_script_are_accepted(name: str) -> None:
    assert NAME.clean(name) == unicodedata.normalize("NFC", name).strip()


def test_text_is_stored_nfc_and_codes_nfkc() -> None:
    assert TEXT.clean(DECOMPOSED) == COMPOSED
    assert NAME.clean(f"  {DECOMPOSED}\u3000") == COMPOSED
    assert CODE.clean("３５０６２７１０３") == "350627103"
    assert CODE.clean("（０５９６）－７８３１２３４") == "(0596)-7831234"


def test_the_validator_is_a_deconstructible_value() -> None:
    # Migrations compare validators by value.
    assert TextValidator(strict=True) == TextValidator(strict=True) != TextValidator()
    path, _args, kwargs = TextValidator(multiline=True).deconstruct()
    assert path == "portal.validators.TextValidator"
    assert kwargs == {"multiline": True}


# --- codes and phones: ASCII digits only ---------------------------------------------------


@pytest.mark.parametrize("code", ["٣٥٠٦٢٧", "३५०६२७", "𝟑𝟓𝟎𝟔𝟐𝟕x", "35062７x"])
def test_division_codes_in_other_digits_are_refused(code: str) -> None:
    # ``\d`` in a str pattern matched them all: "٣٥٠٦٢٧" (Arabic-Indic) was accepted.
    with pytest.raises(ValidationError):
        validate_division_code(code)


def test_full_width_codes_and_phones_are_accepted_as_ascii() -> None:
    validate_division_code("３５０６２７")
    validate_landline_or_mobile("０５９６－７８３１２３４")
    validate_mobile("１３８　１２３４　５６７８")
    assert normalize_mobile("＋８６ １３８-１２３４-５６７８") == "13812345678"
    with pytest.raises(ValidationError):
        validate_landline_or_mobile("0596\n7831234")
    with pytest.raises(ValidationError):
        validate_mobile("١٣٨١٢٣٤٥٦٧٨")


# --- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("42", 42), (" 7 ", 7), ("007", 7), (3.0, 3), (ID_MAX, ID_MAX), (str(ID_MAX), ID_MAX)],
)
def test_parse_id_accepts_whole_numbers_in_range(value: Any, expected: int) -> None:
    assert parse_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        "1.5",
        "1.0",
        "1e3",
        1e30,
        ID_MAX + 1,
        "99999999999999999999",
        "9" * 5000,
        0,
        -1,
        "-1",
        "+1",
        True,
        "",
        None,
        "１２",
        "²",
        [1],
        float("inf"),
        float("nan"),
    ],
)
def test_parse_id_refuses_everything_else(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_id(value)
    assert codes(caught.value) == {"invalid_id"}


# --- the models: every text field, whichever way it is written -----------------------------


TEXT_FIELDS = {
    Unit: ["name", "division_code", "address", "contact_name", "contact_phone", "opening_hours"],
    User: ["name"],
    Category: ["name", "name_en"],
}


@pytest.mark.parametrize(
    ("model", "field"),
    [(model, field) for model, fields in TEXT_FIELDS.items() for field in fields],
)
def test_every_text_field_refuses_control_characters(model: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        model._meta.get_field(field).clean("12\x0734", None)
    assert "control_character" in codes(caught.value)


@pytest.mark.django_db
def test_text_is_normalized_whatever_writes_it(world: World) -> None:
    # bulk_create and save() without full_clean() — the import and the factories — too.
    world.station.name = f" {DECOMPOSED} "
    world.station.division_code = "３５０６２７１０３００１"
    world.station.save()
    world.station.refresh_from_db()
    assert (world.station.name, world.station.division_code) == (COMPOSED, "350627103001")
    [created] = Unit.objects.bulk_create(
        [Unit(name=DECOMPOSED, kind=UnitKind.CENTRE, tree_id=999, lft=1, rght=2, level=0)]
    )
    assert Unit.objects.get(pk=created.pk).name == COMPOSED


# --- the API ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["一村\x07站", "一村\u200b站", "\u202e站村一", "一村\n站", "\u3164"]
)
def test_api_refuses_bad_unit_names_and_changes_nothing(world: World, api: Any, name: str) -> None:
    response = api(world.coordinator).patch(
        f"/api/v1/units/{world.station.pk}/", {"name": name}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and list(body["detail"]) == ["name"]
    world.station.refresh_from_db()
    assert world.station.name == "一村站"


@pytest.mark.django_db
def test_api_stores_normalized_text_and_audits_it(world: World, api: Any) -> None:
    response = api(world.coordinator).post(
        "/api/v1/units/",
        {
            "name": DECOMPOSED,
            "kind": "station",
            "parent": world.town.pk,
            "division_code": "３５０６２７１０３００２",
            "contact_phone": "０５９６－７８３１２３４",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["division_code"], body["contact_phone"]) == (
        COMPOSED,
        "350627103002",
        "0596-7831234",
    )
    unit = Unit.objects.get(pk=body["id"])
    assert unit.division_code == "350627103002"
    # Sending the same code in full-width again is no change at all.
    response = api(world.coordinator).patch(
        f"/api/v1/units/{unit.pk}/", {"division_code": "３５０６２７１０３００２"}, format="json"
    )
    assert response.status_code == 200
    assert not unit.audit_entries.filter(action="unit.changed").exists()


@pytest.mark.django_db
def test_api_refuses_invisible_characters_in_account_names(world: World, api: Any) -> None:
    response = api(world.coordinator).post(
        "/api/v1/users/",
        {"username": "zhangsan", "name": "张\u200b三", "password": "Hard-to-guess-42"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()["detail"]) == ["name"]
    assert not User.objects.filter(username="zhangsan").exists()


# --- the pages ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_edit_page_shows_the_text_rule_on_the_field(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    response = client.post(
        reverse("unit-edit", args=[world.station.pk]),
        {"name": "一村\x07站", "kind": "station", "address": "一村\u202e号"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["name"]  # the address is free text: a direction mark may stay
    assert "U+0007" in errors["name"][0]
    world.station.refresh_from_db()
    assert world.station.name == "一村站"
    response = client.post(
        reverse("unit-edit", args=[world.station.pk]),
        {"name": f"{DECOMPOSED}", "kind": "station", "division_code": "３５０６２７"},
    )
    assert response.status_code == 302
    world.station.refresh_from_db()
    assert (world.station.name, world.station.division_code) == (COMPOSED, "350627")


@pytest.mark.django_db
def test_staff_account_page_refuses_invisible_characters(world: World, browser_client: Any) -> None:
    response = browser_client(world.coordinator).post(
        reverse("user-create"),
        {"username": "zhangsan", "name": "张\u200b三", "password": "Hard-to-guess-42"},
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["name"]
    assert not User.objects.filter(username="zhangsan").exists()


def test_plain_forms_use_the_same_form_field() -> None:
    field = PlainTextFormField(max_length=30, rules=NAME)
    assert field.clean(f" {DECOMPOSED} ") == COMPOSED
    with pytest.raises(ValidationError):
        field.clean("张\u200b三")


# --- the spreadsheet import ---------------------------------------------------------------


def _row(number: int, **fields: Any) -> tree.UnitRow:
    return tree.UnitRow(row=number, parent="", fields={"kind": UnitKind.STATION, **fields})


@pytest.mark.django_db
def test_import_refuses_bad_text_naming_the_row(world: World) -> None:
    rows = [
        _row(2, name="七村站"),
        _row(3, name="四村\x7f站"),
        _row(4, name="五村站", contact_name="王\u200d五"),
        _row(5, name="六村站", address="一村\n8号"),
    ]
    with pytest.raises(ValidationFailed) as caught:
        services.unit_import_rows(actor=world.coordinator, parent=world.town, rows=rows)
    problems = " ".join(caught.value.detail["non_field_errors"])
    assert "U+007F" in problems and "U+200D" in problems
    assert all(str(row) in problems for row in (3, 4, 5))
    assert not Unit.objects.filter(name__in=["七村站", "五村站", "六村站"]).exists()


@pytest.mark.django_db
def test_import_stores_normalized_text(world: World) -> None:
    rows = [_row(2, name=f" {DECOMPOSED} ", division_code="３５０６２７１０３００３")]
    services.unit_import_rows(actor=world.coordinator, parent=world.town, rows=rows)
    unit = Unit.objects.get(parent=world.town, name=COMPOSED)
    assert unit.division_code == "350627103003"


# --- text stored before the rule ------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_cleans_stored_text(world: World) -> None:
    migration = importlib.import_module("practice.migrations.0003_text_validators")
    # Written around the fields (queryset.update), as rows stored before the rule were.
    Unit.objects.filter(pk=world.station.pk).update(
        name="一村\x07站", division_code="３５０６２７", address="一村\n8号\u200b"
    )
    Unit.objects.filter(pk=world.station2.pk).update(name="一村站\u200b")  # would clash
    User.objects.filter(pk=world.coordinator.pk).update(name=f"\u202e{DECOMPOSED}")
    migration.clean_stored_text(django_apps, None)
    world.refresh()
    assert (world.station.name, world.station.division_code, world.station.address) == (
        "一村站",
        "350627",
        "一村 8号\u200b",  # free text keeps a zero-width space; names and codes do not
    )
    assert world.station2.name == "一村站\u200b"  # kept: a fix would clash with a sibling
    assert world.coordinator.name == COMPOSED
