"""The read-replica router (``portal.db_router``): with a second connection, ``replica``,
to the same test database (what ``TEST: {"MIRROR": "default"}`` gives; on PostgreSQL a
second session), the statistics' reads go to it and every write to ``default``; and the
settings add the replica only when ``DATABASE_REPLICA_URL`` is set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from portal.db_router import REPLICA, ReplicaRouter, reads_from_replica, replica_active
from practice.models import Category, Unit
from tests.conftest import World
from tests.test_settings import PRODUCTION, run

ROUTER = "portal.db_router.ReplicaRouter"


@pytest.fixture(scope="module", autouse=True)
def _replica_alias() -> Iterator[None]:
    """``DATABASES["replica"]`` as a mirror of the test database: a connection of its own
    to it (on SQLite, the shared in-memory database; on PostgreSQL a second session).
    Module-scoped, so that it exists before the test case checks its ``databases``."""
    config = dict(connections.settings[DEFAULT_DB_ALIAS])
    config["TEST"] = {**config.get("TEST", {}), "MIRROR": DEFAULT_DB_ALIAS}
    connections.settings[REPLICA] = config
    try:
        yield
    finally:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]


@pytest.fixture
def replica() -> Iterator[str]:
    """The router installed. The tests are transactional: rows written through
    ``default`` must be committed for the other connection to see them, as on a real
    replica."""
    with override_settings(DATABASE_ROUTERS=[ROUTER]):
        assert connections[REPLICA] is not connections[DEFAULT_DB_ALIAS]
        yield REPLICA


two_connections = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])


class Captured:
    """The SQL each of the two connections ran inside the ``with`` block."""

    def __enter__(self) -> Captured:
        self._default = CaptureQueriesContext(connections[DEFAULT_DB_ALIAS])
        self._replica = CaptureQueriesContext(connections[REPLICA])
        self._default.__enter__()
        self._replica.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._replica.__exit__(*exc)
        self._default.__exit__(*exc)

    @property
    def default(self) -> list[str]:
        return [q["sql"] for q in self._default.captured_queries]

    @property
    def replica(self) -> list[str]:
        return [q["sql"] for q in self._replica.captured_queries]


def _touches(queries: list[str], table: str) -> bool:
    return any(table in sql for sql in queries)


@two_connections
def test_reads_go_to_the_replica_only_inside_the_block(replica: str) -> None:
    unit = Unit.objects.create(name="复制县", kind="centre")
    with Captured() as outside:
        assert Unit.objects.get(pk=unit.pk).name == "复制县"
    assert outside.replica == [] and _touches(outside.default, "practice_unit")

    with Captured() as inside, reads_from_replica():
        read = Unit.objects.get(pk=unit.pk)  # the committed row, through the other session
        assert read._state.db == REPLICA
        assert Category.objects.count() >= 0
    assert inside.default == []
    assert _touches(inside.replica, "practice_unit")
    assert _touches(inside.replica, "practice_category")
    assert not replica_active()


@two_connections
def test_writes_inside_the_block_go_to_default(replica: str) -> None:
    unit = Unit.objects.create(name="写入县", kind="centre")
    with Captured() as captured, reads_from_replica():
        read = Unit.objects.get(pk=unit.pk)
        read.name = "改名县"
        read.save()  # loaded from the replica, saved to the primary
        Unit.objects.create(name="新县", kind="centre")
        Unit.objects.filter(name="新县").update(is_active=False)
    writes = [sql for sql in captured.default if sql.split()[0] in {"INSERT", "UPDATE"}]
    assert len(writes) >= 3, captured.default
    assert not any(sql.split()[0] in {"INSERT", "UPDATE", "DELETE"} for sql in captured.replica)
    assert Unit.objects.get(pk=unit.pk).name == "改名县"


@two_connections
def test_a_transaction_on_default_reads_its_own_writes(replica: str) -> None:
    with Captured() as captured, reads_from_replica(), transaction.atomic():
        unit = Unit.objects.create(name="事务县", kind="centre")
        assert not replica_active()
        assert Unit.objects.get(pk=unit.pk).name == "事务县"  # uncommitted: only on default
    assert captured.replica == []


@two_connections
def test_the_decorator_form_and_nesting(replica: str) -> None:
    seen: list[bool] = []

    @reads_from_replica()
    def view() -> None:
        seen.append(replica_active())
        with reads_from_replica():
            seen.append(replica_active())
        seen.append(replica_active())

    view()
    assert seen == [True, True, True]
    assert not replica_active()


@two_connections
def test_stats_api_reads_from_the_replica(replica: str, world: World) -> None:
    client = Client()
    client.force_login(world.coordinator)
    with Captured() as captured:
        response = client.get(f"/api/v1/units/{world.centre.pk}/stats/")
    assert response.status_code == 200
    assert response.json()["unit"] == world.centre.pk
    # The figures' tables are read on the replica; the primary only served the session
    # and the user (middleware, outside the view).
    assert _touches(captured.replica, "practice_unit")
    assert _touches(captured.replica, "volunteers_volunteer")
    assert not _touches(captured.default, "practice_unit")
    assert not _touches(captured.default, "volunteers_volunteer")
    assert _touches(captured.default, "django_session")


@two_connections
def test_statistics_dashboard_reads_from_the_replica(replica: str, world: World) -> None:
    try:
        url = reverse("unit-statistics", args=[world.centre.pk])
    except NoReverseMatch:  # pragma: no cover - the page is part 4's
        pytest.fail("The unit-statistics page does not exist.")
    client = Client()
    client.force_login(world.coordinator)
    with Captured() as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert _touches(captured.replica, "activities_activitysummary")
    assert not _touches(captured.default, "activities_activitysummary")
    assert not _touches(captured.default, "practice_unit")


def test_without_a_replica_the_router_sends_everything_to_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = ReplicaRouter()
    monkeypatch.delitem(connections.settings, REPLICA)
    with reads_from_replica():
        assert router.db_for_read(Unit) == DEFAULT_DB_ALIAS
        assert router.db_for_write(Unit) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "practice") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "practice") is True


SHOW_DATABASES = """
import json
import django
django.setup()
from django.conf import settings
print(json.dumps({
    "aliases": sorted(settings.DATABASES),
    "routers": settings.DATABASE_ROUTERS,
    "replica": {
        k: settings.DATABASES["replica"].get(k)
        for k in ("NAME", "HOST", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")
    } | {"MIRROR": settings.DATABASES["replica"]["TEST"]["MIRROR"]
    } if "replica" in settings.DATABASES else None,
}))
"""


def _databases(**env: str) -> dict[str, Any]:
    result = run(["-c", SHOW_DATABASES], **env)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert isinstance(values, dict)
    return values


def test_settings_add_the_replica_only_when_configured() -> None:
    primary = "postgres://portal:pw@10.0.0.1:5432/portal"
    replica_url = "postgres://portal:pw@10.0.0.2:5432/portal"
    without = _databases(**PRODUCTION, REDIS_URL="", DATABASE_URL=primary, DATABASE_REPLICA_URL="")
    assert without == {"aliases": ["default"], "routers": [], "replica": None}
    configured = _databases(
        **PRODUCTION, REDIS_URL="", DATABASE_URL=primary, DATABASE_REPLICA_URL=replica_url
    )
    assert configured["aliases"] == ["default", "replica"]
    assert configured["routers"] == [ROUTER]
    assert configured["replica"] == {
        "NAME": "portal",
        "HOST": "10.0.0.2",
        "CONN_MAX_AGE": 60,  # kept like the primary's in production
        "CONN_HEALTH_CHECKS": True,
        "MIRROR": "default",  # tests use the primary's test database
    }
