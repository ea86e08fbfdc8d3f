"""``/api/v1/activities/{id}/photos/`` (POST, multipart) and ``…/photos/{photo_id}/``
(DELETE): add and remove an activity's photos through :mod:`activities.photos`. The
activity is looked up in the caller's staff view (404 outside it); the service checks the
role (403), the state (409) and the file (400 on field ``image``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.errors import NotFound, PayloadTooLarge

from .. import photos, selectors
from ..models import Activity, ActivityPhoto

__all__ = ["ActivityPhotoSerializer", "ActivityPhotoView", "ActivityPhotosView", "photo_data"]

# Room for the multipart framing and the caption around the image in a request's body.
MULTIPART_SLACK = 64 * 1024


def photo_data(photo: ActivityPhoto, request: Any = None) -> dict[str, Any]:
    """The photo's JSON: ``{"id", "url", "thumbnail_url", "width", "height", "caption"}``
    (addresses of :func:`activities.views_photos.photo_file`, absolute with a request)."""
    full = reverse("activity-photo", args=[photo.pk, "full"])
    thumb = reverse("activity-photo", args=[photo.pk, "thumb"])
    if request is not None:
        full, thumb = request.build_absolute_uri(full), request.build_absolute_uri(thumb)
    return {
        "id": photo.pk,
        "url": full,
        "thumbnail_url": thumb,
        "width": photo.width,
        "height": photo.height,
        "caption": photo.caption,
    }


class ActivityPhotoSerializer(serializers.Serializer[Any]):
    """A photo as the API gives it (read-only)."""

    id = serializers.IntegerField(read_only=True)
    url = serializers.CharField(read_only=True, help_text="The re-encoded JPEG (≤ 2048 px).")
    thumbnail_url = serializers.CharField(read_only=True, help_text="≤ 480 px.")
    width = serializers.IntegerField(read_only=True)
    height = serializers.IntegerField(read_only=True)
    caption = serializers.CharField(read_only=True)

    def to_representation(self, instance: Any) -> Any:
        return photo_data(instance, self.context.get("request"))


class PhotoUploadSerializer(serializers.Serializer[Any]):
    """The request body (for the schema; the service checks the file itself)."""

    image = serializers.FileField(
        help_text="A JPEG or PNG photo, checked by its content, at most 8 MB by default."
    )
    caption = serializers.CharField(required=False, allow_blank=True, max_length=200)


def _activity(request: Request, pk: int) -> Activity:
    activity = selectors.activities_in_scope(request.user).filter(pk=pk).first()
    if activity is None:
        raise NotFound()
    return activity


class ActivityPhotosView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="activities_photos_create",
        summary="Add a photo (managers and coordinators; planned, draft or returned)",
        request={"multipart/form-data": PhotoUploadSerializer},
        responses={
            201: ActivityPhotoSerializer,
            400: OpenApiResponse(
                description="`invalid_image`: not a readable JPEG or PNG, or too many pixels; "
                "`file_too_large`; `too_many_photos`; `required` (`detail.image`)."
            ),
            409: OpenApiResponse(description="`invalid_transition`: submitted or approved."),
            413: OpenApiResponse(description="`file_too_large`: a body far over the limit."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        activity = _activity(request, pk)
        # A body declared far larger than a photo may be is refused before it is read.
        declared = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.ACTIVITY_PHOTO_MAX_BYTES
        if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
            message = photos.too_large_message(limit)
            raise PayloadTooLarge(message, code="file_too_large", detail={"image": [message]})
        photo = photos.photo_add(
            actor=request.user,  # type: ignore[arg-type]
            activity=activity,
            upload=request.FILES.get("image"),
            caption=request.data.get("caption", ""),
        )
        return Response(photo_data(photo, request), status=status.HTTP_201_CREATED)


class ActivityPhotoView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        operation_id="activities_photos_destroy",
        summary="Remove a photo (planned, draft or returned)",
        responses={204: None},
    )
    def delete(self, request: Request, pk: int, photo_id: int) -> Response:
        activity = _activity(request, pk)
        photo = ActivityPhoto.objects.filter(pk=photo_id, activity=activity).first()
        if photo is None:
            raise NotFound()
        photo.activity = activity
        photos.photo_remove(actor=request.user, photo=photo)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
