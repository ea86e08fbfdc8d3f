"""The OpenAPI schema's error responses, declared once for every operation.

``AutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds to each operation the
error statuses it can answer, all with the ``Error`` component ``{"code", "message",
"detail"}`` (``portal.api.exceptions``). Which ones follows from the operation itself:

- 400 — it takes parameters or a body (ids out of range, bad filters, invalid input);
- 401 — the view authenticates (a missing, wrong or expired token);
- 403 — the view checks permissions beyond "anyone", or the method writes (CSRF);
- 404 — an id in the path, or a page number (``?page=`` past the end);
- 409 — a write by an authenticated view (a state that forbids it, a lost race);
- 413, 415 — it takes a body, or is a POST, PUT or PATCH (a client may send one: too
  large; a media type the view does not parse);
- 429 — the view is throttled.

A view's own ``@extend_schema(responses=...)`` for one of these keeps its description; the
error body is added to it.
"""

from typing import Any

from drf_spectacular import openapi
from rest_framework import permissions, serializers

__all__ = ["AutoSchema", "ErrorSerializer"]


class ErrorSerializer(serializers.Serializer):
    """Every error of the API."""

    code = serializers.CharField(
        help_text="Machine code: `invalid`, `not_authenticated`, `permission_denied`, "
        "`not_found`, `conflict`, `too_large`, `throttled`, or a more specific one."
    )
    message = serializers.CharField(
        help_text="What went wrong, for a person, in the request's language."
    )
    detail = serializers.DictField(
        help_text="Validation errors: field name → list of messages (`non_field_errors` for "
        "the whole input). Otherwise empty, or facts such as `wait` (seconds) on 429."
    )


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a field, a filter, an id out of range, malformed or too deeply "
    "nested JSON.",
    "401": "Not logged in, or the token is wrong or expired.",
    "403": "Logged in but not allowed to do this here.",
    "404": "Not found, or outside the caller's scope.",
    "409": "Not allowed in the object's current state, or a concurrent change won.",
    "413": "The request body or upload is too large.",
    "415": "The body's media type is not accepted here.",
    "429": "Too many requests; `detail.wait` says how many seconds to wait.",
}

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation["responses"]
        for status_code in self._error_statuses(operation):
            response = responses.setdefault(
                status_code, {"description": ERROR_DESCRIPTIONS[status_code]}
            )
            response.setdefault("content", {"application/json": {"schema": error}})
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation: dict[str, Any]) -> list[str]:
        view = self.view
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation
        authenticates = bool(view.get_authenticators())
        guarded = any(
            not isinstance(permission, permissions.AllowAny)
            for permission in view.get_permissions()
        )
        writes = self.method in _UNSAFE
        statuses = []
        if parameters or has_body:
            statuses.append("400")
        if authenticates:
            statuses.append("401")
        if guarded or (writes and authenticates):
            statuses.append("403")
        if any(p["in"] == "path" or p["name"] == "page" for p in parameters):
            statuses.append("404")
        if writes and authenticates:
            statuses.append("409")
        if has_body or self.method in {"POST", "PUT", "PATCH"}:
            statuses += ["413", "415"]
        if view.get_throttles():
            statuses.append("429")
        return statuses
