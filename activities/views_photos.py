"""The photo of an activity, served by Django with its permission (no public media URL).

``/activities/photos/<pk>/<size>/`` (``size`` ``full`` or ``thumb``): anyone may see the
photos of an approved (published) or planned (announced) activity; the photos of a draft,
submitted or returned one only staff with VIEW on its unit — anyone else gets 404, as if
there were no such photo. Public photos may be kept by browsers and proxies for
:data:`PUBLIC_MAX_AGE` seconds; the others are ``private, no-store``.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from practice.permissions import Action, can

from .choices import ActivityStatus
from .models import ActivityPhoto

__all__ = ["PUBLIC", "PUBLIC_MAX_AGE", "photo_file"]

# The states whose photos everyone may see (the published feed and the calendar).
PUBLIC = frozenset({ActivityStatus.APPROVED, ActivityStatus.PLANNED})
PUBLIC_MAX_AGE = 3600
SIZES = ("full", "thumb")


@require_safe
def photo_file(request: HttpRequest, pk: int, size: str) -> FileResponse:
    """One photo (or its thumbnail) as ``image/jpeg``; 404 for anyone who may not see it."""
    if size not in SIZES:
        raise Http404
    photo = ActivityPhoto.objects.select_related("activity__unit").filter(pk=pk).first()
    if photo is None:
        raise Http404
    public = photo.activity.status in PUBLIC
    if not public and not can(request.user, Action.VIEW, photo.activity.unit):
        raise Http404
    field = photo.image if size == "full" else photo.thumbnail
    try:
        handle = field.open("rb")
    except (OSError, ValueError) as exc:  # the file is gone from the storage
        raise Http404 from exc
    response = FileResponse(handle, content_type="image/jpeg")
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    if public:
        patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    else:
        patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response
