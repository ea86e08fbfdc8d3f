"""``/api/v1/teams/``: the contract's fields and codes, our additions, the permission matrix
and constant query counts."""

from __future__ import annotations

from typing import Any

import pytest

from practice.models import User
from tests.conftest import World
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer
from tests.volunteers.test_teams_services import (  # the fixture "team_world"
    TeamWorld,
    team_world_fixture,  # noqa: F401
)
from volunteers import teams
from volunteers.choices import MembershipStatus
from volunteers.models import Team, TeamMembership, Volunteer

pytestmark = pytest.mark.django_db

URL = "/api/v1/teams/"


def _ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["name"] for row in response.json()["results"]}


def test_list_is_scoped_and_a_volunteer_sees_their_own_teams(
    team_world: TeamWorld, api: Any
) -> None:
    tw = team_world
    assert api(None).get(URL).status_code == 401
    assert _ids(api(tw.w.coordinator).get(URL)) == {"县志愿服务总队", "一村文艺队"}
    assert _ids(api(tw.w.station_manager).get(URL)) == {"一村文艺队"}
    assert _ids(api(tw.w.other_coordinator).get(URL)) == {"乙县总队"}
    assert _ids(api(tw.w.no_role).get(URL)) == set()
    assert _ids(api(tw.member_user).get(URL)) == {"一村文艺队"}
    assert _ids(api(tw.leader_user).get(URL)) == {"县志愿服务总队"}


def test_fields_of_a_team(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    row = api(tw.w.coordinator).get(f"{URL}{tw.station_team.pk}/").json()
    assert row == {
        "id": tw.station_team.pk,
        "name": "一村文艺队",
        "unit": tw.w.station.pk,
        "unit_name": "一村站",
        "category": "culture",
        "leader": None,
        "leader_name": None,
        "parent": None,
        "description": "",
        "is_active": True,
        "member_count": 1,
        "created_at": row["created_at"],
    }
    corps = api(tw.w.coordinator).get(f"{URL}{tw.corps.pk}/").json()
    assert (corps["leader"], corps["leader_name"]) == (tw.leader.pk, "李队长")


def test_filters(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    client = api(tw.w.coordinator)
    assert _ids(client.get(URL, {"unit": tw.w.station.pk})) == {"一村文艺队"}
    assert _ids(client.get(URL, {"within": tw.w.town.pk})) == {"一村文艺队"}
    assert _ids(client.get(URL, {"within": tw.w.other_centre.pk})) == set()
    assert _ids(client.get(URL, {"category": "culture"})) == {"一村文艺队"}
    assert _ids(client.get(URL, {"q": "总队"})) == {"县志愿服务总队"}
    bad = client.get(URL, {"unit": "1.5"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_retrieve_matrix(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    url = f"{URL}{tw.station_team.pk}/"
    assert api(None).get(url).status_code == 401
    assert api(tw.w.other_coordinator).get(url).status_code == 404
    assert api(tw.w.no_role).get(url).status_code == 404
    assert api(tw.villager_user).get(url).status_code == 404
    for user in (tw.w.coordinator, tw.w.town_manager, tw.w.station_manager, tw.member_user):
        assert api(user).get(url).status_code == 200


def test_create(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    body = {
        "name": "一镇宣讲队",
        "unit": tw.w.town.pk,
        "category": "culture",
        "leader": tw.villager.pk,
        "parent": tw.corps.pk,
        "description": "理论宣讲",
    }
    # The town manager does not see the county's corps: not a parent they may name.
    response = api(tw.w.town_manager).post(URL, body, format="json")
    assert response.status_code == 400 and "parent" in response.json()["detail"]
    response = api(tw.w.coordinator).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["member_count"], data["leader_name"], data["unit_name"]) == (1, "赵村民", "一镇所")
    # The station manager: a unit above their own is outside the scope.
    response = api(tw.w.station_manager).post(URL, {**body, "name": "x"}, format="json")
    assert response.status_code == 400 and "unit" in response.json()["detail"]
    response = api(tw.w.no_role).post(URL, {**body, "name": "y"}, format="json")
    assert response.status_code == 400
    assert api(None).post(URL, body, format="json").status_code == 401
    # Duplicate, bad name, unknown category, leader out of scope, parent of another county.
    client = api(tw.w.coordinator)
    dup = client.post(URL, body, format="json")
    assert dup.status_code == 400 and dup.json()["code"] == "duplicate_team"
    assert dup.json()["detail"]["name"]
    bad = client.post(URL, {**body, "name": "坏\x07名"}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["detail"]
    assert (
        "category" in client.post(URL, {**body, "name": "z1", "category": "nope"}).json()["detail"]
    )
    outsider = make_volunteer(tw.w.other_station)
    refused = client.post(URL, {**body, "name": "z2", "leader": outsider.pk}, format="json")
    assert refused.status_code == 400 and "leader" in refused.json()["detail"]
    refused = client.post(URL, {**body, "name": "z3", "parent": tw.other_team.pk}, format="json")
    assert refused.status_code == 400 and "parent" in refused.json()["detail"]
    assert not Team.objects.filter(name__startswith="z").exists()


def test_create_inside_scope_without_the_right_is_403(
    team_world: TeamWorld, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every role manages teams today; a role that only views answers 403 inside its scope.
    from practice import permissions

    manager = permissions.ROLE_ACTIONS["manager"]
    monkeypatch.setitem(
        permissions.ROLE_ACTIONS, "manager", manager - {permissions.Action.MANAGE_TEAMS}
    )
    response = api(team_world.w.town_manager).post(
        URL, {"name": "禁止", "unit": team_world.w.town.pk}, format="json"
    )
    assert response.status_code == 403


def test_patch(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    url = f"{URL}{tw.station_team.pk}/"
    response = api(tw.w.station_manager).patch(
        url, {"name": "一村文艺宣传队", "leader": tw.member.pk, "is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["name"], data["leader"], data["is_active"]) == (
        "一村文艺宣传队",
        tw.member.pk,
        False,
    )
    moved = api(tw.w.coordinator).patch(url, {"unit": tw.w.town.pk}, format="json")
    assert moved.status_code == 400 and "unit" in moved.json()["detail"]
    same = api(tw.w.coordinator).patch(url, {"unit": tw.w.station.pk}, format="json")
    assert same.status_code == 200
    assert api(tw.w.other_coordinator).patch(url, {"name": "x"}, format="json").status_code == 404
    assert api(tw.member_user).patch(url, {"name": "x"}, format="json").status_code == 404
    assert api(tw.w.coordinator).put(url, {"name": "x"}, format="json").status_code == 405
    assert api(tw.w.coordinator).delete(url).status_code == 405


def test_members_add_list_remove(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    url = f"{URL}{tw.station_team.pk}/members/"
    client = api(tw.w.station_manager)
    added = client.post(url, {"volunteer": tw.villager.pk}, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["status"] == "active"
    assert added.json()["phone_masked"] == tw.villager.phone_masked
    again = client.post(url, {"volunteer": tw.villager.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_member"
    listed = client.get(url).json()
    assert listed["count"] == 2
    assert {r["volunteer_name"] for r in listed["results"]} == {"王队员", "赵村民"}
    assert "phone" not in listed["results"][0]
    outsider = make_volunteer(tw.w.other_station)
    assert client.post(url, {"volunteer": outsider.pk}, format="json").status_code == 404
    assert client.post(url, {"volunteer": 10**9}, format="json").status_code == 404
    assert client.post(url, {"volunteer": "1.5"}, format="json").status_code == 400
    # Remove: 204, then 404 (not a member any more); the row stays as "left".
    assert client.delete(f"{url}{tw.villager.pk}/").status_code == 204
    assert client.delete(f"{url}{tw.villager.pk}/").status_code == 404
    assert TeamMembership.objects.get(team=tw.station_team, volunteer=tw.villager).status == (
        MembershipStatus.LEFT
    )
    leader = api(tw.w.coordinator).delete(f"{URL}{tw.corps.pk}/members/{tw.leader.pk}/")
    assert leader.status_code == 400 and leader.json()["code"] == "is_leader"


def test_members_matrix(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    url = f"{URL}{tw.corps.pk}/members/"
    body = {"volunteer": tw.villager.pk}
    assert api(None).get(url).status_code == 401
    assert api(tw.w.other_coordinator).get(url).status_code == 404
    assert api(tw.w.other_coordinator).post(url, body, format="json").status_code == 404
    assert api(tw.w.station_manager).get(url).status_code == 404
    assert api(tw.w.no_role).post(url, body, format="json").status_code == 404
    assert api(tw.leader_user).get(url).status_code == 200
    teams.member_add(actor=tw.w.coordinator, team=tw.corps, volunteer=tw.member)
    # A plain member sees the team, not its member list, and adds nobody.
    assert api(tw.member_user).get(url).status_code == 403
    assert api(tw.member_user).post(url, body, format="json").status_code == 404
    assert api(tw.member_user).delete(f"{url}{tw.member.pk}/").status_code == 404
    assert api(tw.w.coordinator).get(url).status_code == 200


def test_join_and_decide(team_world: TeamWorld, api: Any) -> None:
    tw = team_world
    join = f"{URL}{tw.corps.pk}/join/"
    assert api(None).post(join).status_code == 401
    assert api(tw.w.no_role).post(join).status_code == 404  # no volunteer profile
    asked = api(tw.villager_user).post(join)
    assert asked.status_code == 201, asked.content
    assert asked.json()["status"] == "requested"
    assert api(tw.villager_user).post(join).status_code == 409
    other = api(tw.villager_user).post(f"{URL}{tw.other_team.pk}/join/")
    assert other.status_code == 403
    assert api(tw.villager_user).post(f"{URL}{10**9}/join/").status_code == 404
    membership_id = asked.json()["id"]
    pending = api(tw.leader_user).get(f"{URL}{tw.corps.pk}/requests/").json()
    assert [r["id"] for r in pending["results"]] == [membership_id]
    accept = f"{URL}{tw.corps.pk}/requests/{membership_id}/accept/"
    decline = f"{URL}{tw.corps.pk}/requests/{membership_id}/decline/"
    assert api(tw.w.other_coordinator).post(accept).status_code == 404
    assert api(tw.w.station_manager).post(accept).status_code == 404
    assert api(tw.villager_user).post(accept).status_code == 404
    accepted = api(tw.leader_user).post(accept)
    assert accepted.status_code == 200 and accepted.json()["status"] == "active"
    again = api(tw.leader_user).post(decline, {"reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    # A request id of another team is not found under this one.
    station_request = teams.membership_request(
        volunteer_user=tw.villager_user, team=tw.station_team
    )
    wrong = f"{URL}{tw.corps.pk}/requests/{station_request.pk}/accept/"
    assert api(tw.w.coordinator).post(wrong).status_code == 404
    # A plain member of the station team may not decide; its manager declines.
    plain = f"{URL}{tw.station_team.pk}/requests/{station_request.pk}/decline/"
    assert api(tw.member_user).post(plain).status_code == 403
    declined = api(tw.w.station_manager).post(plain, {"reason": "满员"}, format="json")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"


def _bulk(world: World, *, teams_n: int, members_n: int, start: int = 0) -> Team:
    volunteer = make_volunteer(world.station) if start == 0 else Volunteer.objects.first()
    made = Team.objects.bulk_create(
        Team(unit=world.station, name=f"队{start + i:04d}", leader=volunteer)
        for i in range(teams_n)
    )
    TeamMembership.objects.bulk_create(
        TeamMembership(team=t, volunteer=volunteer, status=MembershipStatus.ACTIVE) for t in made
    )
    big = Team.objects.get(name="队0000")
    people = [
        Volunteer(
            name=f"志愿者{start + i}",
            id_number="x",
            id_number_hash=f"h{start + i}",
            id_number_masked="x",
            gender="male",
            birth_date="1990-01-01",
            phone="x",
            phone_hash=f"p{start + i}",
            phone_masked="139****0000",
            unit=world.station,
            status="active",
        )
        for i in range(members_n)
    ]
    people = Volunteer.objects.bulk_create(people)
    TeamMembership.objects.bulk_create(
        TeamMembership(team=big, volunteer=v, status=MembershipStatus.ACTIVE) for v in people
    )
    return big


def test_lists_cost_the_same_for_5_and_500(world: World, api: Any) -> None:
    big = _bulk(world, teams_n=5, members_n=5)
    client = api(User.objects.get(pk=world.coordinator.pk))
    urls = [
        f"{URL}?page_size=200",
        f"{URL}?within={world.town.pk}&page_size=200",
        f"{URL}{big.pk}/members/?page_size=200",
        f"{URL}{big.pk}/requests/",
    ]

    def measure() -> list[int]:
        # A fresh account object each time: its grants are read once per request.
        return [
            len(queries_of(api(User.objects.get(pk=world.coordinator.pk)), url)) for url in urls
        ]

    small = measure()
    _bulk(world, teams_n=495, members_n=495, start=5)
    assert Team.objects.count() == 500
    assert measure() == small
    assert client.get(urls[0]).json()["count"] == 500
    assert client.get(urls[2]).json()["count"] == 501
