"""The team pages: staff list, form, team page (also the leader's), "My teams", and the
teams on a unit's public page (cached, refreshed by every team write)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

from practice.models import User
from tests.conftest import World
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer
from tests.volunteers.test_teams_services import (  # the fixture "team_world"
    TeamWorld,
    team_world_fixture,  # noqa: F401
)
from volunteers import teams
from volunteers.choices import MembershipStatus, TeamRole
from volunteers.models import Team, TeamMembership, Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_client(client: Any) -> Any:
    """``tests.conftest.browser_client``, with the pages in English: the messages asserted
    here read the same before and after the Chinese catalog has them."""

    def make(user: User | None = None) -> Any:
        client.logout()
        if user is not None:
            client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


def _get(browser_client: Any, user: Any, url: str) -> Any:
    return browser_client(user).get(url)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 302),
        ("no_role", 404),
        ("member", 404),
        ("leader", 404),
        ("station_manager", 200),
        ("other_coordinator", 200),
        ("coordinator", 200),
    ],
)
def test_list_and_new_matrix(
    team_world: TeamWorld, browser_client: Any, who: str | None, status: int
) -> None:
    tw = team_world
    user = _user(tw, who)
    assert _get(browser_client, user, "/teams/").status_code == status
    assert _get(browser_client, user, "/teams/new/").status_code == status


def _user(tw: TeamWorld, who: str | None) -> Any:
    if who is None:
        return None
    if who == "member":
        return tw.member_user
    if who == "leader":
        return tw.leader_user
    if who == "villager":
        return tw.villager_user
    return getattr(tw.w, who)


def test_list_is_scoped_and_filtered(team_world: TeamWorld, browser_client: Any) -> None:
    tw = team_world
    html = _get(browser_client, tw.w.station_manager, "/teams/").content.decode()
    assert "一村文艺队" in html and "县志愿服务总队" not in html and "乙县总队" not in html
    html = _get(browser_client, tw.w.coordinator, "/teams/?category=culture").content.decode()
    assert "一村文艺队" in html and "县志愿服务总队" not in html
    html = _get(browser_client, tw.w.coordinator, f"/teams/?within={tw.w.town.pk}").content.decode()
    assert "一村文艺队" in html and "县志愿服务总队" not in html
    bad = _get(browser_client, tw.w.coordinator, "/teams/?within=1.5")
    assert bad.status_code == 200 and "一村文艺队" not in bad.content.decode()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 302),
        ("no_role", 404),
        ("member", 404),
        ("villager", 404),
        ("other_coordinator", 404),
        ("station_manager", 404),  # the corps is the county's: above the station
        ("leader", 200),
        ("coordinator", 200),
    ],
)
def test_team_page_matrix(
    team_world: TeamWorld, browser_client: Any, who: str | None, status: int
) -> None:
    tw = team_world
    teams.member_add(actor=tw.w.coordinator, team=tw.corps, volunteer=tw.member)
    response = _get(browser_client, _user(tw, who), f"/teams/{tw.corps.pk}/")
    assert response.status_code == status


def test_team_page_shows_masked_phones_and_the_leaders_buttons(
    team_world: TeamWorld, browser_client: Any
) -> None:
    tw = team_world
    teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    html = _get(browser_client, tw.leader_user, f"/teams/{tw.corps.pk}/").content.decode()
    assert tw.leader.phone_masked in html and tw.leader.phone not in html
    assert 'id="team-requests"' in html and "赵村民" in html
    assert 'id="member-add"' not in html and 'id="team-edit"' not in html
    html = _get(browser_client, tw.w.coordinator, f"/teams/{tw.corps.pk}/").content.decode()
    assert 'id="member-add"' in html and 'id="team-edit"' in html


def test_leader_accepts_and_declines_on_the_page(
    team_world: TeamWorld, browser_client: Any
) -> None:
    tw = team_world
    first = teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    second = teams.membership_request(volunteer_user=tw.member_user, team=tw.corps)
    client = browser_client(tw.leader_user)
    url = f"/teams/{tw.corps.pk}/requests/{first.pk}/accept/"
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == f"/teams/{tw.corps.pk}/"
    response = client.post(
        f"/teams/{tw.corps.pk}/requests/{second.pk}/decline/", {"reason": "满员"}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (MembershipStatus.ACTIVE, MembershipStatus.DECLINED)
    # Deciding again: a message, nothing changes (409 in the API).
    response = client.post(url, follow=True)
    assert "This request has already been decided or withdrawn." in response.content.decode()
    # The leader manages no members: adding and removing are for the unit's staff.
    assert client.post(f"/teams/{tw.corps.pk}/members/add/", {"number": "x"}).status_code == 403
    remove = f"/teams/{tw.corps.pk}/members/{tw.villager.pk}/remove/"
    assert client.post(remove).status_code == 403
    assert client.get(f"/teams/{tw.corps.pk}/edit/").status_code == 403


def test_decide_matrix_on_the_page(team_world: TeamWorld, browser_client: Any) -> None:
    tw = team_world
    request = teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    url = f"/teams/{tw.corps.pk}/requests/{request.pk}/accept/"
    for user in (tw.w.other_coordinator, tw.w.station_manager, tw.villager_user, tw.w.no_role):
        assert browser_client(user).post(url).status_code == 404
    assert browser_client(None).post(url).status_code == 302
    request.refresh_from_db()
    assert request.status == MembershipStatus.REQUESTED


def test_add_and_remove_members_on_the_page(team_world: TeamWorld, browser_client: Any) -> None:
    tw = team_world
    client = browser_client(tw.w.station_manager)
    base = f"/teams/{tw.station_team.pk}/"
    response = client.post(f"{base}members/add/", {"number": tw.villager.number}, follow=True)
    assert response.status_code == 200
    assert TeamMembership.objects.filter(
        team=tw.station_team, volunteer=tw.villager, status=MembershipStatus.ACTIVE
    ).exists()
    outsider = make_volunteer(tw.w.other_station)
    response = client.post(f"{base}members/add/", {"number": outsider.number}, follow=True)
    assert "There is no volunteer with this number here." in response.content.decode()
    response = client.post(f"{base}members/add/", {"number": tw.villager.number}, follow=True)
    assert "already in this team" in response.content.decode()
    response = client.post(f"{base}members/{tw.villager.pk}/remove/", follow=True)
    assert response.status_code == 200
    assert TeamMembership.objects.get(team=tw.station_team, volunteer=tw.villager).status == (
        MembershipStatus.LEFT
    )
    other = browser_client(tw.w.other_coordinator)
    assert other.post(f"{base}members/add/", {"number": "x"}).status_code == 404
    assert other.post(f"{base}members/{tw.member.pk}/remove/").status_code == 404


def test_create_and_edit_through_the_form(team_world: TeamWorld, browser_client: Any) -> None:
    tw = team_world
    client = browser_client(tw.w.town_manager)
    form = client.get(f"/teams/new/?unit={tw.w.town.pk}").content.decode()
    assert f'value="{tw.w.town.pk}" selected' in form
    assert tw.w.centre.name not in form.split('id="id_unit"')[1].split("</select>")[0]
    response = client.post(
        "/teams/new/",
        {"unit": tw.w.town.pk, "name": "一镇文明队", "leader": tw.villager.number},
    )
    team = Team.objects.get(name="一镇文明队")
    assert response.status_code == 302 and response["Location"] == f"/teams/{team.pk}/"
    assert team.leader == tw.villager
    assert TeamMembership.objects.get(team=team, volunteer=tw.villager).role == TeamRole.LEADER
    # Errors stay on the form.
    again = client.post("/teams/new/", {"unit": tw.w.town.pk, "name": "一镇文明队"})
    assert again.status_code == 200
    assert "This unit already has a team with this name." in again.content.decode()
    unknown = client.post("/teams/new/", {"unit": tw.w.town.pk, "name": "x", "leader": "NOPE"})
    assert "There is no volunteer with this number here." in unknown.content.decode()
    outside = client.post("/teams/new/", {"unit": tw.w.centre.pk, "name": "越权队"})
    assert outside.status_code == 200 and not Team.objects.filter(name="越权队").exists()
    # Edit.
    response = client.post(
        f"/teams/{team.pk}/edit/",
        {"name": "一镇文明实践队", "leader": tw.villager.number, "is_active": "on"},
    )
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "一镇文明实践队"
    assert browser_client(tw.w.other_coordinator).get(f"/teams/{team.pk}/edit/").status_code == 404
    assert browser_client(tw.w.station_manager).get(f"/teams/{team.pk}/edit/").status_code == 404


# --- the volunteer's own page ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 302), ("no_role", 404), ("coordinator", 404), ("villager", 200), ("leader", 200)],
)
def test_me_teams_matrix(
    team_world: TeamWorld, browser_client: Any, who: str | None, status: int
) -> None:
    assert _get(browser_client, _user(team_world, who), "/me/teams/").status_code == status


def test_me_teams_join_withdraw_and_leave(team_world: TeamWorld, browser_client: Any) -> None:
    tw = team_world
    client = browser_client(tw.member_user)
    html = client.get("/me/teams/").content.decode()
    mine = html.split('id="my-teams"')[1].split("</ul>")[0]
    open_part = html.split('id="open-teams"')[1].split("</ul>")[0]
    assert "一村文艺队" in mine and "县志愿服务总队" in open_part and "乙县总队" not in html
    assert client.post(f"/me/teams/{tw.corps.pk}/join/").status_code == 302
    html = client.get("/me/teams/").content.decode()
    assert "县志愿服务总队" in html.split('id="my-requests"')[1].split("</ul>")[0]
    response = client.post(f"/me/teams/{tw.corps.pk}/join/", follow=True)
    assert "already in this team" in response.content.decode()
    response = client.post(f"/me/teams/{tw.other_team.pk}/join/", follow=True)
    assert response.status_code == 403
    assert client.post(f"/me/teams/{tw.corps.pk}/leave/").status_code == 302  # withdraw
    assert client.post(f"/me/teams/{tw.station_team.pk}/leave/").status_code == 302
    statuses = set(
        TeamMembership.objects.filter(volunteer=tw.member).values_list("status", flat=True)
    )
    assert statuses == {MembershipStatus.LEFT}
    # The leader cannot leave: a message, nothing changes.
    response = browser_client(tw.leader_user).post(f"/me/teams/{tw.corps.pk}/leave/", follow=True)
    assert "choose another leader first" in response.content.decode()
    assert browser_client(tw.w.no_role).post(f"/me/teams/{tw.corps.pk}/join/").status_code == 404


def test_me_page_links_to_my_teams(team_world: TeamWorld, browser_client: Any) -> None:
    html = browser_client(team_world.member_user).get("/me/").content.decode()
    assert 'href="/me/teams/"' in html


# --- the unit's public page -----------------------------------------------------------------


def test_unit_page_lists_teams_and_follows_writes_through_the_cache(
    team_world: TeamWorld, browser_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    tw = team_world
    client = browser_client(None)
    url = f"/units/{tw.w.station.pk}/"

    def section() -> str:
        html = client.get(url).content.decode()
        return html.split('id="unit-teams"')[1] if 'id="unit-teams"' in html else ""

    assert "一村文艺队" in section() and "1 member" in section()
    assert client.get(url)["X-Page-Cache"] == "hit"
    # Each write moves the page cache's version when its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        teams.member_add(actor=tw.w.station_manager, team=tw.station_team, volunteer=tw.villager)
    assert "2 members" in section()
    with django_capture_on_commit_callbacks(execute=True):
        teams.team_create(actor=tw.w.station_manager, unit=tw.w.station, name="一村巡逻队")
    assert "一村巡逻队" in section()
    with django_capture_on_commit_callbacks(execute=True):
        teams.team_update(
            actor=tw.w.station_manager, team=tw.station_team, data={"is_active": False}
        )
    assert "一村文艺队" not in section() and "一村巡逻队" in section()
    with django_capture_on_commit_callbacks(execute=True):
        teams.team_update(
            actor=tw.w.station_manager, team=tw.station_team, data={"is_active": True}
        )
    with django_capture_on_commit_callbacks(execute=True):
        teams.membership_leave(volunteer_user=tw.villager_user, team=tw.station_team)
    assert "1 member" in section()
    # A unit without teams shows no section.
    assert 'id="unit-teams"' not in client.get(f"/units/{tw.w.station2.pk}/").content.decode()


def test_page_queries_do_not_grow_from_5_to_500(world: World, browser_client: Any) -> None:
    volunteer_user = User.objects.create_user("vol", password="x")
    volunteer = make_volunteer(world.station, user=volunteer_user)

    def bulk(n: int, start: int) -> Team:
        made = Team.objects.bulk_create(
            Team(unit=world.station, name=f"队{start + i:04d}", leader=volunteer) for i in range(n)
        )
        TeamMembership.objects.bulk_create(
            TeamMembership(team=t, volunteer=volunteer, status=MembershipStatus.ACTIVE)
            for t in made
        )
        people = Volunteer.objects.bulk_create(
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
            for i in range(n)
        )
        first = Team.objects.get(name="队0000")
        TeamMembership.objects.bulk_create(
            TeamMembership(team=first, volunteer=v, status=s)
            for v in people
            for s in (MembershipStatus.ACTIVE,)
        )
        return first

    first = bulk(5, 0)
    urls = ["/teams/", f"/teams/{first.pk}/", f"/units/{world.station.pk}/"]

    def measure() -> list[int]:
        cache.clear()
        staff = browser_client(User.objects.get(pk=world.coordinator.pk))
        counts = [len(queries_of(staff, url)) for url in urls]
        me = browser_client(volunteer_user)
        counts.append(len(queries_of(me, "/me/teams/")))
        return counts

    small = measure()
    bulk(495, 5)
    assert measure() == small
