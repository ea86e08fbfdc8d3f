"""One error base for the whole portal.

Services raise these; the DRF exception handler (``portal.api.exceptions``) turns them into
``{"code", "message", "detail"}`` with the right HTTP status, and page views show the
message to the user.
"""

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = [
    "ApplicationError",
    "Conflict",
    "InvalidTransition",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ValidationFailed",
    "field_error",
]


class ApplicationError(Exception):
    """A failure the user should be told about, with a machine code and a human message."""

    status_code = 400
    default_code = "error"
    default_message: str | Promise = _("The request could not be completed.")

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        code: str | None = None,
        detail: dict[str, list[str]] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.detail: dict[str, Any] = detail or {}
        if message is None:
            # One field error: say it directly rather than "the input is not valid".
            messages = [m for msgs in self.detail.values() for m in msgs]
            message = messages[0] if len(messages) == 1 else self.default_message
        self.message = message
        super().__init__(str(self.message))


class ValidationFailed(ApplicationError):
    status_code = 400
    default_code = "invalid"
    default_message = _("The input is not valid.")


def field_error(field: str, message: str, *, code: str = "invalid") -> ValidationFailed:
    """A 400 about one field: ``message`` both as the error's message and as the field's."""
    return ValidationFailed(message, code=code, detail={field: [message]})


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"
    default_message = _("You are not allowed to do this.")


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"
    default_message = _("Not found.")


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "too_large"
    default_message = _("The upload is too large.")


class RateLimited(ApplicationError):
    status_code = 429
    default_code = "throttled"
    default_message = _("Too many requests; please try again later.")


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"
    default_message = _("The action conflicts with the current state; reload and try again.")


class InvalidTransition(Conflict):
    default_code = "invalid_transition"
    default_message = _("This action is not allowed in the current state.")
