"""Typed request helpers: views behind a login check know their user is a real account."""

from typing import TYPE_CHECKING, cast

from django.http import HttpRequest
from rest_framework.generics import GenericAPIView

if TYPE_CHECKING:
    from practice.models import User

__all__ = ["ActorMixin", "AuthenticatedRequest"]


class AuthenticatedRequest(HttpRequest):
    """An ``HttpRequest`` whose ``user`` is a logged-in account (``@login_required`` views)."""

    user: "User"


class ActorMixin(GenericAPIView):
    """For DRF views whose permission classes require authentication."""

    @property
    def actor(self) -> "User":
        return cast("User", self.request.user)
