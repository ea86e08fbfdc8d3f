"""The activity endpoints of ``/api/v1/`` (API.md, "Activities")."""

from django.urls import include, path

from portal.api.routers import Router

from .attendance import CheckInView, CheckOutView, SignupView
from .photos import ActivityPhotosView, ActivityPhotoView
from .views import ActivityViewSet

router = Router()
router.register("activities", ActivityViewSet, basename="activity")

urlpatterns = [
    path("activities/<id:pk>/signup/", SignupView.as_view(), name="activity-signup-api"),
    path("activities/<id:pk>/check-in/", CheckInView.as_view(), name="activity-check-in-api"),
    path("activities/<id:pk>/check-out/", CheckOutView.as_view(), name="activity-check-out-api"),
    path("activities/<id:pk>/photos/", ActivityPhotosView.as_view(), name="activity-photos-api"),
    path(
        "activities/<id:pk>/photos/<id:photo_id>/",
        ActivityPhotoView.as_view(),
        name="activity-photo-api",
    ),
    path("", include(router.urls)),
]
