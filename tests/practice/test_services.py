"""The write side of the practice network (practice/services.py), called directly."""

from typing import Any

import pytest
from django.db import connection
from django.utils import translation
from rest_framework.authtoken.models import Token

from portal.errors import NotFound, PermissionDenied, ValidationFailed
from practice import services, tree
from practice.choices import AuditAction, Role, UnitKind
from practice.models import AuditEntry, RoleAssignment, Unit, User
from tests.conftest import World
from tests.factories import PASSWORD, RoleFactory, UnitFactory

STRONG = "Lantern-harbour-42"


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def children_names(unit: Unit) -> list[str]:
    return list(unit.get_children().values_list("name", flat=True))


def assert_trees_sound(*units: Unit) -> None:
    for unit in units:
        unit.refresh_from_db()
        assert tree.tree_problems(unit.tree_id) == []


def last_audit() -> AuditEntry:
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None
    return entry


# --- unit_create -------------------------------------------------------------------------


def test_create_puts_the_unit_among_its_siblings_in_name_order(world: World):
    unit = services.unit_create(
        actor=world.coordinator,
        parent=world.centre,
        name="  三镇所 ",
        kind=UnitKind.INSTITUTE,
        division_code="350627101",
    )
    assert unit.name == "三镇所"
    assert unit.parent == world.centre
    assert unit.level == 1
    world.refresh()
    assert children_names(world.centre) == ["一镇所", "三镇所", "二镇所"]
    assert_trees_sound(world.centre)
    entry = last_audit()
    assert (entry.action, entry.actor, entry.unit) == (
        AuditAction.UNIT_CREATED,
        world.coordinator,
        unit,
    )
    assert entry.changes["division_code"] == "350627101"


def test_superuser_creates_a_new_top_level_tree(world: World):
    unit = services.unit_create(actor=world.superuser, parent=None, name="丙县中心", kind="centre")
    assert unit.parent is None
    unit.refresh_from_db()
    assert list(Unit.objects.filter(tree_id=unit.tree_id)) == [unit]
    # The existing counties keep their units (django-mptt may renumber their trees).
    assert_trees_sound(unit, world.centre, world.other_centre)
    world.refresh()
    assert world.point.get_root() == world.centre
    assert world.centre.get_descendant_count() == 6


def test_create_refuses_a_top_level_name_that_is_taken(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.unit_create(actor=world.superuser, parent=None, name="甲县中心", kind="centre")
    assert "already exists" in str(caught.value.message)


def test_create_refuses_an_invalid_division_code(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.unit_create(
            actor=world.coordinator,
            parent=world.centre,
            name="三镇所",
            kind="institute",
            division_code="3506271",
        )
    assert list(caught.value.detail) == ["division_code"]
    assert not Unit.objects.filter(name="三镇所").exists()


# --- unit_update -------------------------------------------------------------------------


def test_rename_moves_the_unit_to_its_new_place_among_siblings(world: World):
    services.unit_update(actor=world.coordinator, unit=world.town2, data={"name": "A镇所"})
    world.refresh()
    assert children_names(world.centre) == ["A镇所", "一镇所"]
    assert_trees_sound(world.centre)
    entry = last_audit()
    assert entry.action == AuditAction.UNIT_CHANGED
    assert entry.changes == {"name": ["二镇所", "A镇所"]}


def test_an_update_that_changes_nothing_writes_nothing(world: World):
    services.unit_update(actor=world.coordinator, unit=world.town, data={"name": "一镇所"})
    assert not AuditEntry.objects.exists()


def test_a_kind_change_that_would_orphan_sub_units_is_refused(world: World):
    # A region may be a root, but the institutes under 甲县中心 need a centre as parent.
    with pytest.raises(ValidationFailed) as caught:
        services.unit_update(actor=world.superuser, unit=world.centre, data={"kind": "region"})
    assert caught.value.code == "invalid_kind"
    assert "Practice institute cannot be placed under a Region" in str(caught.value.message)
    world.refresh()
    assert world.centre.kind == UnitKind.CENTRE


def test_a_kind_change_that_does_not_fit_the_parent_is_refused_on_kind(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.unit_update(actor=world.coordinator, unit=world.town, data={"kind": "station"})
    assert caught.value.code == "invalid_kind"
    assert list(caught.value.detail) == ["kind"]
    assert "Practice station cannot be placed under a Practice centre" in str(caught.value.message)
    world.refresh()
    assert world.town.kind == UnitKind.INSTITUTE


def test_a_kind_change_its_children_and_parent_accept_is_allowed(world: World):
    # 二村站 has no sub-units, and a point may sit under an institute.
    unit = services.unit_update(
        actor=world.coordinator, unit=world.station2, data={"kind": "point"}
    )
    assert unit.kind == UnitKind.POINT


# --- unit_move ---------------------------------------------------------------------------


def test_move_carries_the_whole_subtree_to_another_tree(world: World):
    services.unit_move(actor=world.superuser, unit=world.town, parent=world.other_centre)
    world.refresh()
    assert world.town.tree_id == world.other_centre.tree_id
    assert [a.name for a in world.point.get_ancestors()] == ["乙县中心", "一镇所", "一村站"]
    assert children_names(world.other_centre) == ["一镇所", "乙镇所"]
    assert children_names(world.centre) == ["二镇所"]
    assert_trees_sound(world.centre, world.other_centre)
    entry = last_audit()
    assert entry.action == AuditAction.UNIT_MOVED
    assert entry.changes == {"parent": ["甲县中心", "乙县中心"]}


def test_move_within_a_tree(world: World):
    services.unit_move(actor=world.coordinator, unit=world.station3, parent=world.town)
    world.refresh()
    assert children_names(world.town) == ["一村站", "三村站", "二村站"]
    assert children_names(world.town2) == []
    assert_trees_sound(world.centre)


def test_a_centre_moved_to_the_top_level_becomes_its_own_tree(world: World):
    region = services.unit_create(actor=world.superuser, parent=None, name="市", kind="region")
    services.unit_move(actor=world.superuser, unit=world.centre, parent=region)
    services.unit_move(actor=world.superuser, unit=world.centre, parent=None)
    world.refresh()
    assert world.centre.is_root_node()
    assert world.centre.get_descendant_count() == 6
    assert_trees_sound(world.centre, region)


@pytest.mark.parametrize("target", ["town", "station", "point"])
def test_a_unit_cannot_move_under_itself_or_its_descendants(world: World, target: str):
    # A region may hold regions, so only the cycle rule can refuse this.
    region = services.unit_create(actor=world.superuser, parent=None, name="市", kind="region")
    sub = services.unit_create(actor=world.superuser, parent=region, name="区", kind="region")
    subsub = services.unit_create(actor=world.superuser, parent=sub, name="片", kind="region")
    target_unit = {"town": region, "station": sub, "point": subsub}[target]
    with pytest.raises(ValidationFailed) as caught:
        services.unit_move(actor=world.superuser, unit=region, parent=target_unit)
    assert "under itself or one of its own sub-units" in str(caught.value.message)
    assert_trees_sound(region)
    region.refresh_from_db()
    assert region.parent is None


def test_move_refuses_a_name_taken_at_the_destination(world: World):
    UnitFactory(name="一村站", kind=UnitKind.STATION, parent=world.town2)
    world.refresh()
    with pytest.raises(ValidationFailed) as caught:
        services.unit_move(actor=world.coordinator, unit=world.station, parent=world.town2)
    assert "already exists" in str(caught.value.message)
    world.refresh()
    assert world.station.parent == world.town
    assert_trees_sound(world.centre)


def test_move_to_the_current_parent_is_a_no_op(world: World):
    services.unit_move(actor=world.coordinator, unit=world.station, parent=world.town)
    assert not AuditEntry.objects.exists()


def test_an_active_unit_cannot_move_under_an_inactive_one(world: World):
    services.unit_set_active(actor=world.coordinator, unit=world.station3, active=False)
    services.unit_set_active(actor=world.coordinator, unit=world.town2, active=False)
    with pytest.raises(ValidationFailed) as caught:
        services.unit_move(actor=world.coordinator, unit=world.station2, parent=world.town2)
    assert caught.value.code == "parent_inactive"
    # An inactive unit may go there.
    services.unit_set_active(actor=world.coordinator, unit=world.station2, active=False)
    services.unit_move(actor=world.coordinator, unit=world.station2, parent=world.town2)
    world.refresh()
    assert world.station2.parent == world.town2


@pytest.mark.parametrize(
    ("who", "unit", "parent", "error"),
    [
        ("town_manager", "station", "town", PermissionDenied),  # managers never move
        ("coordinator", "centre", None, PermissionDenied),  # own anchor
        ("coordinator", "town", None, PermissionDenied),  # top level: superuser only
        ("coordinator", "station", "other_town", PermissionDenied),  # destination elsewhere
        ("other_coordinator", "station", "other_town", NotFound),  # unit elsewhere
        ("no_role", "station", "town2", NotFound),
    ],
)
def test_move_needs_authority_over_the_unit_and_its_destination(
    world: World, who: str, unit: str, parent: str | None, error: type[Exception]
):
    with pytest.raises(error):
        services.unit_move(
            actor=getattr(world, who),
            unit=getattr(world, unit),
            parent=getattr(world, parent) if parent else None,
        )


# --- unit_set_active ---------------------------------------------------------------------


def test_deactivate_and_reactivate_write_audit_entries(world: World):
    services.unit_set_active(actor=world.station_manager, unit=world.point, active=False)
    assert last_audit().action == AuditAction.UNIT_DEACTIVATED
    services.unit_set_active(actor=world.station_manager, unit=world.point, active=True)
    assert last_audit().action == AuditAction.UNIT_REACTIVATED
    world.refresh()
    assert world.point.is_active


def test_a_unit_with_active_sub_units_cannot_be_deactivated(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.unit_set_active(actor=world.coordinator, unit=world.town, active=False)
    assert caught.value.code == "has_active_children"
    world.refresh()
    assert world.town.is_active


def test_a_unit_under_an_inactive_parent_cannot_be_reactivated(world: World):
    services.unit_set_active(actor=world.coordinator, unit=world.station3, active=False)
    services.unit_set_active(actor=world.coordinator, unit=world.town2, active=False)
    with pytest.raises(ValidationFailed) as caught:
        services.unit_set_active(actor=world.coordinator, unit=world.station3, active=True)
    assert caught.value.code == "parent_inactive"


def test_create_under_an_inactive_parent_is_refused(world: World):
    services.unit_set_active(actor=world.coordinator, unit=world.station3, active=False)
    with pytest.raises(ValidationFailed) as caught:
        services.unit_create(
            actor=world.coordinator, parent=world.station3, name="点", kind=UnitKind.POINT
        )
    assert caught.value.code == "parent_inactive"
    assert "三村站" in str(caught.value.message)


# --- unit_delete -------------------------------------------------------------------------


def test_delete_a_leaf(world: World):
    RoleFactory(unit=world.point)
    services.unit_delete(actor=world.coordinator, unit=world.point)
    assert not Unit.objects.filter(name="一村点").exists()
    assert not RoleAssignment.objects.filter(unit_id=world.point.pk).exists()
    entry = last_audit()
    assert (entry.action, entry.object_repr, entry.unit) == (
        AuditAction.UNIT_DELETED,
        "一村点",
        world.station,
    )
    assert_trees_sound(world.centre)


def test_delete_refuses_a_unit_with_sub_units(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.unit_delete(actor=world.coordinator, unit=world.town)
    assert caught.value.code == "has_children"
    assert "3 sub-units" in str(caught.value.message)
    assert Unit.objects.filter(pk=world.town.pk).exists()


def test_superuser_may_delete_a_root(world: World):
    lone = services.unit_create(actor=world.superuser, parent=None, name="丙县", kind="centre")
    services.unit_delete(actor=world.superuser, unit=lone)
    assert not Unit.objects.filter(pk=lone.pk).exists()


# --- roles -------------------------------------------------------------------------------


def test_grant_gives_the_user_the_subtree(world: World):
    assignment = services.role_grant(
        actor=world.coordinator, user=world.recruit, unit=world.town2, role=Role.MANAGER
    )
    assert assignment.granted_by == world.coordinator
    entry = last_audit()
    assert (entry.action, entry.unit) == (AuditAction.ROLE_GRANTED, world.town2)
    assert entry.changes == {"user": "recruit", "role": "manager"}


@pytest.mark.parametrize(
    ("who", "unit"),
    [
        ("town_manager", "station"),  # managers do not grant
        ("other_coordinator", "town"),
        ("coordinator", "other_town"),
        ("no_role", "town"),
    ],
)
def test_only_a_coordinator_at_or_above_the_unit_grants(world: World, who: str, unit: str):
    with pytest.raises(PermissionDenied):
        services.role_grant(
            actor=getattr(world, who), user=world.no_role, unit=getattr(world, unit), role="manager"
        )
    assert not RoleAssignment.objects.filter(user=world.no_role).exists()


def test_a_coordinator_may_grant_on_their_own_unit(world: World):
    services.role_grant(
        actor=world.coordinator, user=world.recruit, unit=world.centre, role=Role.COORDINATOR
    )
    assert RoleAssignment.objects.filter(user=world.recruit, unit=world.centre).exists()


def test_the_same_grant_twice_is_refused(world: World):
    with pytest.raises(ValidationFailed):
        services.role_grant(
            actor=world.coordinator, user=world.town_manager, unit=world.town, role="manager"
        )
    assert RoleAssignment.objects.filter(user=world.town_manager).count() == 1


def test_a_disabled_account_gets_no_role(world: World):
    world.recruit.is_active = False
    world.recruit.save()
    with pytest.raises(ValidationFailed) as caught:
        services.role_grant(
            actor=world.coordinator, user=world.recruit, unit=world.town, role="manager"
        )
    assert caught.value.code == "user_inactive"


def test_revoke(world: World):
    assignment = RoleAssignment.objects.get(user=world.station_manager)
    services.role_revoke(actor=world.coordinator, assignment=assignment)
    assert not RoleAssignment.objects.filter(user=world.station_manager).exists()
    entry = last_audit()
    assert (entry.action, entry.unit) == (AuditAction.ROLE_REVOKED, world.station)


def test_nobody_revokes_their_own_role_but_a_superuser(world: World):
    own = RoleAssignment.objects.get(user=world.coordinator)
    with pytest.raises(ValidationFailed) as caught:
        services.role_revoke(actor=world.coordinator, assignment=own)
    assert caught.value.code == "own_role"
    superuser_role = RoleFactory(user=world.superuser, unit=world.town, role=Role.COORDINATOR)
    services.role_revoke(actor=world.superuser, assignment=superuser_role)
    assert not RoleAssignment.objects.filter(pk=superuser_role.pk).exists()


def test_a_manager_cannot_revoke(world: World):
    with pytest.raises(PermissionDenied):
        services.role_revoke(
            actor=world.town_manager,
            assignment=RoleAssignment.objects.get(user=world.station_manager),
        )


# --- accounts ----------------------------------------------------------------------------


def raw_phone_column(user: User) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone FROM {User._meta.db_table} WHERE id = %s", [user.pk])  # noqa: S608
        return str(cursor.fetchone()[0])


def test_create_an_account_with_a_role(world: World):
    user = services.user_create(
        actor=world.coordinator,
        username=" wang ",
        password=STRONG,
        name="王五",
        phone="+86 138-1234-5678",
        unit=world.town2,
        role=Role.MANAGER,
    )
    user.refresh_from_db()
    assert user.username == "wang"
    assert user.check_password(STRONG)
    assert user.created_by == world.coordinator
    assert user.phone == "13812345678"
    assert user.phone_masked == "138****5678"
    raw = raw_phone_column(user)
    assert "12345678" not in raw
    assert "5678" not in raw
    assert RoleAssignment.objects.get(user=user).unit == world.town2
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [AuditAction.USER_CREATED, AuditAction.ROLE_GRANTED]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1A!", "too short"),
        ("1234567890123", "entirely numeric"),
        ("password123", "too common"),
        ("zhangsan-2024", "too similar"),
    ],
)
def test_a_weak_password_is_refused(world: World, password: str, why: str):
    with pytest.raises(ValidationFailed) as caught:
        services.user_create(actor=world.coordinator, username="zhangsan", password=password)
    assert caught.value.code == "weak_password"
    assert any(why in m for m in caught.value.detail["password"])
    assert not User.objects.filter(username="zhangsan").exists()


@pytest.mark.parametrize("phone", ["1381234567", "23812345678", "138-1234-567x"])
def test_a_wrong_phone_number_is_refused(world: World, phone: str):
    with pytest.raises(ValidationFailed) as caught:
        services.user_create(
            actor=world.coordinator, username="zhangsan", password=STRONG, phone=phone
        )
    assert list(caught.value.detail) == ["phone"]


def test_a_taken_username_is_refused(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.user_create(actor=world.coordinator, username="townmgr", password=STRONG)
    assert "username" in caught.value.detail


@pytest.mark.parametrize("who", ["town_manager", "no_role"])
def test_only_coordinators_create_accounts(world: World, who: str):
    with pytest.raises(PermissionDenied):
        services.user_create(actor=getattr(world, who), username="zhangsan", password=STRONG)


def test_an_account_cannot_get_a_role_outside_the_creators_area(world: World):
    with pytest.raises(PermissionDenied):
        services.user_create(
            actor=world.coordinator,
            username="zhangsan",
            password=STRONG,
            unit=world.other_town,
            role=Role.MANAGER,
        )
    assert not User.objects.filter(username="zhangsan").exists()


def test_unit_and_role_go_together(world: World):
    with pytest.raises(ValidationFailed):
        services.user_create(
            actor=world.coordinator, username="zhangsan", password=STRONG, unit=world.town
        )


def test_disabling_an_account_deletes_its_api_token(world: World):
    Token.objects.create(user=world.town_manager)
    services.user_update(
        actor=world.coordinator, user=world.town_manager, data={"is_active": False}
    )
    world.refresh()
    assert not world.town_manager.is_active
    assert not Token.objects.filter(user=world.town_manager).exists()
    entry = last_audit()
    assert entry.action == AuditAction.USER_CHANGED
    assert entry.changes == {"is_active": [True, False]}


def test_a_phone_change_is_audited_without_the_number(world: World):
    services.user_update(
        actor=world.coordinator, user=world.town_manager, data={"phone": "13912345678"}
    )
    world.refresh()
    assert world.town_manager.phone == "13912345678"
    assert last_audit().changes == {"phone": "changed"}
    assert "13912345678" not in str(AuditEntry.objects.values_list("changes", flat=True)[0])


def test_a_password_reset_is_validated(world: World):
    with pytest.raises(ValidationFailed):
        services.user_update(
            actor=world.coordinator, user=world.town_manager, data={"password": "123"}
        )
    world.refresh()
    assert world.town_manager.check_password(PASSWORD)
    services.user_update(
        actor=world.coordinator, user=world.town_manager, data={"password": STRONG}
    )
    world.refresh()
    assert world.town_manager.check_password(STRONG)


def test_nobody_disables_their_own_account(world: World):
    with pytest.raises(ValidationFailed) as caught:
        services.user_update(
            actor=world.coordinator, user=world.coordinator, data={"is_active": False}
        )
    assert caught.value.code == "own_account"


@pytest.mark.parametrize(
    ("who", "target"),
    [
        ("other_coordinator", "town_manager"),
        ("town_manager", "station_manager"),  # managers manage no accounts
        ("coordinator", "no_role"),  # not theirs: no role in the area, not created by them
        ("coordinator", "superuser"),
    ],
)
def test_accounts_outside_the_area_are_not_found(world: World, who: str, target: str):
    with pytest.raises(NotFound):
        services.user_update(
            actor=getattr(world, who), user=getattr(world, target), data={"name": "改"}
        )


def test_an_account_with_roles_elsewhere_needs_a_coordinator_above_both(world: World):
    RoleFactory(user=world.town_manager, unit=world.other_town)
    world.refresh()
    with pytest.raises(PermissionDenied):
        services.user_update(
            actor=world.coordinator, user=world.town_manager, data={"is_active": False}
        )
    services.user_update(actor=world.superuser, user=world.town_manager, data={"is_active": False})


def test_a_coordinator_manages_the_accounts_they_created(world: World):
    user = services.user_create(actor=world.coordinator, username="zhangsan", password=STRONG)
    services.user_update(actor=world.coordinator, user=user, data={"name": "张三"})
    user.refresh_from_db()
    assert user.name == "张三"
