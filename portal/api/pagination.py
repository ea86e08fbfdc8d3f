from rest_framework import pagination

from portal.pagination import BoundedPaginator

__all__ = ["PageNumberPagination"]


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"count", "next", "previous", "results"}`` with ``?page=`` and ``?page_size=`` (≤ 200).

    The count reads at most ``portal.pagination.COUNT_LIMIT`` rows: exact up to there, the
    database's estimate above it; ``next`` is null exactly when no rows follow the page
    (see ``portal.pagination``).
    """

    django_paginator_class = BoundedPaginator
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
