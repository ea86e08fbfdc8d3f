"""The query-count pattern of every list page and endpoint: measure a request at two sizes
of the database and require the same queries (see docs/architecture.md, "Lists")."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext


def queries_of(client: Any, url: str, *, status: int = 200) -> list[str]:
    """The SQL ``client.get(url)`` runs, rendered page included (cache cleared first, so a
    cached page does not hide them)."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == status, (url, response.status_code)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
    return [query["sql"] for query in captured.captured_queries]
