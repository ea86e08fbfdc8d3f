"""The one pagination of every list — pages and API alike.

A list costs a bounded number of queries whatever the size of the table:

* **the count** is exact up to :data:`COUNT_LIMIT` rows and never reads more than that:
  ``SELECT COUNT(*) FROM (SELECT id … LIMIT COUNT_LIMIT + 1)``. Above it, PostgreSQL's
  estimate of the filtered query (``EXPLAIN``, no rows read) stands in for it, never less
  than ``COUNT_LIMIT + 1``; ``paginator.count_is_exact`` says which. Other databases (the
  embedded SQLite of development) count exactly;
* **the page** is one ``LIMIT/OFFSET`` query. While the count is exact it is Django's lazy
  page (a view may use it as a subquery); with an estimated count it reads one row more
  than it shows, so "next" is true exactly when rows follow — a client following ``next``
  links reaches every row whatever the estimate said, and a page past the end is empty
  (404 in the API) rather than cut short.

Pages call :func:`paginate`; the API's ``portal.api.pagination.PageNumberPagination`` uses
:class:`BoundedPaginator`. Tests pin each list's queries at two sizes (see
``tests/practice/test_read_paths.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest

__all__ = [
    "COUNT_LIMIT",
    "BoundedPage",
    "BoundedPaginator",
    "bounded_count",
    "paginate",
    "query_without_page",
]

# Rows counted exactly; above this the planner's estimate is shown. Counting 10,000 index
# entries costs about a millisecond; a whole province's 571,000 units, about fifty.
COUNT_LIMIT = 10_000


def _estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` selects (no rows are read)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def bounded_count(queryset: QuerySet[Any], *, limit: int = COUNT_LIMIT) -> tuple[int, bool]:
    """``(count, exact)``: the rows ``queryset`` selects, read up to ``limit + 1`` of them.

    Above ``limit``: PostgreSQL's estimate (at least ``limit + 1``) and ``exact`` False;
    elsewhere an exact count.
    """
    capped = queryset.order_by().values("pk")[: limit + 1].count()
    if capped <= limit:
        return capped, True
    estimate = _estimate(queryset)
    if estimate is None:
        return queryset.order_by().count(), True
    return max(estimate, limit + 1), False


class BoundedPage(Page):
    """A page that knows whether rows follow it from the rows themselves (see module)."""

    def __init__(
        self, object_list: Any, number: int, paginator: Paginator, *, more: bool | None = None
    ) -> None:
        super().__init__(object_list, number, paginator)
        self._more = more

    def has_next(self) -> bool:
        if self._more is None:
            return super().has_next()
        return self._more


class BoundedPaginator(Paginator):
    """Django's paginator with a bounded count (:func:`bounded_count`)."""

    count_limit = COUNT_LIMIT

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        *,
        count_kept: tuple[str, tuple[str, ...]] | None = None,
        **kwargs: Any,
    ) -> None:
        """``count_kept`` — ``(name, namespaces)``: keep the count under the versions of
        those namespaces (``portal.cache.versioned_value``), counted once per write — for a
        public list whose count depends only on its filters, not on who asks."""
        kwargs.setdefault("orphans", 0)
        super().__init__(object_list, per_page, **kwargs)
        self.count_kept = count_kept

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        if isinstance(self.object_list, QuerySet):
            queryset = self.object_list
            if self.count_kept is not None:
                from portal.cache import versioned_value

                name, namespaces = self.count_kept
                return versioned_value(
                    name, namespaces, lambda: bounded_count(queryset, limit=self.count_limit)
                )
            return bounded_count(queryset, limit=self.count_limit)
        return len(self.object_list), True

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @property
    def count_is_exact(self) -> bool:
        return self._counted[1]

    def validate_number(self, number: Any) -> int:
        if self.count_is_exact:
            return super().validate_number(number)
        # An estimated count does not bound the page numbers; the rows do (``page``).
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from exc
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number: Any) -> BoundedPage:
        number = self.validate_number(number)
        if self.count_is_exact:
            bottom = (number - 1) * self.per_page
            return BoundedPage(self.object_list[bottom : bottom + self.per_page], number, self)
        bottom = (number - 1) * self.per_page
        rows: Sequence[Any] = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        return BoundedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)

    def get_page(self, number: Any) -> BoundedPage:
        """Like Django's: a malformed number shows the first page, one past the end the
        last (the first when the count is an estimate)."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(self.num_pages if self.count_is_exact else 1)


def paginate(request: HttpRequest, queryset: QuerySet[Any], per_page: int) -> BoundedPage:
    """The page ``?page=`` asks for (see :meth:`BoundedPaginator.get_page`)."""
    return BoundedPaginator(queryset, per_page).get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The request's query string without ``page``: what page links append ``page=`` to."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()
