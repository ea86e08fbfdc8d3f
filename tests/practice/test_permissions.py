"""The policy (practice/permissions.py): who may do what where.

The ``world`` fixture (tests/conftest.py) has a coordinator on county A's centre, managers on
one of its institutes (``town``) and on a station below it, a coordinator on county B, an
account without roles and a superuser.
"""

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from portal.errors import NotFound, PermissionDenied
from practice import services
from practice.choices import Role
from practice.models import Unit
from practice.permissions import Action, can, grants_of, has_any_role, require
from tests.conftest import World
from tests.factories import RoleFactory

ALL_UNITS = [
    "centre",
    "town",
    "town2",
    "station",
    "station2",
    "station3",
    "point",
    "other_centre",
    "other_town",
    "other_station",
]
COUNTY_A = ALL_UNITS[:7]
TOWN_SUBTREE = ["town", "station", "station2", "point"]
NON_STRICT = [Action.VIEW, Action.CHANGE, Action.ADD_CHILD, Action.MANAGE_ROLES]
# A manager runs their unit: its details and sub-units, its volunteers and teams, the hours
# served there (recording and confirming them) and its points shop — not roles, accounts,
# moves, deletions, or the points rules (award, deduct, rate), which are coordinators'.
MANAGER_ACTIONS = {
    Action.VIEW,
    Action.CHANGE,
    Action.ADD_CHILD,
    Action.MANAGE_VOLUNTEERS,
    Action.MANAGE_TEAMS,
    Action.RECORD_HOURS,
    Action.CONFIRM_HOURS,
    Action.REDEEM_POINTS,
    Action.MANAGE_MENU,
    Action.FILE_REQUEST,
}
STRICT = {Action.MOVE, Action.DELETE}


def _user(world: World, who: str | None) -> Any:
    return AnonymousUser() if who is None else getattr(world, who)


def _expected(who: str | None, action: Action, unit: str) -> bool:
    """The policy of the brief, written out independently of the implementation."""
    if who == "superuser":
        return True
    if who == "coordinator":
        if unit not in COUNTY_A:
            return False
        return unit != "centre" or action not in STRICT
    if who == "other_coordinator":
        if unit not in ("other_centre", "other_town", "other_station"):
            return False
        return unit != "other_centre" or action not in STRICT
    if who == "town_manager":
        return unit in TOWN_SUBTREE and action in MANAGER_ACTIONS
    if who == "station_manager":
        return unit in ("station", "point") and action in MANAGER_ACTIONS
    return False  # anonymous, no role


USERS = [
    None,
    "no_role",
    "superuser",
    "coordinator",
    "other_coordinator",
    "town_manager",
    "station_manager",
]


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", list(Action))
def test_can_matches_the_policy_on_every_unit(world: World, who: str | None, action: Action):
    user = _user(world, who)
    answers = {name: can(user, action, getattr(world, name)) for name in ALL_UNITS}
    assert answers == {name: _expected(who, action, name) for name in ALL_UNITS}


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", list(Action))
def test_scoped_queryset_agrees_with_can(world: World, who: str | None, action: Action):
    """A list (the queryset) and a detail check (``can``) never disagree."""
    user = _user(world, who)
    listed = set(Unit.objects.for_user(user, action).values_list("name", flat=True))
    assert listed == {
        getattr(world, name).name for name in ALL_UNITS if _expected(who, action, name)
    }


@pytest.mark.parametrize("action", list(Action))
def test_only_a_superuser_may_act_at_the_top_level(world: World, action: Action):
    assert can(world.superuser, action, None)
    for who in USERS:
        if who != "superuser":
            assert not can(_user(world, who), action, None), who


def test_a_disabled_account_loses_every_grant(world: World):
    world.coordinator.is_active = False
    assert not can(world.coordinator, Action.VIEW, world.town)
    assert not Unit.objects.for_user(world.coordinator, Action.VIEW).exists()
    world.superuser.is_active = False
    assert not can(world.superuser, Action.VIEW, world.town)


def test_a_role_on_a_leaf_covers_it_but_never_allows_moving_or_deleting_it(world: World):
    leaf_coordinator = RoleFactory(unit=world.point, role=Role.COORDINATOR).user
    assert can(leaf_coordinator, Action.CHANGE, world.point)
    assert can(leaf_coordinator, Action.MANAGE_ROLES, world.point)
    assert not can(leaf_coordinator, Action.DELETE, world.point)
    assert not can(leaf_coordinator, Action.MOVE, world.point)
    assert not can(leaf_coordinator, Action.VIEW, world.station)


def test_two_roles_add_up(world: World):
    RoleFactory(user=world.town_manager, unit=world.other_town, role=Role.COORDINATOR)
    world.refresh()
    user = world.town_manager
    assert can(user, Action.VIEW, world.station)
    assert not can(user, Action.DELETE, world.station)  # manager there
    assert can(user, Action.DELETE, world.other_station)  # coordinator there
    assert not can(user, Action.VIEW, world.other_centre)


@pytest.mark.parametrize(
    ("who", "unit", "error"),
    [
        ("no_role", "town", NotFound),
        ("other_coordinator", "town", NotFound),
        ("station_manager", "town", NotFound),  # an ancestor is outside a manager's scope
        ("town_manager", "station", PermissionDenied),  # in scope, role does not allow it
        ("coordinator", "centre", PermissionDenied),  # own anchor: needs a strict ancestor
    ],
)
def test_require_says_not_found_outside_the_scope_and_forbidden_inside(
    world: World, who: str, unit: str, error: type[Exception]
):
    with pytest.raises(error):
        require(getattr(world, who), Action.DELETE, getattr(world, unit))


def test_require_lets_an_allowed_action_through(world: World):
    require(world.coordinator, Action.DELETE, world.point)
    require(world.station_manager, Action.ADD_CHILD, world.point)


def test_require_at_the_top_level_is_forbidden_not_missing(world: World):
    with pytest.raises(PermissionDenied):
        require(world.coordinator, Action.ADD_CHILD, None)


def test_visible_units_are_the_active_ones_plus_inactive_ones_in_scope(world: World):
    for unit in (world.point, world.other_station):
        services.unit_set_active(actor=world.superuser, unit=unit, active=False)

    def visible(user: Any) -> set[str]:
        return set(Unit.objects.visible_to(user).values_list("name", flat=True))

    everything = {u.name for u in Unit.objects.all()}
    public = everything - {"一村点", "乙村站"}
    assert visible(AnonymousUser()) == public
    assert visible(world.no_role) == public
    assert visible(world.coordinator) == public | {"一村点"}
    assert visible(world.station_manager) == public | {"一村点"}
    assert visible(world.other_coordinator) == public | {"乙村站"}
    assert visible(world.superuser) == everything


def test_has_any_role(world: World):
    assert has_any_role(world.coordinator, Role.COORDINATOR)
    assert not has_any_role(world.town_manager, Role.COORDINATOR)
    assert has_any_role(world.town_manager)
    assert not has_any_role(world.no_role)
    assert not has_any_role(AnonymousUser())
    assert has_any_role(world.superuser, Role.COORDINATOR)


def test_grants_are_read_once_per_user_object(world: World, django_assert_num_queries: Any):
    with django_assert_num_queries(1):
        grants_of(world.coordinator)
        can(world.coordinator, Action.VIEW, world.town)
        can(world.coordinator, Action.DELETE, world.town2)


def test_a_new_grant_takes_effect_on_the_granted_user_object(world: World):
    user = world.recruit
    assert not can(user, Action.VIEW, world.town2)  # grants now cached (empty)
    services.role_grant(actor=world.coordinator, user=user, unit=world.town2, role=Role.MANAGER)
    assert can(user, Action.VIEW, world.town2)


def test_a_role_follows_its_unit_when_the_unit_moves(world: World):
    services.unit_move(actor=world.superuser, unit=world.town, parent=world.other_centre)
    world.refresh()
    # The manager still runs the same institute and its stations, now in county B.
    assert can(world.town_manager, Action.CHANGE, world.station)
    assert can(world.station_manager, Action.CHANGE, world.point)
    # County A's coordinator lost them; county B's coordinator gained them.
    assert not can(world.coordinator, Action.VIEW, world.town)
    assert not can(world.coordinator, Action.VIEW, world.point)
    assert can(world.other_coordinator, Action.DELETE, world.point)
    assert can(world.other_coordinator, Action.MOVE, world.town)
