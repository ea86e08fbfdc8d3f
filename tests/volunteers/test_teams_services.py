"""Teams and their members: the rules of volunteers/teams.py (services and selectors)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from portal.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from practice.choices import AuditAction, UnitKind
from practice.models import AuditEntry, Category, User
from tests.conftest import World
from tests.factories import UserFactory
from tests.volunteers.conftest import make_volunteer
from volunteers import teams
from volunteers.choices import MembershipStatus, TeamRole, VolunteerStatus
from volunteers.models import Team, TeamMembership, Volunteer

pytestmark = pytest.mark.django_db

__all__ = ["TeamWorld", "team_world_fixture"]


@dataclass
class TeamWorld:
    """The permission world plus: the county's corps (led by ``leader``), a team of 一村站,
    a team of the other county; ``member`` is in the station team; ``villager`` is an
    active volunteer of 一村站 in no team."""

    w: World
    corps: Team
    station_team: Team
    other_team: Team
    leader: Volunteer
    leader_user: User
    member: Volunteer
    member_user: User
    villager: Volunteer
    villager_user: User
    category: Category


@pytest.fixture(name="team_world")
def team_world_fixture(world: World) -> TeamWorld:
    category, _ = Category.objects.get_or_create(code="culture", defaults={"name": "文化服务"})
    leader_user = UserFactory(username="leader")
    member_user = UserFactory(username="member")
    villager_user = UserFactory(username="villager")
    leader = make_volunteer(world.station, name="李队长", user=leader_user)
    member = make_volunteer(world.station, name="王队员", user=member_user)
    villager = make_volunteer(world.station, name="赵村民", user=villager_user)
    corps = teams.team_create(
        actor=world.coordinator, unit=world.centre, name="县志愿服务总队", leader=leader
    )
    station_team = teams.team_create(
        actor=world.station_manager, unit=world.station, name="一村文艺队", category=category
    )
    teams.member_add(actor=world.station_manager, team=station_team, volunteer=member)
    other_volunteer = make_volunteer(world.other_station, name="外县人")
    other_team = teams.team_create(
        actor=world.other_coordinator,
        unit=world.other_centre,
        name="乙县总队",
        leader=other_volunteer,
    )
    world.refresh()
    return TeamWorld(
        world,
        corps,
        station_team,
        other_team,
        leader,
        leader_user,
        member,
        member_user,
        villager,
        villager_user,
        category,
    )


def _status(team: Team, volunteer: Volunteer) -> list[str]:
    return list(
        TeamMembership.objects.filter(team=team, volunteer=volunteer)
        .order_by("pk")
        .values_list("status", flat=True)
    )


# --- creating and editing teams -------------------------------------------------------------


def test_create_makes_the_leader_a_member_and_audits(team_world: TeamWorld) -> None:
    tw = team_world
    membership = TeamMembership.objects.get(team=tw.corps, volunteer=tw.leader)
    assert (membership.role, membership.status) == (TeamRole.LEADER, MembershipStatus.ACTIVE)
    assert membership.joined_at is not None
    entry = AuditEntry.objects.filter(action=AuditAction.TEAM_CREATED, unit=tw.w.centre).get()
    assert entry.object_repr == "县志愿服务总队"
    assert entry.changes["leader"] == tw.leader.number
    assert entry.actor == tw.w.coordinator


def test_create_normalizes_and_checks_the_name(team_world: TeamWorld) -> None:
    tw = team_world
    team = teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="  一镇队  ")
    assert team.name == "一镇队"
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="坏\u200b名")
    assert "name" in exc.value.detail
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="")
    assert "name" in exc.value.detail


def test_a_name_is_unique_in_its_unit_only(team_world: TeamWorld) -> None:
    tw = team_world
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        teams.team_create(actor=tw.w.station_manager, unit=tw.w.station, name="一村文艺队")
    assert exc.value.code == "duplicate_team"
    assert exc.value.detail["name"] == ["This unit already has a team with this name."]
    # Another unit may use the same name.
    teams.team_create(actor=tw.w.town_manager, unit=tw.w.station2, name="一村文艺队")


@pytest.mark.parametrize(
    ("who", "error"),
    [("other_coordinator", NotFound), ("no_role", NotFound), ("station_manager", NotFound)],
)
def test_create_needs_manage_teams_on_the_unit(
    team_world: TeamWorld, who: str, error: type[Exception]
) -> None:
    # The station manager's scope is 一村站: the town above is outside it (404).
    with pytest.raises(error):
        teams.team_create(actor=getattr(team_world.w, who), unit=team_world.w.town, name="新队")
    assert not Team.objects.filter(name="新队").exists()


def test_parent_must_be_in_scope_above_and_not_a_cycle(team_world: TeamWorld) -> None:
    tw = team_world
    sub = teams.team_create(
        actor=tw.w.coordinator, unit=tw.w.town, name="一镇分队", parent=tw.corps
    )
    assert sub.parent == tw.corps
    # A team of another county, or out of the actor's view.
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(
            actor=tw.w.coordinator, unit=tw.w.town, name="乙分队", parent=tw.other_team
        )
    assert "parent" in exc.value.detail
    # A team of a unit below (or beside) is not a parent.
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(
            actor=tw.w.coordinator, unit=tw.w.town, name="倒挂队", parent=tw.station_team
        )
    assert "parent" in exc.value.detail
    # Cycles: the corps under its own sub-team, a team under itself.
    with pytest.raises(ValidationFailed) as exc:
        teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"parent": sub})
    assert "parent" in exc.value.detail
    with pytest.raises(ValidationFailed):
        teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"parent": tw.corps})
    tw.corps.refresh_from_db()
    assert tw.corps.parent is None


def test_leader_must_be_active_and_live_below_the_team(team_world: TeamWorld) -> None:
    tw = team_world
    pending = make_volunteer(tw.w.station, status=VolunteerStatus.PENDING)
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="甲", leader=pending)
    assert "leader" in exc.value.detail
    elsewhere = make_volunteer(tw.w.station3)  # 二镇所's village: not below 一镇所
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="乙", leader=elsewhere)
    assert "leader" in exc.value.detail
    outsider = make_volunteer(tw.w.other_station)
    with pytest.raises(ValidationFailed) as exc:
        teams.team_create(actor=tw.w.coordinator, unit=tw.w.centre, name="丙", leader=outsider)
    assert "leader" in exc.value.detail
    assert not Team.objects.filter(name__in=["甲", "乙", "丙"]).exists()


def test_changing_the_leader_keeps_the_former_one_as_member(team_world: TeamWorld) -> None:
    tw = team_world
    teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"leader": tw.villager})
    rows = dict(
        TeamMembership.objects.filter(team=tw.corps, status=MembershipStatus.ACTIVE).values_list(
            "volunteer_id", "role"
        )
    )
    # The request was accepted by naming them leader.
    assert rows == {tw.leader.pk: TeamRole.MEMBER, tw.villager.pk: TeamRole.LEADER}
    entry = AuditEntry.objects.filter(action=AuditAction.TEAM_CHANGED).latest("pk")
    assert entry.changes["leader"] == [tw.leader.number, tw.villager.number]
    teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"leader": None})
    assert not TeamMembership.objects.filter(team=tw.corps, role=TeamRole.LEADER).exists()


def test_update_fields_permissions_and_audit(team_world: TeamWorld) -> None:
    tw = team_world
    team = teams.team_update(
        actor=tw.w.town_manager,
        team=tw.station_team,
        data={"name": "一村文艺宣传队", "description": "唱歌\n跳舞", "category": None},
    )
    assert (team.name, team.description, team.category) == ("一村文艺宣传队", "唱歌\n跳舞", None)
    entry = AuditEntry.objects.filter(action=AuditAction.TEAM_CHANGED).latest("pk")
    assert entry.changes["name"] == ["一村文艺队", "一村文艺宣传队"]
    assert entry.changes["category"] == ["culture", None]
    with pytest.raises(NotFound):
        teams.team_update(actor=tw.w.other_coordinator, team=tw.station_team, data={"name": "x"})
    with pytest.raises(NotFound):
        teams.team_update(actor=tw.w.station_manager, team=tw.corps, data={"name": "x"})
    with pytest.raises(ValidationFailed):
        teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"unit": tw.w.town})
    with pytest.raises(ValidationFailed) as exc:
        teams.team_update(actor=tw.w.coordinator, team=tw.station_team, data={"name": "x" * 101})
    assert "name" in exc.value.detail
    count = AuditEntry.objects.count()
    teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"name": tw.corps.name})
    assert AuditEntry.objects.count() == count  # nothing changed, nothing written


# --- joining --------------------------------------------------------------------------------


def test_request_accept_and_the_state_machine(team_world: TeamWorld) -> None:
    tw = team_world
    request = teams.membership_request(volunteer_user=tw.villager_user, team=tw.station_team)
    assert request.status == MembershipStatus.REQUESTED
    with pytest.raises(Conflict) as exc:
        teams.membership_request(volunteer_user=tw.villager_user, team=tw.station_team)
    assert exc.value.code == "already_member"
    accepted = teams.membership_accept(actor=tw.w.station_manager, membership=request)
    assert accepted.status == MembershipStatus.ACTIVE
    assert accepted.decided_by == tw.w.station_manager
    assert accepted.joined_at is not None
    # Every decision needs a request: accepted, declined or left ones → 409.
    for decide in (teams.membership_accept, teams.membership_decline):
        with pytest.raises(InvalidTransition) as exc2:
            decide(actor=tw.w.station_manager, membership=accepted)
        assert exc2.value.code == "invalid_transition"
    with pytest.raises(Conflict):
        teams.membership_request(volunteer_user=tw.villager_user, team=tw.station_team)
    entry = AuditEntry.objects.filter(action=AuditAction.TEAM_MEMBER_ADDED).latest("pk")
    assert entry.changes == {"volunteer": tw.villager.number}


def test_declined_then_asks_again(team_world: TeamWorld) -> None:
    tw = team_world
    request = teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    declined = teams.membership_decline(actor=tw.leader_user, membership=request, reason="满员")
    assert declined.status == MembershipStatus.DECLINED
    with pytest.raises(InvalidTransition):
        teams.membership_accept(actor=tw.leader_user, membership=declined)
    entry = AuditEntry.objects.filter(action=AuditAction.TEAM_CHANGED).latest("pk")
    assert entry.changes == {"join_declined": tw.villager.number, "reason": "满员"}
    again = teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    assert _status(tw.corps, tw.villager) == ["declined", "requested"]
    with pytest.raises(ValidationFailed):
        teams.membership_decline(actor=tw.leader_user, membership=again, reason="坏\x00理由")


def test_who_may_decide_a_request(team_world: TeamWorld) -> None:
    tw = team_world
    request = teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    # Outside the unit's view and no relation → 404; a member of it → 403; staff of a unit
    # below the team's (the station manager sees 一村站, not the county) → 404.
    with pytest.raises(NotFound):
        teams.membership_accept(actor=tw.w.other_coordinator, membership=request)
    with pytest.raises(NotFound):
        teams.membership_accept(actor=tw.w.station_manager, membership=request)
    with pytest.raises(NotFound):
        teams.membership_accept(actor=tw.w.no_role, membership=request)
    teams.member_add(actor=tw.w.coordinator, team=tw.corps, volunteer=tw.member)
    with pytest.raises(PermissionDenied):
        teams.membership_accept(actor=tw.member_user, membership=request)
    with pytest.raises(NotFound):  # the asker, not in the team (yet)
        teams.membership_accept(actor=tw.villager_user, membership=request)
    # The leader, without any staff role, decides.
    teams.membership_accept(actor=tw.leader_user, membership=request)
    assert _status(tw.corps, tw.villager) == ["active"]


def test_who_may_ask_to_join(team_world: TeamWorld) -> None:
    tw = team_world
    # Teams on the path from the root to the home unit only.
    town2_team = teams.team_create(actor=tw.w.coordinator, unit=tw.w.town2, name="二镇队")
    with pytest.raises(PermissionDenied):
        teams.membership_request(volunteer_user=tw.villager_user, team=town2_team)
    with pytest.raises(PermissionDenied):
        teams.membership_request(volunteer_user=tw.villager_user, team=tw.other_team)
    # No volunteer profile → 404; not active → 403.
    with pytest.raises(NotFound):
        teams.membership_request(volunteer_user=tw.w.no_role, team=tw.corps)
    pending_user = UserFactory(username="pending")
    make_volunteer(tw.w.station, status=VolunteerStatus.PENDING, user=pending_user)
    with pytest.raises(PermissionDenied):
        teams.membership_request(volunteer_user=pending_user, team=tw.corps)
    # An inactive team → 409.
    teams.team_update(actor=tw.w.coordinator, team=tw.corps, data={"is_active": False})
    with pytest.raises(Conflict) as exc:
        teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    assert exc.value.code == "team_inactive"
    assert not TeamMembership.objects.filter(volunteer=tw.villager).exists()


def test_accepting_a_volunteer_no_longer_active_is_refused(team_world: TeamWorld) -> None:
    tw = team_world
    request = teams.membership_request(volunteer_user=tw.villager_user, team=tw.station_team)
    Volunteer.objects.filter(pk=tw.villager.pk).update(status=VolunteerStatus.SUSPENDED)
    with pytest.raises(Conflict) as exc:
        teams.membership_accept(actor=tw.w.station_manager, membership=request)
    assert exc.value.code == "volunteer_inactive"


# --- adding and removing --------------------------------------------------------------------


def test_member_add_rules(team_world: TeamWorld) -> None:
    tw = team_world
    with pytest.raises(Conflict):
        teams.member_add(actor=tw.w.station_manager, team=tw.station_team, volunteer=tw.member)
    outsider = make_volunteer(tw.w.other_station)
    with pytest.raises(NotFound):
        teams.member_add(actor=tw.w.coordinator, team=tw.corps, volunteer=outsider)
    # The station manager sees only 一村站's volunteers.
    town2_volunteer = make_volunteer(tw.w.station3)
    with pytest.raises(NotFound):
        teams.member_add(
            actor=tw.w.station_manager, team=tw.station_team, volunteer=town2_volunteer
        )
    pending = make_volunteer(tw.w.station, status=VolunteerStatus.PENDING)
    with pytest.raises(ValidationFailed) as exc:
        teams.member_add(actor=tw.w.station_manager, team=tw.station_team, volunteer=pending)
    assert "volunteer" in exc.value.detail
    with pytest.raises(NotFound):
        teams.member_add(actor=tw.w.station_manager, team=tw.corps, volunteer=tw.villager)
    with pytest.raises(NotFound):
        teams.member_add(actor=tw.leader_user, team=tw.corps, volunteer=tw.villager)
    # An open request is accepted by adding.
    teams.membership_request(volunteer_user=tw.villager_user, team=tw.station_team)
    teams.member_add(actor=tw.w.station_manager, team=tw.station_team, volunteer=tw.villager)
    assert _status(tw.station_team, tw.villager) == ["active"]


def test_remove_keeps_history_and_spares_the_leader(team_world: TeamWorld) -> None:
    tw = team_world
    removed = teams.member_remove(
        actor=tw.w.station_manager, team=tw.station_team, volunteer=tw.member
    )
    assert removed.status == MembershipStatus.LEFT and removed.left_at is not None
    assert _status(tw.station_team, tw.member) == ["left"]
    entry = AuditEntry.objects.filter(action=AuditAction.TEAM_MEMBER_REMOVED).latest("pk")
    assert entry.changes == {"volunteer": tw.member.number}
    with pytest.raises(NotFound):
        teams.member_remove(actor=tw.w.station_manager, team=tw.station_team, volunteer=tw.member)
    with pytest.raises(ValidationFailed) as exc:
        teams.member_remove(actor=tw.w.coordinator, team=tw.corps, volunteer=tw.leader)
    assert exc.value.code == "is_leader"
    with pytest.raises(NotFound):
        teams.member_remove(actor=tw.w.other_coordinator, team=tw.corps, volunteer=tw.leader)
    # Back again later: a new row, the old one stays.
    teams.member_add(actor=tw.w.station_manager, team=tw.station_team, volunteer=tw.member)
    assert _status(tw.station_team, tw.member) == ["left", "active"]


def test_leave_and_withdraw(team_world: TeamWorld) -> None:
    tw = team_world
    teams.membership_leave(volunteer_user=tw.member_user, team=tw.station_team)
    assert _status(tw.station_team, tw.member) == ["left"]
    with pytest.raises(NotFound):
        teams.membership_leave(volunteer_user=tw.member_user, team=tw.station_team)
    with pytest.raises(ValidationFailed):
        teams.membership_leave(volunteer_user=tw.leader_user, team=tw.corps)
    teams.membership_request(volunteer_user=tw.villager_user, team=tw.corps)
    teams.membership_leave(volunteer_user=tw.villager_user, team=tw.corps)
    assert _status(tw.corps, tw.villager) == ["left"]
    entry = AuditEntry.objects.latest("pk")
    assert (entry.action, entry.changes) == (
        AuditAction.TEAM_CHANGED,
        {"join_withdrawn": tw.villager.number},
    )


# --- selectors ------------------------------------------------------------------------------


def test_scoped_lists_and_member_counts(team_world: TeamWorld) -> None:
    tw = team_world
    names = lambda user: {t.name: t.member_count for t in teams.teams_in_scope(user)}  # noqa: E731
    assert names(tw.w.coordinator) == {"县志愿服务总队": 1, "一村文艺队": 1}
    assert names(tw.w.station_manager) == {"一村文艺队": 1}
    assert names(tw.w.other_coordinator) == {"乙县总队": 1}
    assert names(tw.w.no_role) == {}
    assert len(names(tw.w.superuser)) == 3
    # A volunteer sees the teams they are in.
    assert {t.name for t in teams.teams_visible_to(tw.member_user)} == {"一村文艺队"}
    assert {t.name for t in teams.teams_visible_to(tw.leader_user)} == {"县志愿服务总队"}
    assert {t.name for t in teams.teams_visible_to(tw.villager_user)} == set()


def test_teams_open_to_follow_the_path_to_the_home_unit(team_world: TeamWorld) -> None:
    tw = team_world
    town_team = teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="一镇队")
    teams.team_create(actor=tw.w.coordinator, unit=tw.w.town2, name="二镇队")
    teams.team_create(actor=tw.w.coordinator, unit=tw.w.station2, name="二村队")
    closed = teams.team_create(actor=tw.w.coordinator, unit=tw.w.town, name="停用队")
    teams.team_update(actor=tw.w.coordinator, team=closed, data={"is_active": False})
    open_names = [t.name for t in teams.teams_open_to(tw.villager)]
    assert open_names == ["县志愿服务总队", "一镇队", "一村文艺队"]
    # The member is already in the station team; an open request hides the team too.
    teams.membership_request(volunteer_user=tw.member_user, team=town_team)
    assert [t.name for t in teams.teams_open_to(tw.member)] == ["县志愿服务总队"]
    assert [m.status for m in teams.memberships_of(tw.member)] == ["requested", "active"]
    # A membership that ended (the member's own, or someone else's open one) hides nothing.
    teams.member_remove(actor=tw.w.coordinator, team=tw.station_team, volunteer=tw.member)
    teams.member_add(actor=tw.w.coordinator, team=tw.station_team, volunteer=tw.villager)
    assert [t.name for t in teams.teams_open_to(tw.member)] == ["县志愿服务总队", "一村文艺队"]
    assert [m.status for m in teams.memberships_of(tw.member)] == ["requested", "left"]


def test_public_teams_of_a_unit(team_world: TeamWorld) -> None:
    tw = team_world
    extra = teams.team_create(actor=tw.w.station_manager, unit=tw.w.station, name="一村巡逻队")
    teams.team_update(actor=tw.w.station_manager, team=extra, data={"is_active": False})
    with CaptureQueriesContext(connection) as q:
        shown = teams.public_teams_of(tw.w.station)
    assert len(q.captured_queries) == 1
    assert [(t.name, t.member_count) for t in shown] == [("一村文艺队", 1)]


def test_selectors_cost_the_same_for_5_and_500_teams(world: World) -> None:
    def measure() -> tuple[int, int]:
        user = User.objects.get(pk=world.coordinator.pk)
        with CaptureQueriesContext(connection) as q:
            rows = list(teams.teams_in_scope(user)[:50])
            _ = [(t.unit.name, t.leader, t.category, t.member_count) for t in rows]
        return len(q.captured_queries), len(rows)

    _bulk_teams(world, 5)
    small, shown = measure()
    assert shown == 5
    _bulk_teams(world, 495, start=5)
    assert measure() == (small, 50)


def _bulk_teams(world: World, n: int, *, start: int = 0) -> list[Team]:
    volunteer = Volunteer.objects.filter(unit=world.station).first() or make_volunteer(
        world.station
    )
    made = Team.objects.bulk_create(
        Team(unit=world.station, name=f"队{start + i:04d}", leader=volunteer) for i in range(n)
    )
    TeamMembership.objects.bulk_create(
        TeamMembership(team=t, volunteer=volunteer, status=MembershipStatus.ACTIVE) for t in made
    )
    return made


def test_a_team_may_belong_to_a_point(world: World) -> None:
    point_team = teams.team_create(actor=world.station_manager, unit=world.point, name="点队")
    assert point_team.unit.kind == UnitKind.POINT
