"""Validators and normalizers for Chinese administrative data, text and ids.

Text: every text a person types (forms, the API, spreadsheets) goes through one rule,
:class:`TextRules`, usually through the model field that stores it (``portal.fields``):

- normalized: Unicode NFC (codes: NFKC, so full-width digits ``３５０６２７`` and punctuation
  become ASCII), surrounding whitespace stripped, line breaks as ``\\n`` in multi-line text;
- refused, with a message naming the character: control characters (C0, DEL, C1; tab and
  line breaks only where the text may have several lines), lone surrogates and Unicode
  noncharacters (no spreadsheet or XML export can carry them), and — in names and codes —
  invisible characters: zero-width spaces and joiners, direction marks and embeddings, the
  byte-order mark, Hangul fillers.

Ids: :func:`parse_id` is the one check of an id taken from a path, a query string or a
body (a whole number from 1 to :data:`ID_MAX`, the largest database id).
"""

import re
import unicodedata
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

__all__ = [
    "CODE",
    "ID_MAX",
    "MULTILINE",
    "NAME",
    "TEXT",
    "TextRules",
    "TextValidator",
    "mask_phone",
    "normalize_mobile",
    "normalize_text",
    "parse_id",
    "validate_division_code",
    "validate_landline_or_mobile",
    "validate_mobile",
]

# Patterns are ASCII-only: in ``str`` patterns ``\d`` and ``\s`` also match full-width
# and other scripts' digits and spaces.
_MOBILE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-()]")
_DIVISION_CODE = re.compile(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", re.ASCII)
_PHONE_LIKE = re.compile(r"[0-9+\- ()]{7,20}", re.ASCII)


def _fold(value: str) -> str:
    """Compatibility forms → plain ones: ``０５９６－７８３１２３４`` → ``0596-7831234``."""
    return unicodedata.normalize("NFKC", value)


def normalize_mobile(value: str) -> str:
    """Strip spaces, dashes and a +86/86 prefix; return the 11 digits (unvalidated)."""
    digits = _SEPARATORS.sub("", _fold(value or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def validate_mobile(value: str) -> None:
    if not _MOBILE.fullmatch(normalize_mobile(value)):
        raise ValidationError(
            _("Enter a mainland mobile number: 11 digits starting with 13–19."),
            code="invalid_phone",
        )


# The two validators below accept what the field's normalization (NFKC, see CODE) turns
# into a valid value, so a serializer running them on the raw input agrees with the model.


def validate_landline_or_mobile(value: str) -> None:
    if value and not _PHONE_LIKE.fullmatch(_fold(value).strip()):
        raise ValidationError(
            _("Enter a telephone number, e.g. 0596-7831234 or 13812345678."),
            code="invalid_phone",
        )


def validate_division_code(value: str) -> None:
    if value and not _DIVISION_CODE.fullmatch(_fold(value).strip()):
        raise ValidationError(
            _("An administrative division code has 6, 9 or 12 digits."),
            code="invalid_division_code",
        )


def mask_phone(value: str) -> str:
    """``13812341234`` → ``138****1234``; anything shorter is masked whole."""
    if not value:
        return ""
    if len(value) >= 11:
        return f"{value[:3]}****{value[-4:]}"
    return "*" * len(value)


def mask_email(value: str) -> str:
    """``zhang.san@example.cn`` → ``z***@example.cn``."""
    local, at, domain = value.partition("@")
    if not at:
        return "*" * len(value)
    return f"{local[:1]}***@{domain}"


# --- text --------------------------------------------------------------------------------

# Line breaks a multi-line text may hold; stored as "\n".
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")
_SINGLE_LINE_BREAKS = frozenset("\t\n\r\u2028\u2029")
# Letters that render as nothing: a name made of them looks blank.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _is_noncharacter(char: str) -> bool:
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


@deconstructible
class TextValidator:
    """Refuses the characters no text of the portal may hold (see the module's docstring).

    ``multiline``: tab and line breaks are allowed. ``strict`` (names and codes): invisible
    formatting characters (Unicode category Cf, e.g. U+200B, U+200E, U+202E, U+2066,
    U+FEFF) and blank letters are refused too.
    """

    def __init__(self, *, multiline: bool = False, strict: bool = False) -> None:
        self.multiline = multiline
        self.strict = strict

    def __call__(self, value: Any) -> None:
        text = "" if value is None else str(value)
        if text.isprintable() and not (self.strict and _BLANK_LETTERS.intersection(text)):
            return  # the common case, at C speed
        for position, char in enumerate(text, start=1):
            error = self._error(char, position)
            if error is not None:
                raise error

    def _error(self, char: str, position: int) -> ValidationError | None:
        params = {"char": f"U+{ord(char):04X}", "position": position}
        if char in _SINGLE_LINE_BREAKS:
            if self.multiline:
                return None
            return ValidationError(
                _("Enter a single line: line breaks and tabs are not allowed here."),
                code="line_break",
            )
        if self.strict and char in _BLANK_LETTERS:
            return self._invisible(params)
        if char.isprintable():
            return None
        category = unicodedata.category(char)
        if category == "Cc":
            return ValidationError(
                _(
                    "Remove the control character %(char)s (character %(position)d): "
                    "control characters are not allowed in text."
                ),
                code="control_character",
                params=params,
            )
        if category == "Cs" or _is_noncharacter(char):
            return ValidationError(
                _("Remove the invalid character %(char)s (character %(position)d)."),
                code="invalid_character",
                params=params,
            )
        if category == "Cf" and self.strict:
            return self._invisible(params)
        return None  # spaces (U+3000, U+00A0), private-use and newer characters

    @staticmethod
    def _invisible(params: dict[str, Any]) -> ValidationError:
        return ValidationError(
            _(
                "Remove the invisible character %(char)s (character %(position)d): names and "
                "codes cannot contain zero-width spaces, direction marks or other invisible "
                "formatting."
            ),
            code="invisible_character",
            params=params,
        )

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TextValidator)
            and self.multiline == other.multiline
            and self.strict == other.strict
        )

    def __hash__(self) -> int:
        return hash((TextValidator, self.multiline, self.strict))


def normalize_text(value: str, *, multiline: bool = False, normalization: str = "NFC") -> str:
    """NFC (or NFKC), ``\\n`` line breaks if ``multiline``, surrounding whitespace stripped."""
    if multiline:
        value = _LINE_BREAKS.sub("\n", value)
    return unicodedata.normalize(normalization, value).strip()  # type: ignore[arg-type]


class TextRules(NamedTuple):
    """How one kind of text is normalized and checked; shared by the model field, the form
    field and the serializer field so the three agree.

    ``multiline``: tab and line breaks allowed. ``strict``: names and codes (no invisible
    characters). ``normalization``: ``"NFC"``, or ``"NFKC"`` for codes and numbers, which
    also turns full-width digits, letters and punctuation into ASCII.
    """

    multiline: bool = False
    strict: bool = False
    normalization: str = "NFC"

    def normalize(self, value: str) -> str:
        return normalize_text(value, multiline=self.multiline, normalization=self.normalization)

    @property
    def validator(self) -> TextValidator:
        return TextValidator(multiline=self.multiline, strict=self.strict)

    def clean(self, value: str) -> str:
        """The normalized text, or ``ValidationError``: for code outside forms and models."""
        text = self.normalize(value)
        self.validator(text)
        return text


TEXT = TextRules()  # one line of free text: an address, opening hours
MULTILINE = TextRules(multiline=True)  # a description, a note
NAME = TextRules(strict=True)  # names of units, people, teams
CODE = TextRules(strict=True, normalization="NFKC")  # division codes, phone numbers


# --- ids ---------------------------------------------------------------------------------

# The largest id a BigAutoField holds on PostgreSQL (bigint) and SQLite (INTEGER).
ID_MAX = 2**63 - 1
_ID = re.compile(r"[0-9]+", re.ASCII)


def parse_id(value: Any) -> int:
    """An id from a path, a query string or a body → ``int`` in 1…``ID_MAX``.

    Accepts an ``int``, a string of ASCII digits, or a float with no fractional part (JSON
    ``1.0``); refuses fractions (``1.5`` is not truncated to 1), signs, exponents in
    strings, booleans, other scripts' digits, and anything out of range, with
    ``ValidationError`` (code ``invalid_id``).
    """
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _ID.fullmatch(value.strip()):
        digits = value.strip().lstrip("0") or "0"
        # Longer than ID_MAX's 19 digits is out of range; int() of it is never needed.
        number = int(digits) if len(digits) <= 19 else ID_MAX + 1
    if number is None:
        raise ValidationError(_("Enter a valid id: a whole number."), code="invalid_id")
    if not 1 <= number <= ID_MAX:
        raise ValidationError(
            _("Enter a valid id: a whole number from 1 to %(max)s."),
            code="invalid_id",
            params={"max": ID_MAX},
        )
    return number
