"""Resident ID numbers (居民身份证号码, GB 11643-1999): checked, normalized, hashed, masked.

An ID number is 18 characters: a 6-digit address code, the birth date ``YYYYMMDD``, a
3-digit sequence (odd for men, even for women) and a check character (ISO 7064 MOD 11-2:
``0``–``9`` or ``X``). :func:`parse_id_number` is the one check: full-width digits and a
lowercase ``x`` are accepted and normalized, spaces and dashes around groups removed; a
15-digit (first-generation) number is refused with a message asking for the 18-digit one.

Stored encrypted (``portal.fields.EncryptedCharField``), an ID number cannot be searched;
:func:`id_number_hash` gives the keyed hash (HMAC-SHA256 with ``PERSONAL_DATA_HASH_KEY``,
not the encryption key) kept beside it for uniqueness and lookup, and :func:`mask_id_number`
the form shown everywhere (``350627********123X``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "IdNumber",
    "hash_phone",
    "id_number_hash",
    "mask_id_number",
    "parse_id_number",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-]")
# The oldest birth date accepted: nobody registering now was born before it.
_EARLIEST = dt.date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class IdNumber:
    number: str  # 18 characters, upper-case X
    birth_date: dt.date
    gender: str  # "male" or "female"

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)

    def age_on(self, day: dt.date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_character(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalize_id_number(value: str) -> str:
    """Full-width → ASCII, separators removed, ``x`` → ``X`` (unvalidated)."""
    text = unicodedata.normalize("NFKC", value or "")
    return _SEPARATORS.sub("", text).upper()


def parse_id_number(value: str, *, today: dt.date | None = None) -> IdNumber:
    """The checked ID number, or ``ValidationError`` (code ``invalid_id_number``) saying
    what is wrong: its length, a character, the birth date or the check character."""
    number = normalize_id_number(value)
    if re.fullmatch(r"[0-9]{15}", number, re.ASCII):
        raise ValidationError(
            _(
                "This is a 15-digit (first-generation) ID number; enter the 18-digit number "
                "on the current resident ID card."
            ),
            code="invalid_id_number",
        )
    if len(number) != 18 or not _SHAPE.fullmatch(number):
        raise ValidationError(
            _(
                "Enter the 18-character resident ID number: 17 digits and a last character "
                "0–9 or X."
            ),
            code="invalid_id_number",
        )
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("The birth date in this ID number (characters 7–14) is not a real date."),
            code="invalid_id_number",
        ) from None
    today = today or timezone.localdate()
    if born > today:
        raise ValidationError(
            _("The birth date in this ID number lies in the future."), code="invalid_id_number"
        )
    if born < _EARLIEST:
        raise ValidationError(
            _("The birth date in this ID number is too long ago."), code="invalid_id_number"
        )
    if check_character(number[:17]) != number[17]:
        raise ValidationError(
            _("This ID number's check character does not match: please check every digit."),
            code="invalid_id_number",
        )
    gender = "male" if int(number[16]) % 2 else "female"
    return IdNumber(number=number, birth_date=born, gender=gender)


def mask_id_number(number: str) -> str:
    """``350627199001011234`` → ``350627********1234``."""
    if not number:
        return ""
    if len(number) != 18:
        return "*" * len(number)
    return f"{number[:6]}{'*' * 8}{number[-4:]}"


def _hash_key() -> bytes:
    """``PERSONAL_DATA_HASH_KEY``; in development, when unset, derived from ``SECRET_KEY``
    (never from the encryption key). Production settings refuse to start without it."""
    key = settings.PERSONAL_DATA_HASH_KEY
    if key:
        return key.encode()
    return hashlib.sha256(b"personal-data-hash:" + settings.SECRET_KEY.encode()).digest()


def _keyed_hash(kind: str, value: str) -> str:
    return hmac.new(_hash_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def id_number_hash(number: str) -> str:
    """The keyed hash of a normalized ID number (64 hex characters)."""
    return _keyed_hash("id", number)


def hash_phone(phone: str) -> str:
    """The keyed hash of a normalized 11-digit mobile number (login by phone, lookups)."""
    return _keyed_hash("phone", phone)
