"""The ``id`` path converter: every id in a page or API address (``/units/<id:pk>/``).

ASCII digits only (``/units/1.5/`` and ``/units/-1/`` match nothing: 404). A number of
digits beyond the largest database id (``portal.validators.ID_MAX``) is refused with 400
before any view or query runs: on SQLite such a number overflowed inside the driver (500).
Importing this module registers the converter; ``portal.urls`` does so first.
"""

from django.core.exceptions import BadRequest, ValidationError
from django.urls import register_converter

from portal.validators import parse_id

__all__ = ["IdConverter"]


class IdConverter:
    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        try:
            return parse_id(value)
        except ValidationError as exc:
            # Not ValueError, which would mean "no match" and let the address be a 404.
            raise BadRequest(exc.messages[0]) from exc

    def to_url(self, value: int | str) -> str:
        # ValueError makes reverse() raise NoReverseMatch, as for any argument a pattern refuses.
        try:
            return str(parse_id(value))
        except ValidationError:
            raise ValueError(f"not an id: {value!r}") from None


register_converter(IdConverter, "id")
