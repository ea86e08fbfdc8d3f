"""The in-portal inbox (``/inbox/``): a person's notices (:mod:`portal.notify`), newest
first. Opening one marks it read and follows its link; only one's own messages exist here
(another person's id is 404)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal import notify
from portal.http import AuthenticatedRequest
from portal.pagination import paginate, query_without_page

__all__ = ["inbox", "inbox_open", "inbox_read_all"]

MESSAGES_PER_PAGE = 30


@login_required
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    page = paginate(request, notify.inbox_of(request.user), MESSAGES_PER_PAGE)
    return render(
        request,
        "portal/inbox.html",
        {"page": page, "inbox": page.object_list, "query": query_without_page(request)},
    )


@login_required
def inbox_open(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    message = notify.inbox_of(request.user).filter(pk=pk).only("pk", "link", "read_at").first()
    if message is None:
        raise Http404
    if message.read_at is None:
        notify.mark_read(user=request.user, pks=[message.pk])
    link = message.link
    if link and url_has_allowed_host_and_scheme(
        link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(link)
    return redirect("inbox")


@require_POST
@login_required
def inbox_read_all(request: AuthenticatedRequest) -> HttpResponse:
    count = notify.mark_read(user=request.user)
    if count:
        messages.success(request, _("All messages are marked read."))
    return redirect("inbox")
