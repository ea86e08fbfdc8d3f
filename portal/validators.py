"""Validators and normalizers for Chinese administrative data."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

__all__ = [
    "mask_phone",
    "normalize_mobile",
    "validate_division_code",
    "validate_landline_or_mobile",
    "validate_mobile",
]

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS = re.compile(r"[\s\-()（）]")
_DIVISION_CODE = re.compile(r"^(\d{6}|\d{9}|\d{12})$")
_PHONE_LIKE = re.compile(r"^[0-9+\-\s()（）]{7,20}$")


def normalize_mobile(value: str) -> str:
    """Strip spaces, dashes and a +86/86 prefix; return the 11 digits (unvalidated)."""
    digits = _SEPARATORS.sub("", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def validate_mobile(value: str) -> None:
    if not _MOBILE.match(normalize_mobile(value)):
        raise ValidationError(
            _("Enter a mainland mobile number: 11 digits starting with 13–19."),
            code="invalid_phone",
        )


def validate_landline_or_mobile(value: str) -> None:
    if value and not _PHONE_LIKE.match(value):
        raise ValidationError(
            _("Enter a telephone number, e.g. 0596-7831234 or 13812345678."),
            code="invalid_phone",
        )


def validate_division_code(value: str) -> None:
    if value and not _DIVISION_CODE.match(value):
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
