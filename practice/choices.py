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
    VOLUNTEER_REGISTERED = "volunteer.registered", _("Volunteer registered")
    VOLUNTEERS_IMPORTED = "volunteer.imported", _("Volunteers imported")
    VOLUNTEER_APPROVED = "volunteer.approved", _("Volunteer approved")
    VOLUNTEER_REJECTED = "volunteer.rejected", _("Volunteer registration rejected")
    VOLUNTEER_CHANGED = "volunteer.changed", _("Volunteer changed")
    VOLUNTEER_ID_REVEALED = "volunteer.id_revealed", _("Volunteer's ID number shown")
    TEAM_CREATED = "team.created", _("Team created")
    TEAM_CHANGED = "team.changed", _("Team changed")
    TEAM_MEMBER_ADDED = "team.member_added", _("Team member added")
    TEAM_MEMBER_REMOVED = "team.member_removed", _("Team member removed")
    RECORD_CREATED = "record.created", _("Service hours recorded")
    RECORD_CONFIRMED = "record.confirmed", _("Service hours confirmed")
    RECORD_VOIDED = "record.voided", _("Service hours voided")
    POINTS_CHANGED = "points.changed", _("Points changed")
    POINTS_RATE_SET = "points.rate_set", _("Points rate set")
    CERTIFICATE_ISSUED = "certificate.issued", _("Certificate issued")
    MENU_ITEM_CREATED = "menu.created", _("Menu item created")
    MENU_ITEM_CHANGED = "menu.changed", _("Menu item changed")
    ACTIVITY_CREATED = "activity.created", _("Activity created")
    ACTIVITY_CHANGED = "activity.changed", _("Activity changed")
    ACTIVITY_SUBMITTED = "activity.submitted", _("Activity submitted for review")
    ACTIVITY_APPROVED = "activity.approved", _("Activity approved")
    ACTIVITY_RETURNED = "activity.returned", _("Activity returned")
