"""Registration services: validation, the duplicate rules, ages, the account, decisions,
status changes, edits, revealing the ID number, the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError
from django.utils import timezone

from portal.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from practice.choices import AuditAction
from practice.models import AuditEntry, Category, User
from tests.conftest import World
from tests.volunteers.conftest import make_id_number, make_phone, make_volunteer
from volunteers import services
from volunteers.choices import VolunteerStatus
from volunteers.identity import hash_phone
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db

PASSWORD = "river-lantern-4417"


def _years_ago(years: int, days: int = 0) -> dt.date:
    today = timezone.localdate()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = today.replace(year=today.year - years, day=28)
    return born - dt.timedelta(days=days)


def data(world: World, **overrides: Any) -> dict[str, Any]:
    base = {
        "name": "王小明",
        "id_number": make_id_number(),
        "phone": make_phone(),
        "unit": world.station,
        "password": PASSWORD,
    }
    base.update(overrides)
    return base


def _error(exc: pytest.ExceptionInfo[ValidationFailed]) -> tuple[str, dict[str, list[str]]]:
    return exc.value.code, exc.value.detail


# --- registration --------------------------------------------------------------------------


def test_register_creates_pending_volunteer_with_account(world: World) -> None:
    idn = make_id_number(dt.date(1990, 5, 17), male=False)
    volunteer = services.volunteer_register(
        data=data(world, id_number=idn, phone="+86 139-0000-1234", skills="急救")
    )
    volunteer.refresh_from_db()
    assert volunteer.status == VolunteerStatus.PENDING
    assert volunteer.self_registered is True
    assert volunteer.registered_by is None
    assert volunteer.phone == "13900001234"
    assert volunteer.phone_hash == hash_phone("13900001234")
    assert volunteer.phone_masked == "139****1234"
    assert volunteer.id_number_masked == f"{idn[:6]}********{idn[-4:]}"
    assert volunteer.gender == "female"
    assert volunteer.birth_date == dt.date(1990, 5, 17)
    year = timezone.localdate().year
    assert volunteer.number == f"V{year}{volunteer.pk:08d}"
    account = volunteer.user
    assert account is not None
    assert account.username == volunteer.number
    assert account.name == "王小明"
    assert account.phone == "13900001234"
    assert account.created_by is None
    assert account.check_password(PASSWORD)
    assert not account.role_assignments.exists()
    entry = AuditEntry.objects.get(action=AuditAction.VOLUNTEER_REGISTERED)
    assert entry.actor is None
    assert entry.unit == world.station
    text = str(entry.changes) + entry.object_repr
    assert idn not in text and "13900001234" not in text
    assert "139****1234" in text


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("阿·买买提", True),
        ("𠮷野家", True),  # outside the BMP
        ("龘" * 30, True),
        ("龘" * 31, False),
        ("", False),
        ("   ", False),
        ("张\x00三", False),
        ("张\u200b三", False),
        ("张\x07三", False),
        ("<script>alert(1)</script>", True),
    ],
)
def test_name_rules(world: World, name: str, ok: bool) -> None:
    if ok:
        volunteer = services.volunteer_register(data=data(world, name=name))
        assert volunteer.name == name
    else:
        with pytest.raises(ValidationFailed) as exc:
            services.volunteer_register(data=data(world, name=name))
        assert "name" in exc.value.detail


def test_name_is_nfc_normalized(world: World) -> None:
    volunteer = services.volunteer_register(data=data(world, name="  Zoe\u0301  "))
    assert volunteer.name == "Zoé"


@pytest.mark.parametrize(
    "bad",
    [
        "350627199001011235",  # wrong check character (the right one is computed below)
        "350627199002301234",  # 30 February
        "350627209901011234",  # future
        "350627900101123",  # 15 digits
        "35062719900101123",  # 17 characters
    ],
)
def test_bad_id_numbers_refused(world: World, bad: str) -> None:
    from volunteers.identity import check_character

    if bad == "350627199001011235":
        right = check_character(bad[:17])
        bad = bad[:17] + ("0" if right != "0" else "1")
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, id_number=bad))
    assert "id_number" in exc.value.detail
    assert exc.value.code == "invalid_id_number"


def test_fifteen_digit_message(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, id_number="350627900101123"))
    assert "18" in exc.value.detail["id_number"][0]


def test_lower_case_x_and_full_width_digits_accepted(world: World) -> None:
    from volunteers.identity import check_character

    for n in range(1, 200):
        first17 = f"35062719900101{n:03d}"
        if check_character(first17) == "X":
            break
    lower = first17 + "x"
    volunteer = services.volunteer_register(data=data(world, id_number=lower))
    assert volunteer.id_number == first17 + "X"
    other = make_id_number()
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in other)
    v2 = services.volunteer_register(data=data(world, id_number=full_width))
    assert v2.id_number == other


@pytest.mark.parametrize("phone", ["+8613912345678", "0086 139 1234 5678", "139-1234-5678"])
def test_phone_forms_normalized(world: World, phone: str) -> None:
    volunteer = services.volunteer_register(data=data(world, phone=phone))
    assert volunteer.phone == "13912345678"


@pytest.mark.parametrize("phone", ["12345678901", "1391234567", "abc", ""])
def test_bad_phones_refused(world: World, phone: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, phone=phone))
    assert "phone" in exc.value.detail


def test_duplicate_id_number_says_nothing_about_holder(world: World) -> None:
    idn = make_id_number()
    make_volunteer(world.other_station, name="李秘密", id_number=idn)
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, id_number=idn))
    assert exc.value.code == "duplicate_volunteer"
    message = exc.value.detail["id_number"][0]
    assert "李秘密" not in message and "乙" not in message
    assert Volunteer.objects.count() == 1


def test_duplicate_phone(world: World) -> None:
    phone = make_phone()
    make_volunteer(world.station, phone=phone)
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, phone=phone))
    assert exc.value.code == "duplicate_phone"
    assert "phone" in exc.value.detail


def test_race_on_unique_hash_is_a_400(world: World) -> None:
    """Two registrations of one ID number at once: the second insert fails in the
    database after the check passed; it is the same 400, not a 500."""
    idn = make_id_number()
    real_save = Volunteer.save
    raced: list[bool] = []

    def racing_save(self: Volunteer, *args: Any, **kwargs: Any) -> None:
        if self.pk is None and not raced:
            raced.append(True)
            make_volunteer(world.station, id_number=idn)
        real_save(self, *args, **kwargs)

    with (
        mock.patch.object(Volunteer, "save", racing_save),
        pytest.raises(ValidationFailed) as exc,
    ):
        services.volunteer_register(data=data(world, id_number=idn))
    assert exc.value.code == "duplicate_volunteer"


def test_weak_password(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, password="12345678"))
    assert exc.value.code == "weak_password"
    assert "password" in exc.value.detail
    assert not Volunteer.objects.exists()


def test_password_required(world: World) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, password=""))
    assert "password" in exc.value.detail


def test_inactive_unit_refused(world: World) -> None:
    world.station3.is_active = False
    world.station3.save()
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, unit=world.station3))
    assert "unit" in exc.value.detail


def test_under_14_needs_guardian_name_and_phone(world: World) -> None:
    idn = make_id_number(_years_ago(10))
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, id_number=idn))
    assert {"guardian_name", "guardian_phone"} <= set(exc.value.detail)
    volunteer = services.volunteer_register(
        data=data(world, id_number=idn, guardian_name="王父", guardian_phone=make_phone())
    )
    assert volunteer.guardian_name == "王父"


def test_14_to_17_needs_consent(world: World) -> None:
    idn = make_id_number(_years_ago(17, days=-1))  # 16, turning 17 tomorrow
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, id_number=idn))
    assert set(exc.value.detail) == {"guardian_consent"}
    volunteer = services.volunteer_register(data=data(world, id_number=idn, guardian_consent=True))
    assert volunteer.guardian_consent is True


def test_18_today_needs_nothing(world: World) -> None:
    idn = make_id_number(_years_ago(18))
    assert services.volunteer_register(data=data(world, id_number=idn)).pk


def test_14_today_needs_consent_only(world: World) -> None:
    idn = make_id_number(_years_ago(14))
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_register(data=data(world, id_number=idn))
    assert set(exc.value.detail) == {"guardian_consent"}


def test_categories_saved(world: World) -> None:
    cats = list(Category.objects.all()[:2])
    volunteer = services.volunteer_register(data=data(world, categories=cats))
    assert set(volunteer.categories.all()) == set(cats)


# --- staff registration --------------------------------------------------------------------


def test_staff_create_is_active_without_usable_password(world: World) -> None:
    d = data(world)
    d.pop("password")
    volunteer = services.volunteer_create(actor=world.station_manager, data=d)
    assert volunteer.status == VolunteerStatus.ACTIVE
    assert volunteer.self_registered is False
    assert volunteer.registered_by == world.station_manager
    assert volunteer.user is not None
    assert not volunteer.user.has_usable_password()
    entry = AuditEntry.objects.get(action=AuditAction.VOLUNTEER_REGISTERED)
    assert entry.actor == world.station_manager


@pytest.mark.parametrize(
    ("who", "unit", "error"),
    [
        ("station_manager", "station2", PermissionDenied),
        ("other_coordinator", "station", PermissionDenied),
        ("no_role", "station", PermissionDenied),
    ],
)
def test_staff_create_outside_scope_refused(world: World, who: str, unit: str, error: type) -> None:
    d = data(world, unit=getattr(world, unit))
    with pytest.raises(error):
        services.volunteer_create(actor=getattr(world, who), data=d)
    assert not Volunteer.objects.exists()


# --- decisions -----------------------------------------------------------------------------


def test_approve_and_audit(world: World) -> None:
    v = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    v = services.volunteer_approve(actor=world.town_manager, volunteer=v)
    assert v.status == VolunteerStatus.ACTIVE
    assert v.decided_by == world.town_manager
    assert AuditEntry.objects.filter(action=AuditAction.VOLUNTEER_APPROVED).count() == 1


def test_approve_twice_is_409(world: World) -> None:
    v = make_volunteer(world.station, status=VolunteerStatus.ACTIVE)
    with pytest.raises(InvalidTransition) as exc:
        services.volunteer_approve(actor=world.coordinator, volunteer=v)
    assert exc.value.status_code == 409
    assert exc.value.code == "invalid_transition"


@pytest.mark.parametrize(
    ("who", "error"),
    [("other_coordinator", NotFound), ("no_role", NotFound), ("station_manager", NotFound)],
)
def test_approve_outside_scope(world: World, who: str, error: type) -> None:
    v = make_volunteer(world.station2, status=VolunteerStatus.PENDING)
    with pytest.raises(error):
        services.volunteer_approve(actor=getattr(world, who), volunteer=v)


def test_volunteer_cannot_approve_self(world: World) -> None:
    account = User.objects.create_user("vself", password=PASSWORD)
    v = make_volunteer(world.station, status=VolunteerStatus.PENDING, user=account)
    with pytest.raises(PermissionDenied):
        services.volunteer_approve(actor=account, volunteer=v)


def test_reject_needs_reason(world: World) -> None:
    v = make_volunteer(world.station, status=VolunteerStatus.PENDING)
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_reject(actor=world.station_manager, volunteer=v, reason="  ")
    assert "reason" in exc.value.detail
    v = services.volunteer_reject(
        actor=world.station_manager, volunteer=v, reason="身份信息无法核实"
    )
    assert v.status == VolunteerStatus.REJECTED
    assert v.status_reason == "身份信息无法核实"
    with pytest.raises(InvalidTransition):
        services.volunteer_reject(actor=world.station_manager, volunteer=v, reason="again")
    with pytest.raises(InvalidTransition):
        services.volunteer_approve(actor=world.station_manager, volunteer=v)


@pytest.mark.parametrize(
    ("start", "target", "ok"),
    [
        ("active", "suspended", True),
        ("active", "withdrawn", True),
        ("suspended", "active", True),
        ("suspended", "withdrawn", True),
        ("withdrawn", "active", True),
        ("pending", "withdrawn", True),
        ("pending", "active", False),
        ("pending", "suspended", False),
        ("rejected", "active", False),
        ("active", "pending", False),
        ("active", "active", False),
    ],
)
def test_status_transitions(world: World, start: str, target: str, ok: bool) -> None:
    v = make_volunteer(world.station, status=start)
    if ok:
        v = services.volunteer_set_status(
            actor=world.coordinator, volunteer=v, status=target, reason="因故"
        )
        assert v.status == target
        entry = AuditEntry.objects.get(action=AuditAction.VOLUNTEER_CHANGED)
        assert entry.changes["status"] == [start, target]
    else:
        with pytest.raises(InvalidTransition):
            services.volunteer_set_status(
                actor=world.coordinator, volunteer=v, status=target, reason="因故"
            )


def test_suspend_needs_reason(world: World) -> None:
    v = make_volunteer(world.station)
    with pytest.raises(ValidationFailed):
        services.volunteer_set_status(actor=world.coordinator, volunteer=v, status="suspended")


def test_set_status_outside_scope(world: World) -> None:
    v = make_volunteer(world.station)
    with pytest.raises(NotFound):
        services.volunteer_set_status(
            actor=world.other_coordinator, volunteer=v, status="withdrawn"
        )


# --- edits ---------------------------------------------------------------------------------


def test_staff_update_and_masked_audit(world: World) -> None:
    v = make_volunteer(world.station, user=User.objects.create_user("vacc", password=PASSWORD))
    old_phone = v.phone
    v = services.volunteer_update(
        actor=world.town_manager,
        volunteer=v,
        data={"name": "张四", "phone": "13811112222", "unit": world.station2, "skills": "摄影"},
    )
    assert (v.name, v.phone, v.unit, v.skills) == ("张四", "13811112222", world.station2, "摄影")
    assert v.phone_hash == hash_phone("13811112222")
    assert v.phone_masked == "138****2222"
    assert v.user is not None
    v.user.refresh_from_db()
    assert (v.user.name, v.user.phone) == ("张四", "13811112222")
    entry = AuditEntry.objects.get(action=AuditAction.VOLUNTEER_CHANGED)
    text = str(entry.changes)
    assert "13811112222" not in text and old_phone not in text
    assert "138****2222" in text


def test_staff_move_outside_scope_refused(world: World) -> None:
    v = make_volunteer(world.station)
    with pytest.raises(PermissionDenied):
        services.volunteer_update(
            actor=world.station_manager, volunteer=v, data={"unit": world.station2}
        )
    with pytest.raises(PermissionDenied):
        services.volunteer_update(
            actor=world.coordinator, volunteer=v, data={"unit": world.other_station}
        )


def test_own_update_limited_fields(world: World) -> None:
    account = User.objects.create_user("vown", password=PASSWORD)
    v = make_volunteer(world.station, user=account)
    v = services.volunteer_update(
        actor=account, volunteer=v, data={"phone": "13822223333", "available_time": "周末"}
    )
    assert v.phone == "13822223333"
    assert v.available_time == "周末"
    for field, value in [("name", "改名"), ("unit", world.station2), ("guardian_consent", True)]:
        with pytest.raises(PermissionDenied):
            services.volunteer_update(actor=account, volunteer=v, data={field: value})


def test_update_duplicate_phone(world: World) -> None:
    taken = make_phone()
    make_volunteer(world.station, phone=taken)
    v = make_volunteer(world.station)
    with pytest.raises(ValidationFailed) as exc:
        services.volunteer_update(actor=world.coordinator, volunteer=v, data={"phone": taken})
    assert exc.value.code == "duplicate_phone"


def test_update_by_stranger(world: World) -> None:
    v = make_volunteer(world.station)
    account = User.objects.create_user("vother", password=PASSWORD)
    make_volunteer(world.station, user=account)
    for stranger in (world.no_role, world.other_coordinator, account):
        with pytest.raises(NotFound):
            services.volunteer_update(actor=stranger, volunteer=v, data={"skills": "x"})


# --- revealing the ID number ---------------------------------------------------------------


def test_reveal_needs_permission_and_scope(world: World) -> None:
    v = make_volunteer(world.station)
    with pytest.raises(PermissionDenied):
        services.volunteer_reveal_id(actor=world.coordinator, volunteer=v)
    perm = Permission.objects.get(codename="reveal_id_number")
    world.coordinator.user_permissions.add(perm)
    world.other_coordinator.user_permissions.add(perm)
    coordinator = User.objects.get(pk=world.coordinator.pk)  # fresh permission cache
    other = User.objects.get(pk=world.other_coordinator.pk)
    assert services.volunteer_reveal_id(actor=coordinator, volunteer=v) == v.id_number
    assert services.volunteer_reveal_id(actor=coordinator, volunteer=v) == v.id_number
    with pytest.raises(NotFound):
        services.volunteer_reveal_id(actor=other, volunteer=v)
    entries = AuditEntry.objects.filter(action=AuditAction.VOLUNTEER_ID_REVEALED)
    assert entries.count() == 2
    assert all(v.id_number not in str(e.changes) for e in entries)
    assert services.volunteer_reveal_id(actor=world.superuser, volunteer=v) == v.id_number


def test_integrity_error_on_account_is_not_a_500(world: World) -> None:
    real = User.save
    calls = {"n": 0}

    def failing(self: User, *args: Any, **kwargs: Any) -> None:
        if self.username.startswith("V") and calls["n"] == 0:
            calls["n"] += 1
            raise IntegrityError("username taken")
        real(self, *args, **kwargs)

    with mock.patch.object(User, "save", failing), pytest.raises(InvalidTransition):
        services.volunteer_register(data=data(world))


def test_staff_create_outside_scope_refused_before_duplicate_check(world: World) -> None:
    idn = make_id_number()
    make_volunteer(world.other_station, id_number=idn)
    d = data(world, unit=world.station.pk, id_number=idn)
    with pytest.raises(PermissionDenied):
        services.volunteer_create(actor=world.other_coordinator, data=d)
