"""Account pages shared by every kind of user."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

__all__ = ["PasswordChangeView"]


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (the coordinator sets the first one); stays logged in."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("dashboard")

    def form_valid(self, form: Any) -> Any:
        response = super().form_valid(form)
        messages.success(self.request, _("Your password was changed."))
        return response
