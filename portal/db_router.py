"""Read replicas for the statistics: reads inside :func:`reads_from_replica` go to the
``replica`` database, everything else (every write, and every read elsewhere) to
``default``.

``DATABASE_REPLICA_URL`` (optional, ``portal.settings.base``) adds ``DATABASES["replica"]``
and puts :class:`ReplicaRouter` in ``DATABASE_ROUTERS``; without it nothing changes. Only
views whose figures may lag the primary by the replication delay opt in — the statistics
dashboard and the stats API (``docs/scaling.md``) — with the decorator::

    @reads_from_replica()
    def unit_statistics(request, pk): ...

or the context manager ``with reads_from_replica(): ...``. A read inside a transaction on
``default`` stays on ``default`` (a view that writes must read its own writes), and so
does one outside any such block whatever the instance it starts from was loaded from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

# True inside reads_from_replica(); a context variable, so each thread (and each asyncio
# task) has its own.
_use_replica: ContextVar[bool] = ContextVar("portal_reads_from_replica", default=False)


@contextmanager
def reads_from_replica() -> Iterator[None]:
    """Send the ORM's reads to the replica while inside (a context manager, or a
    decorator: ``@reads_from_replica()``). Nests; has no effect without a replica."""
    token = _use_replica.set(True)
    try:
        yield
    finally:
        _use_replica.reset(token)


def replica_active() -> bool:
    """Whether a read now would go to the replica."""
    return (
        _use_replica.get()
        and REPLICA in connections.settings
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
    )


class ReplicaRouter:
    """``default`` is the primary; ``replica`` a copy of it that only answers reads."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        return REPLICA if replica_active() else DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The same rows on both: an object read from the replica may point at one from
        # the primary.
        aliases = {DEFAULT_DB_ALIAS, REPLICA}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # The replica gets its tables by replication, never by ``migrate``.
        return db == DEFAULT_DB_ALIAS
