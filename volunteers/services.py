"""Volunteer registration, approval and profiles: every write to a volunteer's record.

Each function is keyword-only (``actor`` first), checks the policy
(``practice.permissions``), validates, writes in one transaction and records the audit
entry in it — with masked ID numbers and phones only, never the raw ones.

A volunteer's number is ``V`` + the year of registration + the row's id on eight digits
(``V202600000042``); their login account's username is that number, and they may log in
with their mobile number too (``volunteers.auth.PhoneBackend``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.cache import VOLUNTEERS, bump_on_commit
from portal.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from portal.errors import field_error as _fail
from portal.validators import MULTILINE, NAME, TEXT, mask_phone, normalize_mobile, validate_mobile
from practice.choices import AuditAction
from practice.models import Category, Unit, User
from practice.permissions import Action, can
from practice.services import record_audit

from .choices import VolunteerStatus
from .identity import IdNumber, hash_phone, id_number_hash, parse_id_number
from .models import Volunteer

__all__ = [
    "ALLOWED_STATUS_CHANGES",
    "NAME_MAX",
    "OWN_FIELDS",
    "STAFF_FIELDS",
    "clean_new_volunteer",
    "volunteer_approve",
    "volunteer_create",
    "volunteer_register",
    "volunteer_reject",
    "volunteer_reveal_id",
    "volunteer_set_status",
    "volunteer_update",
]

NAME_MAX = 30
REASON_MAX = 500
# Under this age a guardian's name and phone are required; under ADULT_AGE their consent.
CHILD_AGE = 14
ADULT_AGE = 18

# Fields staff with MANAGE_VOLUNTEERS may change, and those the volunteer may change.
STAFF_FIELDS = frozenset(
    {
        "name",
        "phone",
        "unit",
        "skills",
        "categories",
        "available_time",
        "guardian_name",
        "guardian_phone",
        "guardian_consent",
    }
)
OWN_FIELDS = frozenset({"phone", "skills", "categories", "available_time"})

# status → the statuses ``volunteer_set_status`` may move it to. Pending registrations are
# decided by approve/reject (or withdrawn by the person); a rejection is final — the person
# may ask a manager to register them directly instead.
ALLOWED_STATUS_CHANGES: dict[str, frozenset[str]] = {
    VolunteerStatus.PENDING: frozenset({VolunteerStatus.WITHDRAWN}),
    VolunteerStatus.ACTIVE: frozenset({VolunteerStatus.SUSPENDED, VolunteerStatus.WITHDRAWN}),
    VolunteerStatus.SUSPENDED: frozenset({VolunteerStatus.ACTIVE, VolunteerStatus.WITHDRAWN}),
    VolunteerStatus.WITHDRAWN: frozenset({VolunteerStatus.ACTIVE}),
    VolunteerStatus.REJECTED: frozenset(),
}


# --- helpers -----------------------------------------------------------------------------


class _Errors:
    """Field errors gathered from one input, raised together (the first one's code)."""

    def __init__(self) -> None:
        self.detail: dict[str, list[str]] = {}
        self.code: str | None = None

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.detail.setdefault(field, []).append(str(message))
        self.code = self.code or code

    def add_django(self, field: str, exc: ValidationError) -> None:
        for error in exc.error_list:
            self.add(field, " ".join(str(m) for m in error.messages), error.code or "invalid")

    def raise_if_any(self) -> None:
        if self.detail:
            raise ValidationFailed(code=self.code, detail=self.detail)


def _clean_name(value: Any, errors: _Errors, field: str = "name", *, required: bool = True) -> str:
    try:
        name = NAME.clean(str(value or ""))
    except ValidationError as exc:
        errors.add_django(field, exc)
        return ""
    if not name:
        if required:
            errors.add(field, _("Enter the name."), "required")
        return ""
    if len(name) > NAME_MAX:
        errors.add(
            field,
            _("A name has at most %(max)d characters (this one has %(n)d).")
            % {"max": NAME_MAX, "n": len(name)},
            "too_long",
        )
    return name


def _clean_text(
    value: Any, errors: _Errors, field: str, max_length: int, *, multiline: bool = False
) -> str:
    rules = MULTILINE if multiline else TEXT
    try:
        text = rules.clean(str(value or ""))
    except ValidationError as exc:
        errors.add_django(field, exc)
        return ""
    if len(text) > max_length:
        errors.add(
            field,
            _("At most %(max)d characters (this has %(n)d).") % {"max": max_length, "n": len(text)},
            "too_long",
        )
    return text


def _clean_mobile(value: Any, errors: _Errors, field: str, *, required: bool = True) -> str:
    raw = str(value or "").strip()
    if not raw:
        if required:
            errors.add(field, _("Enter a mobile number."), "required")
        return ""
    try:
        validate_mobile(raw)
    except ValidationError as exc:
        errors.add_django(field, exc)
        return ""
    return normalize_mobile(raw)


def _clean_id_number(value: Any, errors: _Errors) -> IdNumber | None:
    if not str(value or "").strip():
        errors.add("id_number", _("Enter the resident ID number."), "required")
        return None
    try:
        return parse_id_number(str(value))
    except ValidationError as exc:
        errors.add_django("id_number", exc)
        return None


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _check_guardian(born: dt.date, name: str, phone: str, consent: bool, errors: _Errors) -> None:
    """Under 14: the guardian's name and phone; 14 to 17: the guardian's consent."""
    age = _age(born, timezone.localdate())
    if age < CHILD_AGE:
        if not name:
            errors.add(
                "guardian_name",
                _("Under 14: enter the name of a parent or guardian."),
                "guardian_required",
            )
        if not phone:
            errors.add(
                "guardian_phone",
                _("Under 14: enter the mobile number of a parent or guardian."),
                "guardian_required",
            )
    elif age < ADULT_AGE and not consent:
        errors.add(
            "guardian_consent",
            _("Under 18: a parent or guardian must agree to the registration."),
            "guardian_consent_required",
        )


def _clean_unit(value: Any, errors: _Errors) -> Unit | None:
    if value is None or value == "":
        errors.add("unit", _("Choose the home unit."), "required")
        return None
    unit = value if isinstance(value, Unit) else Unit.objects.filter(pk=value).first()
    if unit is None or not unit.is_active:
        errors.add("unit", _("Choose an active unit."), "invalid_unit")
        return None
    return unit


def _categories(value: Any) -> list[Category]:
    items = list(value or [])
    if not items:
        return []  # no query (the spreadsheet import checks thousands of rows)
    ids = [c.pk if isinstance(c, Category) else int(c) for c in items]
    return list(Category.objects.filter(pk__in=ids, is_active=True))


def _check_unique_phone(phone: str, errors: _Errors, *, exclude: int | None = None) -> None:
    same = Volunteer.objects.filter(phone_hash=hash_phone(phone))
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        errors.add(
            "phone",
            _("This mobile number is already registered; log in with it, or use another."),
            "duplicate_phone",
        )


def _duplicate_volunteer() -> ValidationFailed:
    # Says nothing about who holds the number or where.
    return _fail(
        "id_number",
        _("A volunteer with this ID number is already registered."),
        code="duplicate_volunteer",
    )


def _duplicate_phone() -> ValidationFailed:
    return _fail(
        "phone",
        _("This mobile number is already registered; log in with it, or use another."),
        code="duplicate_phone",
    )


def _masked(volunteer: Volunteer) -> dict[str, Any]:
    return {
        "name": volunteer.name,
        "id_number": volunteer.id_number_masked,
        "phone": volunteer.phone_masked,
        "unit": volunteer.unit_id,
        "status": volunteer.status,
    }


def _repr(volunteer: Volunteer) -> str:
    return f"{volunteer.number or volunteer.pk} {volunteer.name}"


def _require_manage(actor: User, volunteer: Volunteer) -> None:
    """MANAGE_VOLUNTEERS on the home unit; 404 when the volunteer is invisible to the actor,
    403 when visible (in scope, or their own record) but not manageable."""
    if can(actor, Action.MANAGE_VOLUNTEERS, volunteer.unit):
        return
    if can(actor, Action.VIEW, volunteer.unit) or (
        actor.is_authenticated and volunteer.user_id == actor.pk
    ):
        raise PermissionDenied(_("Your role does not allow managing this volunteer."))
    raise NotFound()


def _locked(volunteer: Volunteer) -> Volunteer:
    locked = Volunteer.objects.select_for_update(of=("self",)).select_related("unit")
    return locked.get(pk=volunteer.pk)


# --- registration ------------------------------------------------------------------------


def _new_volunteer(
    *,
    data: Mapping[str, Any],
    errors: _Errors,
    password: str | None,
    check_unique: bool = True,
) -> tuple[Volunteer, list[Category]]:
    """A validated, unsaved volunteer from ``data`` (raises ``ValidationFailed``).
    ``check_unique=False``: the caller checks ID numbers and phones for many at once."""
    name = _clean_name(data.get("name"), errors)
    parsed = _clean_id_number(data.get("id_number"), errors)
    phone = _clean_mobile(data.get("phone"), errors, "phone")
    unit = _clean_unit(data.get("unit"), errors)
    skills = _clean_text(data.get("skills"), errors, "skills", 200)
    available_time = _clean_text(data.get("available_time"), errors, "available_time", 100)
    guardian_name = _clean_name(data.get("guardian_name"), errors, "guardian_name", required=False)
    guardian_phone = _clean_mobile(
        data.get("guardian_phone"), errors, "guardian_phone", required=False
    )
    consent = bool(data.get("guardian_consent"))
    if parsed is not None:
        _check_guardian(parsed.birth_date, guardian_name, guardian_phone, consent, errors)
        if (
            check_unique
            and Volunteer.objects.filter(id_number_hash=id_number_hash(parsed.number)).exists()
        ):
            duplicate = _duplicate_volunteer()
            errors.add("id_number", duplicate.detail["id_number"][0], "duplicate_volunteer")
    if phone and check_unique:
        _check_unique_phone(phone, errors)
    if password is not None:
        try:
            validate_password(password, User(name=name))
        except ValidationError as exc:
            for message in exc.messages:
                errors.add("password", message, "weak_password")
    errors.raise_if_any()
    if parsed is None or unit is None:  # pragma: no cover - each adds an error above
        raise ValidationFailed()
    volunteer = Volunteer(
        name=name,
        id_number=parsed.number,
        id_number_hash=id_number_hash(parsed.number),
        id_number_masked=parsed.masked,
        gender=parsed.gender,
        birth_date=parsed.birth_date,
        phone=phone,
        phone_hash=hash_phone(phone),
        phone_masked=mask_phone(phone),
        unit=unit,
        skills=skills,
        available_time=available_time,
        guardian_name=guardian_name,
        guardian_phone=guardian_phone,
        guardian_consent=consent,
    )
    return volunteer, _categories(data.get("categories"))


def clean_new_volunteer(data: Mapping[str, Any], *, check_unique: bool = True) -> Volunteer:
    """The checks of a registration without saving anything (the spreadsheet import runs
    them on each row): a validated, unsaved volunteer, or ``ValidationFailed`` with every
    field's messages."""
    volunteer, _categories = _new_volunteer(
        data=data, errors=_Errors(), password=None, check_unique=check_unique
    )
    return volunteer


def _save_new(
    volunteer: Volunteer,
    categories: Iterable[Category],
    *,
    actor: User | None,
    password: str | None,
) -> Volunteer:
    """Insert the volunteer, number it, create and link its account, audit; in the caller's
    transaction."""
    try:
        with transaction.atomic():
            volunteer.save()
    except IntegrityError as exc:
        # Another registration with the same ID number or phone won the race.
        if Volunteer.objects.filter(phone_hash=volunteer.phone_hash).exists() and not (
            Volunteer.objects.filter(id_number_hash=volunteer.id_number_hash).exists()
        ):
            raise _duplicate_phone() from exc
        raise _duplicate_volunteer() from exc
    year = timezone.localdate().year
    volunteer.number = f"V{year}{volunteer.pk:08d}"
    account = User(username=volunteer.number, name=volunteer.name, created_by=None)
    account.phone = volunteer.phone
    if password is None:
        # Registered by staff: the person sets a password with "forgot password" by SMS.
        account.set_unusable_password()
    else:
        account.set_password(password)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:  # a staff account already took this username
        raise InvalidTransition(
            _("The login account could not be created; try again."), code="conflict"
        ) from exc
    volunteer.user = account
    volunteer.save(update_fields=["number", "user", "updated_at"])
    volunteer.categories.set(list(categories))
    bump_on_commit(VOLUNTEERS)  # public pages count volunteers
    record_audit(
        actor=actor,
        action=AuditAction.VOLUNTEER_REGISTERED,
        unit=volunteer.unit,
        object_repr=_repr(volunteer),
        changes={**_masked(volunteer), "self_registered": volunteer.self_registered},
    )
    return volunteer


def volunteer_register(*, data: Mapping[str, Any], actor: User | None = None) -> Volunteer:
    """Public self-registration: the volunteer waits for approval (``pending``).

    ``data``: name, id_number, phone, unit, password, and optionally skills, categories,
    available_time, guardian_name, guardian_phone, guardian_consent.
    """
    errors = _Errors()
    password = str(data.get("password") or "")
    if not password:
        errors.add("password", _("Choose a password."), "required")
    volunteer, categories = _new_volunteer(data=data, errors=errors, password=password or None)
    volunteer.status = VolunteerStatus.PENDING
    volunteer.self_registered = True
    with transaction.atomic():
        return _save_new(volunteer, categories, actor=actor, password=password)


def volunteer_create(*, actor: User, data: Mapping[str, Any]) -> Volunteer:
    """Registration by staff with MANAGE_VOLUNTEERS on the home unit: active at once. The
    account has no usable password until the person sets one ("forgot password")."""
    errors = _Errors()
    unit = data.get("unit")
    if unit is not None and not isinstance(unit, Unit):
        unit = Unit.objects.filter(pk=unit).first()
    # Refused before the input is checked: nobody learns whether an ID number is known
    # somewhere they may not register.
    if unit is not None and not can(actor, Action.MANAGE_VOLUNTEERS, unit):
        raise PermissionDenied(_("You may not register volunteers at that unit."))
    volunteer, categories = _new_volunteer(data=data, errors=errors, password=None)
    if not can(actor, Action.MANAGE_VOLUNTEERS, volunteer.unit):
        raise PermissionDenied(_("You may not register volunteers at that unit."))
    now = timezone.now()
    volunteer.status = VolunteerStatus.ACTIVE
    volunteer.self_registered = False
    volunteer.registered_by = actor
    volunteer.decided_by = actor
    volunteer.decided_at = now
    with transaction.atomic():
        return _save_new(volunteer, categories, actor=actor, password=None)


# --- decisions and status ----------------------------------------------------------------


def volunteer_approve(*, actor: User, volunteer: Volunteer) -> Volunteer:
    """A pending registration becomes active (409 ``invalid_transition`` otherwise)."""
    _require_manage(actor, volunteer)
    with transaction.atomic():
        fresh = _locked(volunteer)
        if fresh.status != VolunteerStatus.PENDING:
            raise InvalidTransition(_("Only a registration awaiting approval can be approved."))
        fresh.status = VolunteerStatus.ACTIVE
        fresh.status_reason = ""
        fresh.decided_by = actor
        fresh.decided_at = timezone.now()
        fresh.save(
            update_fields=["status", "status_reason", "decided_by", "decided_at", "updated_at"]
        )
        bump_on_commit(VOLUNTEERS)  # public pages count volunteers
        record_audit(
            actor=actor,
            action=AuditAction.VOLUNTEER_APPROVED,
            unit=fresh.unit,
            object_repr=_repr(fresh),
            changes={"status": [VolunteerStatus.PENDING, VolunteerStatus.ACTIVE]},
        )
    return fresh


def _clean_reason(reason: Any, *, required: bool) -> str:
    errors = _Errors()
    text = _clean_text(reason, errors, "reason", REASON_MAX, multiline=True)
    if required and not text and not errors.detail:
        errors.add("reason", _("Give the reason; the volunteer will see it."), "required")
    errors.raise_if_any()
    return text


def volunteer_reject(*, actor: User, volunteer: Volunteer, reason: str) -> Volunteer:
    """A pending registration is turned down, with a reason the person sees on /me/."""
    _require_manage(actor, volunteer)
    text = _clean_reason(reason, required=True)
    with transaction.atomic():
        fresh = _locked(volunteer)
        if fresh.status != VolunteerStatus.PENDING:
            raise InvalidTransition(_("Only a registration awaiting approval can be rejected."))
        fresh.status = VolunteerStatus.REJECTED
        fresh.status_reason = text
        fresh.decided_by = actor
        fresh.decided_at = timezone.now()
        fresh.save(
            update_fields=["status", "status_reason", "decided_by", "decided_at", "updated_at"]
        )
        bump_on_commit(VOLUNTEERS)  # public pages count volunteers
        record_audit(
            actor=actor,
            action=AuditAction.VOLUNTEER_REJECTED,
            unit=fresh.unit,
            object_repr=_repr(fresh),
            changes={
                "status": [VolunteerStatus.PENDING, VolunteerStatus.REJECTED],
                "reason": text,
            },
        )
    return fresh


def volunteer_set_status(
    *, actor: User, volunteer: Volunteer, status: str, reason: str = ""
) -> Volunteer:
    """Suspend, withdraw or reactivate (see ``ALLOWED_STATUS_CHANGES``); a suspension needs
    a reason, which the volunteer sees."""
    _require_manage(actor, volunteer)
    if status not in VolunteerStatus.values:
        raise _fail("status", _("Unknown status."))
    text = _clean_reason(reason, required=status == VolunteerStatus.SUSPENDED)
    with transaction.atomic():
        fresh = _locked(volunteer)
        old = fresh.status
        if status not in ALLOWED_STATUS_CHANGES.get(old, frozenset()):
            raise InvalidTransition(
                _("A volunteer cannot go from “%(old)s” to “%(new)s”.")
                % {
                    "old": VolunteerStatus(old).label,
                    "new": VolunteerStatus(status).label,
                }
            )
        fresh.status = status
        fresh.status_reason = "" if status == VolunteerStatus.ACTIVE else text
        fresh.save(update_fields=["status", "status_reason", "updated_at"])
        bump_on_commit(VOLUNTEERS)  # public pages count volunteers
        record_audit(
            actor=actor,
            action=AuditAction.VOLUNTEER_CHANGED,
            unit=fresh.unit,
            object_repr=_repr(fresh),
            changes={"status": [old, status], "reason": text},
        )
    return fresh


# --- profile -----------------------------------------------------------------------------


def volunteer_update(*, actor: User, volunteer: Volunteer, data: Mapping[str, Any]) -> Volunteer:
    """Edit a volunteer. Staff with MANAGE_VOLUNTEERS: ``STAFF_FIELDS`` (a new home unit
    must be in their scope too); the volunteer themself: ``OWN_FIELDS``."""
    unknown = set(data) - STAFF_FIELDS
    if unknown:
        raise ValueError(f"volunteer_update got unexpected fields: {sorted(unknown)}")
    if can(actor, Action.MANAGE_VOLUNTEERS, volunteer.unit):
        allowed = STAFF_FIELDS
    elif actor.is_authenticated and volunteer.user_id == actor.pk:
        allowed = OWN_FIELDS
    else:
        _require_manage(actor, volunteer)  # raises 404 or 403
        allowed = frozenset()
    refused = set(data) - allowed
    if refused:
        raise PermissionDenied(
            _("You may not change: %(fields)s.") % {"fields": ", ".join(sorted(refused))}
        )
    with transaction.atomic():
        fresh = _locked(volunteer)
        errors = _Errors()
        changes: dict[str, Any] = {}
        values: dict[str, Any] = {}
        if "name" in data:
            values["name"] = _clean_name(data["name"], errors)
        if "phone" in data:
            phone = _clean_mobile(data["phone"], errors, "phone")
            if phone and phone != fresh.phone:
                _check_unique_phone(phone, errors, exclude=fresh.pk)
            values["phone"] = phone
        if "unit" in data:
            unit = _clean_unit(data["unit"], errors)
            if (
                unit is not None
                and unit.pk != fresh.unit_id
                and not can(actor, Action.MANAGE_VOLUNTEERS, unit)
            ):
                raise PermissionDenied(_("You may not move volunteers to that unit."))
            values["unit"] = unit
        if "skills" in data:
            values["skills"] = _clean_text(data["skills"], errors, "skills", 200)
        if "available_time" in data:
            values["available_time"] = _clean_text(
                data["available_time"], errors, "available_time", 100
            )
        if "guardian_name" in data:
            values["guardian_name"] = _clean_name(
                data["guardian_name"], errors, "guardian_name", required=False
            )
        if "guardian_phone" in data:
            values["guardian_phone"] = _clean_mobile(
                data["guardian_phone"], errors, "guardian_phone", required=False
            )
        if "guardian_consent" in data:
            values["guardian_consent"] = bool(data["guardian_consent"])
        errors.raise_if_any()
        if {"guardian_name", "guardian_phone", "guardian_consent"} & set(values):
            _check_guardian(
                fresh.birth_date,
                values.get("guardian_name", fresh.guardian_name),
                values.get("guardian_phone", fresh.guardian_phone),
                values.get("guardian_consent", fresh.guardian_consent),
                errors,
            )
            errors.raise_if_any()
        for field, value in values.items():
            old = getattr(fresh, field)
            if old == value:
                continue
            if field == "phone":
                fresh.phone = value
                fresh.phone_hash = hash_phone(value)
                changes["phone"] = [fresh.phone_masked, mask_phone(value)]
                fresh.phone_masked = mask_phone(value)
            elif field == "guardian_phone":
                changes[field] = [mask_phone(old), mask_phone(value)]
                fresh.guardian_phone = value
            elif field == "unit":
                changes["unit"] = [fresh.unit_id, value.pk]
                fresh.unit = value
            else:
                changes[field] = [old, value]
                setattr(fresh, field, value)
        if "categories" in data:
            new = _categories(data["categories"])
            old_ids = sorted(fresh.categories.values_list("pk", flat=True))
            new_ids = sorted(c.pk for c in new)
            if old_ids != new_ids:
                fresh.categories.set(new)
                changes["categories"] = [old_ids, new_ids]
        if not changes:
            return fresh
        try:
            with transaction.atomic():
                fresh.save()
        except IntegrityError as exc:
            raise _duplicate_phone() from exc
        if fresh.user_id is not None and ("name" in changes or "phone" in changes):
            # The login account carries the same name and phone.
            account = User.objects.select_for_update().get(pk=fresh.user_id)
            account.name = fresh.name
            account.phone = fresh.phone
            account.save(update_fields=["name", "phone"])
        bump_on_commit(VOLUNTEERS)  # public pages count volunteers
        record_audit(
            actor=actor,
            action=AuditAction.VOLUNTEER_CHANGED,
            unit=fresh.unit,
            object_repr=_repr(fresh),
            changes=changes,
        )
    return fresh


def volunteer_reveal_id(*, actor: User, volunteer: Volunteer) -> str:
    """The full ID number, for those with ``volunteers.reveal_id_number`` (or superusers)
    and VIEW scope over the home unit; each reveal is audited."""
    if not can(actor, Action.VIEW, volunteer.unit):
        raise NotFound()
    if not (actor.is_superuser or actor.has_perm("volunteers.reveal_id_number")):
        raise PermissionDenied(_("Showing full ID numbers needs a separate permission."))
    with transaction.atomic():
        record_audit(
            actor=actor,
            action=AuditAction.VOLUNTEER_ID_REVEALED,
            unit=volunteer.unit,
            object_repr=_repr(volunteer),
            changes={"id_number": volunteer.id_number_masked},
        )
    return str(volunteer.id_number)
