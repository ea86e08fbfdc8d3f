"""Account pages shared by every kind of user."""

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy
from django.utils.translation import gettext as _

__all__ = ["PasswordChangeView"]


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's own password (the coordinator sets the first one); stays logged in."""

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("dashboard")

    def form_valid(self, form: Any) -> HttpResponse:
        # The one path for a new password of one's own (pages and API): it also deletes
        # the API token, and other sessions end with the old password hash.
        from practice import services

        user = services.password_change_own(
            user=form.user,
            old_password=form.cleaned_data["old_password"],
            new_password=form.cleaned_data["new_password1"],
        )
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password was changed."))
        return HttpResponseRedirect(self.get_success_url())
