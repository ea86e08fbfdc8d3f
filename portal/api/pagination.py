import functools
import hashlib
from typing import Any

from rest_framework import pagination
from rest_framework.request import Request

from portal.pagination import BoundedPaginator

__all__ = ["PageNumberPagination"]


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"count", "next", "previous", "results"}`` with ``?page=`` and ``?page_size=`` (≤ 200).

    The count reads at most ``portal.pagination.COUNT_LIMIT`` rows: exact up to there, the
    database's estimate above it; ``next`` is null exactly when no rows follow the page
    (see ``portal.pagination``).
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    _count_kept: tuple[str, tuple[str, ...]] | None = None

    @property
    def django_paginator_class(self) -> Any:  # type: ignore[override]
        return functools.partial(BoundedPaginator, count_kept=self._count_kept)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        """A view naming ``public_count_namespaces`` (the public unit list) has the count of
        an anonymous request kept under those versions, per filter: counted once per write,
        not per request (the rows of the page are read each time)."""
        self._count_kept = None
        namespaces = getattr(view, "public_count_namespaces", None)
        if namespaces and not request.user.is_authenticated:
            filters = sorted(
                (key, value)
                for key, values in request.query_params.lists()
                if key not in (self.page_query_param, self.page_size_query_param)
                for value in values
            )
            digest = hashlib.sha256(repr((request.path, filters)).encode()).hexdigest()[:32]
            self._count_kept = (f"api-count:{digest}", tuple(namespaces))
        return super().paginate_queryset(queryset, request, view)
