"""The API's router: DRF's ``DefaultRouter`` with ids through the ``id`` path converter."""

from typing import Any

from rest_framework.routers import DefaultRouter

import portal.converters  # noqa: F401 - registers the "id" converter

__all__ = ["Router"]


class Router(DefaultRouter):
    """``/units/<id:pk>/``: a detail address takes ASCII digits only and refuses an id out
    of range with 400 before the view runs (``portal.converters``). A viewset whose lookup
    is not an id names its converter in ``lookup_value_converter`` (e.g. ``"slug"``)."""

    # ``/units.json``-style addresses: not part of the contract (``?format=`` still works),
    # and with path converters they would show up in the schema as ``/units{format}``.
    include_format_suffixes = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("use_regex_path", False)
        super().__init__(*args, **kwargs)

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        if getattr(viewset, "lookup_value_converter", None) is None and lookup_field in (
            "pk",
            "id",
        ):
            lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
            return f"<id:{lookup_prefix}{lookup_url_kwarg}>"
        return str(super().get_lookup_regex(viewset, lookup_prefix))
