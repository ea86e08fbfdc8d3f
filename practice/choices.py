"""Enumerations of the practice network and the rules that go with them."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ALLOWED_PARENT_KINDS", "AuditAction", "Role", "UnitKind"]


class UnitKind(models.TextChoices):
    REGION = "region", _("Region")
    CENTRE = "centre", _("Practice centre")
    INSTITUTE = "institute", _("Practice institute")
    STATION = "station", _("Practice station")
    POINT = "point", _("Practice point")


# kind → the kinds its parent may have (None: it may be a root). The contract of API.md.
ALLOWED_PARENT_KINDS: dict[str, frozenset[str | None]] = {
    UnitKind.REGION: frozenset({None, UnitKind.REGION}),
    UnitKind.CENTRE: frozenset({None, UnitKind.REGION}),
    UnitKind.INSTITUTE: frozenset({UnitKind.CENTRE}),
    UnitKind.STATION: frozenset({UnitKind.INSTITUTE}),
    UnitKind.POINT: frozenset({UnitKind.CENTRE, UnitKind.INSTITUTE, UnitKind.STATION}),
}


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Coordinator")
    MANAGER = "manager", _("Manager")


class AuditAction(models.TextChoices):
    UNIT_CREATED = "unit.created", _("Unit created")
    UNIT_IMPORTED = "unit.imported", _("Units imported")
    UNIT_CHANGED = "unit.changed", _("Unit changed")
    UNIT_MOVED = "unit.moved", _("Unit moved")
    UNIT_DEACTIVATED = "unit.deactivated", _("Unit deactivated")
    UNIT_REACTIVATED = "unit.reactivated", _("Unit reactivated")
    UNIT_DELETED = "unit.deleted", _("Unit deleted")
    ROLE_GRANTED = "role.granted", _("Role granted")
    ROLE_REVOKED = "role.revoked", _("Role revoked")
    USER_CREATED = "user.created", _("Account created")
    USER_CHANGED = "user.changed", _("Account changed")
