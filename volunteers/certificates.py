"""Service-record certificates (志愿服务记录证明): issuing them and finding them again.

A certificate is a snapshot (``Certificate``): what its PDF printed is kept, so
``/verify/<number>/`` shows exactly that, whatever changes later. It shows only
*confirmed* hours, and the service content is summed from confirmed records.

Downloading does not pile up certificates: :func:`certificate_current` hands out the
volunteer's latest certificate while everything it shows is unchanged, and issues a new
one (:func:`certificate_issue`, audited) as soon as a figure, the name or the issuing
unit's contact differ. Every certificate ever issued stays verifiable.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import unicodedata
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from portal.errors import Conflict, NotFound, ValidationFailed
from practice.choices import AuditAction, UnitKind
from practice.models import Unit
from practice.permissions import Action, require, scope_q
from practice.selectors import unit_ancestors
from practice.services import record_audit

from .choices import RecordStatus, VolunteerStatus
from .models import Certificate, ServiceRecord, Volunteer

__all__ = [
    "NUMBER_PREFIX",
    "certificate_by_number",
    "certificate_current",
    "certificate_issue",
    "default_issuing_unit",
    "format_hours",
    "normalize_number",
    "service_summary",
    "volunteer_for_certificate",
]

NUMBER_PREFIX = "ZYZM"
# RFC 4648 base32 without padding: no 0/1/8/9, so a number read aloud or typed from paper
# cannot confuse O with 0 or I with 1. 12 characters: 60 random bits.
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_RANDOM_LENGTH = 12
# What a typed number may be after normalizing (the length bounds the model's field).
_NUMBER_SHAPE = re.compile(r"[A-Z0-9]{1,32}", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-]")
# Volunteers in these states have no certificate: not (or not yet) a registered volunteer.
_NO_CERTIFICATE = (VolunteerStatus.PENDING, VolunteerStatus.REJECTED)
# The language a certificate is written in, whoever asks for it.
CERTIFICATE_LANGUAGE = "zh-hans"


def _new_number(today: dt.date) -> str:
    tail = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return f"{NUMBER_PREFIX}{today:%Y%m%d}{tail}"


def normalize_number(raw: str) -> str | None:
    """A certificate number as typed (any case, full-width, spaces or dashes) → its
    canonical form, or ``None`` when it cannot be one (wrong characters or length)."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw[:100])).upper()
    return text if _NUMBER_SHAPE.fullmatch(text) else None


def certificate_by_number(raw: str) -> Certificate | None:
    """The certificate with this number (case-insensitive), or ``None``; one query."""
    number = normalize_number(raw)
    if number is None:
        return None
    return Certificate.objects.select_related("issuing_unit").filter(number=number).first()


def volunteer_for_certificate(user: Any, pk: int) -> Volunteer:
    """The volunteer ``user`` may get the certificate of: their own record, or one whose
    home unit is in their staff view; anything else is not found (404)."""
    own = Volunteer.objects.filter(pk=pk, user=user) if user.is_authenticated else None
    scoped = Volunteer.objects.filter(scope_q(user, Action.VIEW, prefix="unit__"), pk=pk)
    queryset = scoped if own is None else (scoped | own)
    volunteer = queryset.select_related("unit").first()
    if volunteer is None:
        raise NotFound()
    return volunteer


def format_hours(hours: Decimal) -> str:
    """``12.50`` → ``12.5``, ``30.00`` → ``30``."""
    text = format(hours.quantize(Decimal("0.01")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def service_summary(volunteer: Volunteer) -> str:
    """The confirmed hours by platform, most first: "理论宣讲 12.5小时（3次）；…" (one
    query). Records without a platform count as "other"."""
    rows = (
        ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.CONFIRMED)
        .values("category__name")
        .annotate(total=Sum("hours"), count=Count("pk"))
        .order_by("-total", "category__name")
    )
    parts = [
        ngettext(
            "%(category)s %(hours)s hours (%(count)d time)",
            "%(category)s %(hours)s hours (%(count)d times)",
            row["count"],
        )
        % {
            "category": row["category__name"] or pgettext("service platform", "Other"),
            "hours": format_hours(row["total"]),
            "count": row["count"],
        }
        for row in rows
    ]
    return pgettext("list separator", "; ").join(parts)


def default_issuing_unit(unit: Unit) -> Unit:
    """The volunteer's county centre: the root-most centre at or above ``unit``, else the
    root of its tree (two queries)."""
    chain = [*unit_ancestors(unit), unit]
    top = next((u for u in chain if u.kind == UnitKind.CENTRE), chain[0])
    return unit if top.pk == unit.pk else Unit.objects.get(pk=top.pk)


def _issuing_unit(volunteer: Volunteer, issuing_unit: Unit | None) -> Unit:
    if issuing_unit is None:
        return default_issuing_unit(volunteer.unit)
    home = volunteer.unit
    if not (
        issuing_unit.tree_id == home.tree_id and issuing_unit.lft <= home.lft <= issuing_unit.rght
    ):
        raise ValidationFailed(
            detail={
                "issuing_unit": [_("The issuing unit must be the volunteer's unit or above it.")]
            }
        )
    return issuing_unit


def _check(actor: Any, volunteer: Volunteer) -> None:
    """The volunteer themself, or staff who see the volunteer's home unit (else 404)."""
    if not (actor.is_authenticated and volunteer.user_id == actor.pk):
        require(actor, Action.VIEW, volunteer.unit)
    if volunteer.status in _NO_CERTIFICATE:
        raise Conflict(
            _(
                "A certificate is issued only to registered volunteers; this registration "
                "is awaiting approval or was not approved."
            ),
            code="volunteer_not_registered",
        )


def _contact(unit: Unit) -> str:
    return " ".join(part for part in (unit.contact_name, unit.contact_phone) if part)[:100]


def _snapshot(volunteer: Volunteer, unit: Unit) -> dict[str, Any]:
    with translation.override(CERTIFICATE_LANGUAGE):
        content = service_summary(volunteer)
    return {
        "issuing_unit": unit,
        "issuing_unit_name": unit.name,
        "name": volunteer.name,
        "id_number_masked": volunteer.id_number_masked,
        "volunteer_number": volunteer.number or "",
        "hours": volunteer.confirmed_hours,
        "content": content,
        "issuer_contact": _contact(unit),
    }


def _locked(volunteer: Volunteer) -> Volunteer:
    """The volunteer re-read under its row lock: the figures the services keep on it do
    not move while the certificate is written."""
    locked = Volunteer.objects.select_for_update(of=("self",)).select_related("unit")
    return locked.get(pk=volunteer.pk)


def _issue(*, actor: Any, volunteer: Volunteer, snapshot: dict[str, Any]) -> Certificate:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    number=_new_number(timezone.localdate()),
                    volunteer=volunteer,
                    issued_by=actor if actor.is_authenticated else None,
                    **snapshot,
                )
        except IntegrityError:  # the 1-in-2^60 clash of numbers: draw again
            continue
        break
    else:  # pragma: no cover - three clashes in a row do not happen
        raise Conflict()
    record_audit(
        actor=actor,
        action=AuditAction.CERTIFICATE_ISSUED,
        unit=volunteer.unit,
        object_repr=f"{certificate.number} · {snapshot['volunteer_number']}",
        changes={
            "number": certificate.number,
            "volunteer": snapshot["volunteer_number"],
            "hours": snapshot["hours"],
            "issuing_unit": snapshot["issuing_unit"].name,
        },
    )
    return certificate


def certificate_issue(
    *, actor: Any, volunteer: Volunteer, issuing_unit: Unit | None = None
) -> Certificate:
    """Issue a new certificate of ``volunteer``'s confirmed service, by ``issuing_unit``
    (default: the volunteer's county centre; else a unit at or above their home unit).

    Who may: the volunteer themself, or staff whose view covers the volunteer's home unit
    (404 otherwise). A pending or rejected registration gets none (409).
    """
    with transaction.atomic():
        volunteer = _locked(volunteer)
        _check(actor, volunteer)
        unit = _issuing_unit(volunteer, issuing_unit)
        return _issue(actor=actor, volunteer=volunteer, snapshot=_snapshot(volunteer, unit))


def certificate_current(*, actor: Any, volunteer: Volunteer) -> Certificate:
    """The certificate to hand out now: the volunteer's latest one (from the default
    issuing unit) while everything it shows is still current, else a newly issued one.
    Same permissions as :func:`certificate_issue`."""
    with transaction.atomic():
        volunteer = _locked(volunteer)
        _check(actor, volunteer)
        snapshot = _snapshot(volunteer, default_issuing_unit(volunteer.unit))
        latest = volunteer.certificates.order_by("-issued_at", "-pk").first()
        if (
            latest is not None
            and all(
                getattr(latest, field) == value
                for field, value in snapshot.items()
                if field != "issuing_unit"
            )
            and latest.issuing_unit_id == snapshot["issuing_unit"].pk
        ):
            return latest
        return _issue(actor=actor, volunteer=volunteer, snapshot=snapshot)
