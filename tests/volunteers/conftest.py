"""Fixtures of the volunteer tests: valid ID numbers and phones, and volunteers made
directly (not through the services, which their own tests cover)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from practice.models import Unit
from volunteers.choices import VolunteerStatus
from volunteers.identity import (
    check_character,
    hash_phone,
    id_number_hash,
    mask_id_number,
    parse_id_number,
)
from volunteers.models import Volunteer

__all__ = ["make_id_number", "make_phone", "make_volunteer"]

_serial = itertools.count(1)


def make_id_number(
    born: dt.date = dt.date(1990, 1, 1), *, area: str = "350627", male: bool = True
) -> str:
    """A valid 18-character ID number (a new one at each call: the sequence varies)."""
    n = next(_serial)
    sequence = (n * 2 + (1 if male else 0)) % 1000
    if male and sequence % 2 == 0:
        sequence = (sequence + 1) % 1000
    if not male and sequence % 2:
        sequence = (sequence + 1) % 1000
    first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
    # Different people born the same day in the same area: vary the area's last digits.
    first17 = f"{area[:4]}{(int(area[4:]) + n // 500) % 100:02d}{first17[6:]}"
    return first17 + check_character(first17)


def make_phone() -> str:
    return f"139{next(_serial):08d}"


def make_volunteer(
    unit: Unit,
    *,
    name: str = "张三",
    status: str = VolunteerStatus.ACTIVE,
    id_number: str | None = None,
    phone: str | None = None,
    user: Any = None,
    hours: Decimal | int = 0,
    points: int = 0,
) -> Volunteer:
    """A volunteer row as the services would leave it (number, hashes, masks)."""
    parsed = parse_id_number(id_number or make_id_number())
    phone = phone or make_phone()
    volunteer = Volunteer.objects.create(
        name=name,
        id_number=parsed.number,
        id_number_hash=id_number_hash(parsed.number),
        id_number_masked=mask_id_number(parsed.number),
        gender=parsed.gender,
        birth_date=parsed.birth_date,
        phone=phone,
        phone_hash=hash_phone(phone),
        phone_masked=f"{phone[:3]}****{phone[-4:]}",
        unit=unit,
        status=status,
        user=user,
        confirmed_hours=Decimal(hours),
        points_balance=points,
    )
    Volunteer.objects.filter(pk=volunteer.pk).update(number=f"T{volunteer.pk:09d}")
    volunteer.refresh_from_db()
    return volunteer


@pytest.fixture
def id_number() -> str:
    return make_id_number()
