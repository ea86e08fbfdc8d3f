"""Fixtures: two small counties and one user per place in the permission matrix.

    county A: 甲县中心 (centre)
        ├── 一镇所 (institute) ── 一村站, 二村站 (stations); 一村站 ── 一村点 (point)
        └── 二镇所 (institute) ── 三村站 (station)
    county B: 乙县中心 ── 乙镇所 ── 乙村站

Roles: ``coordinator`` on 甲县中心, ``town_manager`` on 一镇所, ``station_manager`` on
一村站, ``other_coordinator`` on 乙县中心; ``no_role`` is a logged-in account without a
role; ``superuser`` is a superuser; ``recruit`` is an account the coordinator created that
holds no role yet (the account a coordinator may grant a first role to).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from practice.choices import Role, UnitKind
from practice.models import Unit, User
from tests.factories import RoleFactory, UnitFactory, UserFactory

# Shared with every test module that renders translated text.
from tests.test_translations import compiled_catalogs  # noqa: F401 - a fixture


@dataclass
class World:
    centre: Unit
    town: Unit
    town2: Unit
    station: Unit
    station2: Unit
    station3: Unit
    point: Unit
    other_centre: Unit
    other_town: Unit
    other_station: Unit
    superuser: User
    coordinator: User
    town_manager: User
    station_manager: User
    other_coordinator: User
    no_role: User
    recruit: User

    def refresh(self) -> None:
        for value in vars(self).values():
            if isinstance(value, Unit | User):
                value.refresh_from_db()
                if hasattr(value, "_portal_grants"):
                    del value._portal_grants


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters and cached figures never leak from one test into the next
    (with REDIS_URL set the cache outlives the test process)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Celery tasks run in the test's own process and transaction, as on the embedded
    set-up — with ``REDIS_URL`` too, where no worker could see a test's uncommitted rows.
    Only tests marked ``worker`` send their tasks through the broker to a real worker."""
    if request.node.get_closest_marker("worker"):
        yield
        return
    from portal.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def world(db: Any) -> World:
    centre = UnitFactory(name="甲县中心", kind=UnitKind.CENTRE)
    town = UnitFactory(name="一镇所", kind=UnitKind.INSTITUTE, parent=centre)
    town2 = UnitFactory(name="二镇所", kind=UnitKind.INSTITUTE, parent=centre)
    station = UnitFactory(name="一村站", kind=UnitKind.STATION, parent=town)
    station2 = UnitFactory(name="二村站", kind=UnitKind.STATION, parent=town)
    station3 = UnitFactory(name="三村站", kind=UnitKind.STATION, parent=town2)
    point = UnitFactory(name="一村点", kind=UnitKind.POINT, parent=station)
    other_centre = UnitFactory(name="乙县中心", kind=UnitKind.CENTRE)
    other_town = UnitFactory(name="乙镇所", kind=UnitKind.INSTITUTE, parent=other_centre)
    other_station = UnitFactory(name="乙村站", kind=UnitKind.STATION, parent=other_town)
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    coordinator = RoleFactory(
        user=UserFactory(username="coord"), unit=centre, role=Role.COORDINATOR
    ).user
    town_manager = RoleFactory(user=UserFactory(username="townmgr"), unit=town).user
    station_manager = RoleFactory(user=UserFactory(username="stationmgr"), unit=station).user
    other_coordinator = RoleFactory(
        user=UserFactory(username="othercoord"), unit=other_centre, role=Role.COORDINATOR
    ).user
    no_role = UserFactory(username="norole")
    recruit = UserFactory(username="recruit", created_by=coordinator)
    w = World(
        centre,
        town,
        town2,
        station,
        station2,
        station3,
        point,
        other_centre,
        other_town,
        other_station,
        superuser,
        coordinator,
        town_manager,
        station_manager,
        other_coordinator,
        no_role,
        recruit,
    )
    w.refresh()
    return w


@pytest.fixture
def api() -> Any:
    """``api(user)`` → an APIClient authenticated as ``user`` (``None``: anonymous)."""

    def make(user: User | None = None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def browser_client(client: Any) -> Any:
    """``browser_client(user)`` → Django's test client logged in as ``user``."""

    def make(user: User | None = None) -> Any:
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return make
