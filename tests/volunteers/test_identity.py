"""GB 11643 ID numbers: checked, normalized, masked, hashed (volunteers/identity.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import translation

from volunteers.identity import (
    check_character,
    hash_phone,
    id_number_hash,
    mask_id_number,
    parse_id_number,
)

# The standard's own example: a woman born 31 December 1949 in Beijing's Chaoyang district.
STANDARD = "11010519491231002X"
TODAY = dt.date(2026, 12, 3)


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


def test_the_standards_example_is_valid() -> None:
    parsed = parse_id_number(STANDARD, today=TODAY)
    assert parsed.number == STANDARD
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.gender == "female"
    assert parsed.masked == "110105********002X"
    assert parsed.age_on(TODAY) == 76


def test_gender_comes_from_the_seventeenth_digit() -> None:
    assert parse_id_number(with_check("35062719900101123"), today=TODAY).gender == "male"
    assert parse_id_number(with_check("35062719900101124"), today=TODAY).gender == "female"


@pytest.mark.parametrize(
    "typed",
    [
        "11010519491231002x",  # lower-case x
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width
        " 110105 19491231 002X ",  # spaces between the groups
        "110105-19491231-002X",
    ],
)
def test_typing_variants_are_normalized(typed: str) -> None:
    assert parse_id_number(typed, today=TODAY).number == STANDARD


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("110105194912310021", "check character"),  # bad checksum
        (with_check("11010519900230123"), "not a real date"),  # 30 February
        (with_check("11010519901301123"), "not a real date"),  # month 13
        (with_check("11010520991231123"), "future"),
        (with_check("11010518001231123"), "too long ago"),
        ("110105491231002", "15-digit"),  # first-generation number
        ("11010519491231002", "18-character"),  # 17 characters
        ("11010519491231002XX", "18-character"),
        ("1101051949123100ZX", "18-character"),
        ("", "18-character"),
        ("11010519491231\x00002X", "18-character"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(value: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_id_number(value, today=TODAY)
    assert caught.value.code == "invalid_id_number"
    with translation.override("en"):
        assert words in caught.value.messages[0]


def test_today_is_not_in_the_future() -> None:
    born_today = with_check(f"110105{TODAY:%Y%m%d}123")
    assert parse_id_number(born_today, today=TODAY).birth_date == TODAY


def test_masking_keeps_the_first_six_and_the_last_four() -> None:
    assert mask_id_number(STANDARD) == "110105********002X"
    assert mask_id_number("") == ""
    assert mask_id_number("12345") == "*****"


def test_hashes_are_keyed_and_kept_apart() -> None:
    assert id_number_hash(STANDARD) == id_number_hash(STANDARD)
    assert len(id_number_hash(STANDARD)) == 64
    assert STANDARD not in id_number_hash(STANDARD)
    # An ID number and a phone with the same digits never share a hash.
    assert hash_phone("13812345678") != id_number_hash("13812345678")
    default = id_number_hash(STANDARD)
    with override_settings(PERSONAL_DATA_HASH_KEY="another-key"):
        keyed = id_number_hash(STANDARD)
    with override_settings(PERSONAL_DATA_HASH_KEY="", SECRET_KEY="another-secret-key-" * 3):
        derived = id_number_hash(STANDARD)
    assert len({default, keyed, derived}) == 3
