"""Fixtures of the order — menu — deliver tests: the permission-matrix world plus a team of
volunteers with accounts, a menu, and requests in each state made through the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from orders import services
from orders.choices import RequestStatus
from orders.models import MenuItem, ServiceRequest
from practice.models import Category, User
from tests.conftest import World
from tests.factories import UserFactory
from tests.volunteers.conftest import make_volunteer
from volunteers.choices import MembershipStatus, TeamRole
from volunteers.models import Team, TeamMembership, Volunteer

__all__ = ["RESIDENT_PHONE", "OrdersWorld", "advance", "new_request"]

RESIDENT_PHONE = "13812345678"


@dataclass
class OrdersWorld:
    w: World
    category: Category
    team: Team  # the town's culture team (leader + 2 members, all with accounts)
    other_team: Team  # another team of the county (1 member)
    leader: Volunteer
    member: Volunteer
    member2: Volunteer
    outsider: Volunteer  # member of other_team only
    county_item: MenuItem  # at the centre, delivered by `team`
    station_item: MenuItem  # at the station
    other_county_item: MenuItem  # at the other county


def _volunteer_with_account(unit: Any, username: str, name: str) -> Volunteer:
    user = UserFactory(username=username, name=name)
    return make_volunteer(unit, name=name, user=user)


def _member(team: Team, volunteer: Volunteer, role: str = TeamRole.MEMBER) -> None:
    TeamMembership.objects.create(
        team=team,
        volunteer=volunteer,
        role=role,
        status=MembershipStatus.ACTIVE,
        joined_at=timezone.now(),
    )


@pytest.fixture
def ow(world: World) -> OrdersWorld:
    # (get_or_create: a transactional test before this one may have emptied the table.)
    category = Category.objects.get_or_create(code="culture", defaults={"name": "文化服务"})[0]
    leader = _volunteer_with_account(world.town, "v_leader", "李队长")
    member = _volunteer_with_account(world.station, "v_member", "王志愿")
    member2 = _volunteer_with_account(world.station, "v_member2", "赵志愿")
    outsider = _volunteer_with_account(world.town2, "v_outsider", "钱志愿")
    team = Team.objects.create(
        name="一镇文化服务队", unit=world.town, category=category, leader=leader
    )
    _member(team, leader, TeamRole.LEADER)
    _member(team, member)
    _member(team, member2)
    other_team = Team.objects.create(name="二镇文化服务队", unit=world.town2, category=category)
    _member(other_team, outsider)
    county_item = MenuItem.objects.create(unit=world.centre, category=category, title="文艺演出")
    county_item.teams.set([team])
    station_item = MenuItem.objects.create(
        unit=world.station, category=category, title="广场舞教学"
    )
    other_county_item = MenuItem.objects.create(
        unit=world.other_centre, category=category, title="乙县送戏下乡"
    )
    return OrdersWorld(
        world,
        category,
        team,
        other_team,
        leader,
        member,
        member2,
        outsider,
        county_item,
        station_item,
        other_county_item,
    )


def new_request(ow: OrdersWorld, **overrides: Any) -> ServiceRequest:
    data: dict[str, Any] = {
        "unit": ow.w.station,
        "menu_item": ow.county_item,
        "description": "村里老人想看一场戏",
        "contact_name": "张大爷",
        "contact_phone": RESIDENT_PHONE,
    }
    data.update(overrides)
    return services.request_submit(data=data)


def advance(ow: OrdersWorld, request: ServiceRequest, to: str) -> ServiceRequest:
    """Take ``request`` (submitted) through the services to the state ``to``."""
    paths: dict[str, list[str]] = {
        RequestStatus.SUBMITTED: [],
        RequestStatus.DISPATCHED: ["dispatch"],
        RequestStatus.CLAIMED: ["dispatch", "claim"],
        RequestStatus.DELIVERED: ["dispatch", "claim", "deliver"],
        RequestStatus.CLOSED: ["dispatch", "claim", "deliver", "rate"],
        RequestStatus.REJECTED: ["reject"],
        RequestStatus.CANCELLED: ["cancel"],
    }
    path = paths[to]
    member_user: User = ow.member.user  # type: ignore[assignment]
    for step in path:
        if step == "dispatch":
            request = services.request_dispatch(
                actor=ow.w.coordinator,
                request=request,
                team=ow.team,
                due_date=timezone.localdate() + dt.timedelta(days=3),
            )
        elif step == "claim":
            request = services.request_claim(actor=member_user, request=request)
        elif step == "deliver":
            request = services.request_deliver(
                actor=member_user,
                request=request,
                summary="演出一场，观众很多",
                beneficiaries=80,
                participants=[{"volunteer": ow.member.pk, "hours": "2"}],
            )
        elif step == "rate":
            request = services.request_rate(
                request=request, code=request.tracking_code, phone=RESIDENT_PHONE, rating=5
            )
        elif step == "reject":
            request = services.request_reject(
                actor=ow.w.coordinator, request=request, reason="超出服务范围"
            )
        elif step == "cancel":
            request = services.request_cancel(
                request=request, code=request.tracking_code, phone=RESIDENT_PHONE
            )
    request.refresh_from_db()
    assert request.status == to
    return request
