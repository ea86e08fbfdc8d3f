"""Shared helpers of the activity tests: platforms, a town coordinator (the reviewer of
the station's reports), past time spans and activities made through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from django.utils import timezone

from activities import services
from activities.choices import ActivityStatus
from activities.models import Activity
from practice.choices import Role
from practice.models import Category, Unit, User
from tests.conftest import World
from tests.factories import RoleFactory, UserFactory

PLATFORMS = {
    "theory": "理论宣讲",
    "publicity": "社会宣传",
    "education": "教育服务",
    "culture": "文化服务",
    "science": "科技与科普",
    "sports": "体育健身",
    "civility": "乡风文明",
}


def platform(code: str = "culture") -> Category:
    """One of the seven platforms (created when the test database has none)."""
    return Category.objects.get_or_create(code=code, defaults={"name": PLATFORMS[code]})[0]


def span(days_ago: float = 2, hours: float = 2) -> tuple[dt.datetime, dt.datetime]:
    """A ``hours`` long time span that started ``days_ago`` days ago (negative: ahead)."""
    start = (timezone.now() - dt.timedelta(days=days_ago)).replace(second=0, microsecond=0)
    return start, start + dt.timedelta(hours=hours)


def make_activity(
    actor: User,
    unit: Unit,
    *,
    category: str | Category = "culture",
    days_ago: float = 2,
    hours: float = 2,
    status: str = ActivityStatus.DRAFT,
    **data: Any,
) -> Activity:
    """An activity created by ``actor`` through :func:`activities.services.activity_create`
    (``status`` draft or planned; ``data`` overrides any field, participants included)."""
    start, end = span(days_ago, hours)
    fields: dict[str, Any] = {
        "title": "移风易俗宣讲",
        "unit": unit,
        "category": category if isinstance(category, Category) else platform(category),
        "start": start,
        "end": end,
        "status": status,
        **data,
    }
    return services.activity_create(actor=actor, data=fields)


def approved_activity(actor: User, reviewer: User, unit: Unit, **data: Any) -> Activity:
    """Created by ``actor``, submitted and approved by ``reviewer`` (strictly above)."""
    activity = make_activity(actor, unit, **data)
    services.activity_submit(actor=actor, activity=activity)
    return services.activity_approve(actor=reviewer, activity=activity)


@pytest.fixture
def town_coordinator(world: World) -> User:
    """A coordinator of ``world.town``: reviews the reports of its stations."""
    user = cast(User, UserFactory(username="towncoord"))
    RoleFactory(user=user, unit=world.town, role=Role.COORDINATOR)
    return user
