"""The API's JSON parser: bounded nesting, and its refusals in the user's language.

The body's size is bounded before parsing by Django (``DATA_UPLOAD_MAX_MEMORY_SIZE``, a
413 ``too_large`` through ``portal.api.exceptions``). Nesting is bounded here: Python's
parser recurses once per level, so ``[`` × 100,000 used to end in a ``RecursionError``
(500); any body nested deeper than :data:`MAX_DEPTH` levels is refused with 400, however
the parser got on with it.
"""

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant

__all__ = ["MAX_DEPTH", "BodyParseError", "JSONParser"]

# Objects and arrays inside each other; the deepest body of the API needs 3.
MAX_DEPTH = 32


class BodyParseError(ParseError):
    """A body refused with a message for the user. DRF's parsers word theirs in English
    ("Multipart form parse error - …"); the exception handler replaces those."""


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            # A text encoding, not a bytes-to-bytes codec such as bz2_codec, which would
            # inflate the body after its size was checked.
            "".encode(encoding)
        except (LookupError, UnicodeError):
            raise BodyParseError(
                _("The request body's character set is not supported; send UTF-8.")
            ) from None
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError:
            raise BodyParseError(
                _("The request body is not valid %(encoding)s text.") % {"encoding": encoding}
            ) from None
        try:
            data = json.loads(
                text, parse_constant=strict_constant if api_settings.STRICT_JSON else None
            )
        except RecursionError:
            raise _too_deep() from None
        except json.JSONDecodeError as exc:
            raise BodyParseError(
                _("The request body is not valid JSON (line %(line)d, column %(column)d).")
                % {"line": exc.lineno, "column": exc.colno}
            ) from None
        except ValueError:  # NaN or Infinity, a number of over 4,300 digits
            raise BodyParseError(_("The request body is not valid JSON.")) from None
        if _deeper_than(data, MAX_DEPTH):
            raise _too_deep()
        return data


def _too_deep() -> ParseError:
    return BodyParseError(
        _("The request body is nested too deeply (at most %(depth)d levels).")
        % {"depth": MAX_DEPTH}
    )


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels (iteratively: no recursion)."""
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
