"""Accounts and grants: scope covers people as it covers units, and nobody acts on an equal.

The permission matrix: for a caller (a town coordinator, a county coordinator, a town
manager, a superuser) and a target account in every relation to the caller (same unit,
below, above, another county, a superuser, role-less accounts created here and elsewhere,
an account with roles in two counties), which operations are allowed and which are refused
— through the API and through the pages. The policy is ``practice.permissions``
("accounts"); docs/api.md ("Roles and users") states it for clients.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portal.errors import ValidationFailed
from practice import services
from practice.choices import Role
from practice.models import RoleAssignment, Unit, User
from tests.conftest import World
from tests.factories import PASSWORD, RoleFactory, UserFactory

Api = Callable[..., APIClient]

USERS = "/api/v1/users/"
ROLES = "/api/v1/roles/"
STRONG = "Lantern-harbour-42"
NEWER = "Quiet-meadow-river-77"


@dataclass
class People:
    """The callers and targets of the matrix, around ``world``'s two counties.

    ``town_coord`` coordinates 一镇所 (town). Relative to them (and "at or above one's
    anchor" includes every role on 一镇所 itself):
    ``peer`` is another coordinator of 一镇所; ``world.town_manager`` manages 一镇所;
    ``station_coord`` coordinates 一村站 (below); ``world.station_manager`` manages 一村站;
    ``world.coordinator`` coordinates the county centre (above); ``world.other_coordinator``
    is in county B; ``two_counties`` manages 二村站 and 乙村站; ``fresh_mine`` was created by
    ``town_coord``, ``fresh_below`` by ``station_coord``, ``fresh_peer`` by ``peer`` and
    ``fresh_elsewhere`` by ``world.other_coordinator`` — none holds a role yet.
    """

    town_coord: User
    peer: User
    station_coord: User
    two_counties: User
    fresh_mine: User
    fresh_below: User
    fresh_peer: User
    fresh_elsewhere: User


@pytest.fixture
def people(world: World) -> People:
    def coordinator(username: str, unit: Unit) -> User:
        user = cast(User, UserFactory(username=username))
        RoleFactory(user=user, unit=unit, role=Role.COORDINATOR)
        return user

    town_coord = coordinator("towncoord", world.town)
    peer = coordinator("peer", world.town)
    station_coord = coordinator("stationcoord", world.station)
    two_counties = RoleFactory(user=UserFactory(username="twocounties"), unit=world.station2).user
    RoleFactory(user=two_counties, unit=world.other_station)
    p = People(
        town_coord=town_coord,
        peer=peer,
        station_coord=station_coord,
        two_counties=two_counties,
        fresh_mine=UserFactory(username="freshmine", created_by=town_coord),
        fresh_below=UserFactory(username="freshbelow", created_by=station_coord),
        fresh_peer=UserFactory(username="freshpeer", created_by=peer),
        fresh_elsewhere=UserFactory(username="freshelse", created_by=world.other_coordinator),
    )
    for user in [*vars(p).values(), *User.objects.filter(username__in=WORLD_USERS)]:
        user.phone = "13912345678"
        user.save()
    world.refresh()
    return p


WORLD_USERS = ["coord", "townmgr", "stationmgr", "othercoord", "norole", "recruit", "root"]


def target(world: World, people: People, name: str) -> User:
    return getattr(people, name, None) or getattr(world, name)


def caller(world: World, people: People, name: str) -> User:
    return User.objects.get(pk=target(world, people, name).pk)


# What each outcome means for each operation, as HTTP statuses.
#   manage: the caller manages the account — every operation is allowed;
#   see:    the caller sees it (it holds a role in their area) but stands at or below it;
#   none:   out of reach — indistinguishable from an account that does not exist.
OUTCOMES = {
    "manage": {"read": 200, "edit": 200, "grant": 201},
    "see": {"read": 200, "edit": 403, "grant": 400},
    "none": {"read": 404, "edit": 404, "grant": 400},
}

# (caller, target) → outcome. Each row names the relation it covers.
MATRIX = [
    # A town coordinator ...
    ("town_coord", "peer", "see"),  # a coordinator on the same unit: an equal
    ("town_coord", "town_manager", "see"),  # a manager on the same unit: at their anchor
    ("town_coord", "station_coord", "manage"),  # a coordinator below
    ("town_coord", "station_manager", "manage"),  # a manager below
    ("town_coord", "coordinator", "none"),  # the county coordinator above
    ("town_coord", "other_coordinator", "none"),  # another county
    ("town_coord", "superuser", "none"),
    ("town_coord", "no_role", "none"),  # role-less, created by nobody here
    ("town_coord", "fresh_mine", "manage"),  # role-less, created by the caller
    ("town_coord", "fresh_below", "manage"),  # role-less, created by a coordinator below
    ("town_coord", "fresh_peer", "none"),  # role-less, created by an equal
    ("town_coord", "fresh_elsewhere", "none"),  # role-less, created in another county
    ("town_coord", "two_counties", "see"),  # a role here and one in another county
    # The county coordinator stands above the whole town ...
    ("coordinator", "town_coord", "manage"),
    ("coordinator", "peer", "manage"),
    ("coordinator", "fresh_peer", "manage"),  # created by a coordinator below them
    ("coordinator", "recruit", "manage"),  # created by themselves
    ("coordinator", "other_coordinator", "none"),
    ("coordinator", "fresh_elsewhere", "none"),
    ("coordinator", "superuser", "none"),
    ("coordinator", "two_counties", "see"),  # ... but not over county B
    # ... county B's coordinator over nothing of county A ...
    ("other_coordinator", "town_coord", "none"),
    ("other_coordinator", "two_counties", "see"),
    ("other_coordinator", "fresh_elsewhere", "manage"),
    # ... a manager over no account at all ...
    ("town_manager", "station_manager", "none"),
    ("town_manager", "fresh_mine", "none"),
    # ... and a superuser over every other account.
    ("superuser", "coordinator", "manage"),
    ("superuser", "two_counties", "manage"),
    ("superuser", "no_role", "manage"),
]


def _grant_unit(world: World, who: str) -> Unit:
    """A unit where the caller may grant roles and no target holds one yet."""
    return world.other_town if who == "other_coordinator" else world.point


@pytest.mark.parametrize(("who", "whom", "outcome"), MATRIX)
def test_read_an_account(world: World, people: People, api: Api, who: str, whom: str, outcome: str):
    account = target(world, people, whom)
    response = api(caller(world, people, who)).get(f"{USERS}{account.pk}/")
    assert response.status_code == OUTCOMES[outcome]["read"], response.content
    if outcome != "none":
        body = response.json()
        assert body["manageable"] is (outcome == "manage")
        assert "13912345678" not in response.content.decode()


@pytest.mark.parametrize(("who", "whom", "outcome"), MATRIX)
@pytest.mark.parametrize(
    "change",
    [{"password": NEWER}, {"is_active": False}, {"phone": "13800001111"}, {"name": "改名"}],
    ids=["password", "disable", "phone", "name"],
)
def test_change_an_account(
    world: World,
    people: People,
    api: Api,
    who: str,
    whom: str,
    outcome: str,
    change: dict[str, Any],
):
    account = target(world, people, whom)
    response = api(caller(world, people, who)).patch(f"{USERS}{account.pk}/", change)
    assert response.status_code == OUTCOMES[outcome]["edit"], response.content
    fresh = User.objects.get(pk=account.pk)
    changed = (
        fresh.check_password(NEWER),
        not fresh.is_active,
        fresh.phone == "13800001111",
        fresh.name == "改名",
    )
    assert any(changed) is (outcome == "manage")
    if outcome != "manage":
        assert set(response.json()) == {"code", "message", "detail"}


@pytest.mark.parametrize(("who", "whom", "outcome"), MATRIX)
def test_grant_a_role_to_an_account(
    world: World, people: People, api: Api, who: str, whom: str, outcome: str
):
    account = target(world, people, whom)
    unit = _grant_unit(world, who)
    body = {"user": account.pk, "unit": unit.pk, "role": "manager"}
    response = api(caller(world, people, who)).post(ROLES, body)
    expected = OUTCOMES[outcome]["grant"]
    if who == "town_manager":
        expected = 403  # managers grant nothing
    assert response.status_code == expected, response.content
    granted = RoleAssignment.objects.filter(user=account, unit=unit, role="manager").exists()
    assert granted is (expected == 201)
    if expected == 400:
        # Exactly what an id that names no account at all gets: no enumeration.
        unknown = api(caller(world, people, who)).post(ROLES, {**body, "user": 987654})
        assert response.json()["detail"]["user"] == [
            m.replace("987654", str(account.pk)) for m in unknown.json()["detail"]["user"]
        ]


@pytest.mark.parametrize(
    ("who", "whose", "status"),
    [
        ("town_coord", "peer", 403),  # an equal: someone strictly above must do it
        ("peer", "town_coord", 403),
        ("town_coord", "town_manager", 403),  # a manager on the same unit: at their anchor
        ("coordinator", "town_manager", 204),  # from strictly above
        ("town_coord", "station_coord", 204),
        ("station_coord", "town_coord", 404),  # above them: not even in their view
        ("coordinator", "peer", 204),
        ("town_coord", "coordinator", 404),
        ("other_coordinator", "town_coord", 404),
        ("town_manager", "station_manager", 403),  # managers revoke nothing
    ],
)
def test_revoke_a_role(world: World, people: People, api: Api, who: str, whose: str, status: int):
    role = RoleAssignment.objects.filter(user=target(world, people, whose)).first()
    assert role is not None
    response = api(caller(world, people, who)).delete(f"{ROLES}{role.pk}/")
    assert response.status_code == status, response.content
    assert RoleAssignment.objects.filter(pk=role.pk).exists() is (status != 204)


def test_the_takeover_of_the_probe_is_refused(world: World, people: People, api: Api):
    """A town coordinator grants a role to an account out of reach, then resets its password:
    each step is refused, and the account is never shown."""
    client = api(caller(world, people, "town_coord"))
    for victim in (world.other_coordinator, world.superuser, world.no_role):
        body = {"user": victim.pk, "unit": world.station.pk, "role": "manager"}
        assert client.post(ROLES, body).status_code == 400
        assert client.patch(f"{USERS}{victim.pk}/", {"password": NEWER}).status_code == 404
        victim.refresh_from_db()
        assert victim.check_password(PASSWORD)
        assert not RoleAssignment.objects.filter(user=victim, unit=world.station).exists()
    listed = {u["username"] for u in client.get(USERS).json()["results"]}
    assert listed.isdisjoint({"othercoord", "root", "norole"})


def test_the_list_shows_only_the_roles_inside_the_callers_area(
    world: World, people: People, api: Api
):
    rows = api(caller(world, people, "coordinator")).get(USERS, {"page_size": 200}).json()
    row = next(r for r in rows["results"] if r["username"] == "twocounties")
    assert [r["unit_name"] for r in row["roles"]] == ["二村站"]  # not 乙村站 in county B
    assert row["phone_masked"] == "139****5678"
    assert row["manageable"] is False


# --- pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "whom", "status"),
    [
        ("town_coord", "peer", 403),
        ("town_coord", "two_counties", 403),
        ("town_coord", "town_manager", 403),
        ("coordinator", "town_manager", 200),
        ("town_coord", "fresh_mine", 200),
        ("town_coord", "coordinator", 404),
        ("town_coord", "fresh_elsewhere", 404),
        ("town_coord", "superuser", 404),
    ],
)
def test_the_edit_page_shows_a_phone_only_to_those_above(
    world: World, people: People, client: Client, who: str, whom: str, status: int
):
    client.force_login(caller(world, people, who))
    response = client.get(f"/staff/users/{target(world, people, whom).pk}/edit/")
    assert response.status_code == status
    assert ("13912345678" in response.content.decode()) is (status == 200)


def test_the_grant_page_offers_only_manageable_accounts(
    world: World, people: People, client: Client
):
    client.force_login(caller(world, people, "town_coord"))
    response = client.get(f"/units/{world.station.pk}/roles/")
    offered = {u.username for u in response.context["form"].fields["user"].queryset}
    assert offered == {"stationcoord", "stationmgr", "freshmine", "freshbelow"}
    posted = client.post(
        f"/units/{world.station.pk}/roles/", {"user": people.peer.pk, "role": "manager"}
    )
    assert posted.status_code == 200  # the form again, with an error
    assert posted.context["form"].errors["user"]
    assert not RoleAssignment.objects.filter(user=people.peer, unit=world.station).exists()


def test_the_roles_page_offers_revoke_only_above_the_role(
    world: World, people: People, client: Client
):
    client.force_login(caller(world, people, "town_coord"))
    response = client.get(f"/units/{world.town.pk}/roles/")
    revocable = response.context["revocable"]
    by_user = {a.user.username: a.pk for a in response.context["assignments"]}
    assert by_user["townmgr"] not in revocable  # on their own unit: someone above
    assert by_user["stationcoord"] in revocable
    assert by_user["peer"] not in revocable
    assert by_user["towncoord"] not in revocable
    peer_role = by_user["peer"]
    client.post(f"/roles/{peer_role}/revoke/")
    assert RoleAssignment.objects.filter(pk=peer_role).exists()


# --- passwords ---------------------------------------------------------------------------


def test_setting_another_persons_password_ends_their_sessions_and_token(
    world: World, people: People, api: Api
):
    victim = people.fresh_mine
    session = Client()
    session.force_login(victim)
    assert session.get("/dashboard/").status_code == 200
    key = Token.objects.create(user=victim).key
    response = api(caller(world, people, "town_coord")).patch(
        f"{USERS}{victim.pk}/", {"password": STRONG}
    )
    assert response.status_code == 200
    assert session.get("/dashboard/").status_code == 302  # back to the login page
    assert not Token.objects.filter(key=key).exists()
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(f"{USERS}me/").status_code == 401


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"password": NEWER}, "old_password", "old_password_required"),
        ({"password": NEWER, "old_password": "not-my-password"}, "old_password", "wrong_password"),
        ({"password": "123", "old_password": PASSWORD}, "password", "weak_password"),
    ],
)
def test_ones_own_password_needs_the_old_one(
    world: World, api: Api, body: dict[str, str], field: str, code: str
):
    for url in (f"{USERS}me/", f"{USERS}{world.coordinator.pk}/"):
        response = api(world.coordinator).patch(url, body)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == code
        assert field in response.json()["detail"]
    world.refresh()
    assert world.coordinator.check_password(PASSWORD)


def test_a_manager_changes_their_own_password_through_the_api(world: World):
    client = APIClient()
    client.force_login(world.station_manager)
    key = Token.objects.create(user=world.station_manager).key
    body = {"old_password": PASSWORD, "password": NEWER}
    response = client.patch(f"{USERS}me/", body)
    assert response.status_code == 200, response.content
    world.refresh()
    assert world.station_manager.check_password(NEWER)
    # This session goes on; the API token is gone (log in again for a new one).
    assert client.get(f"{USERS}me/").status_code == 200
    assert not Token.objects.filter(key=key).exists()


def test_the_password_page_deletes_the_api_token(world: World, client: Client):
    client.force_login(world.station_manager)
    Token.objects.create(user=world.station_manager)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEWER, "new_password2": NEWER},
    )
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200  # still logged in here
    assert not Token.objects.filter(user=world.station_manager).exists()


def test_a_grant_service_call_refuses_an_account_out_of_reach(world: World, people: People):
    """The service refuses on its own, whatever a form or serializer let through."""
    with pytest.raises(ValidationFailed):
        services.role_grant(
            actor=people.town_coord, user=people.peer, unit=world.station, role=Role.MANAGER
        )
    with pytest.raises(ValidationFailed):
        services.role_grant(
            actor=world.coordinator, user=world.superuser, unit=world.town, role=Role.MANAGER
        )
