"""Turn every API error into the contract's shape: ``{"code", "message", "detail"}``."""

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ApplicationError

from .parsers import BodyParseError

__all__ = ["describe_bad_request", "error_body", "exception_handler"]


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": str(message), "detail": detail or {}}


def _too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return _("The request is too large.")
    return _("The request is too large: at most %(size)s.") % {"size": filesizeformat(limit)}


def describe_bad_request(exception: Exception | None) -> tuple[int, str, str]:
    """(status, code, message) for what Django raises as a bad request."""
    if isinstance(exception, RequestDataTooBig):
        return 413, "too_large", _too_large_message()
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return 400, "too_many_fields", _("The request has too many fields or files.")
    if isinstance(exception, BadRequest) and exception.args:
        # Raised with a message for the user (e.g. an id out of range in the address).
        return 400, "invalid", str(exception.args[0])
    # Other SuspiciousOperations (a disallowed Host, a malformed cookie…): say nothing more.
    return 400, "bad_request", _("The request could not be understood.")


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure → ``{"field": [...], "items.0.hours": [...]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                out.update(_flatten(value, f"{name}."))
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                for index, item in enumerate(value):
                    if item:
                        out.update(_flatten(item, f"{name}.{index}."))
            elif isinstance(value, list):
                out[name] = [str(v) for v in value]
            else:
                out[name] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, str(exc.message), exc.detail), status=exc.status_code)
    if isinstance(exc, SuspiciousOperation | BadRequest):
        # Raised while reading the request (a body over the limit, too many fields).
        if isinstance(exc, SuspiciousOperation):  # logged as Django itself would
            logging.getLogger(f"django.security.{type(exc).__name__}").error(str(exc))
        status_code, code, message = describe_bad_request(exc)
        return Response(error_body(code, message), status=status_code)
    if isinstance(exc, exceptions.ParseError) and not isinstance(exc, BodyParseError):
        exc = BodyParseError(
            _("The request body could not be read; check its format and its Content-Type.")
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        messages = [m for msgs in detail.values() for m in msgs]
        message = messages[0] if len(messages) == 1 else _("The input is not valid.")
        response.data = error_body("invalid", message, detail)
        response.status_code = status.HTTP_400_BAD_REQUEST
        return response

    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        response.data = error_body(str(code), str(exc.detail))
        if isinstance(exc, exceptions.Throttled):
            response.data["detail"] = {"wait": getattr(exc, "wait", None)}
    return response
