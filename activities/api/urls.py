"""The activity endpoints of ``/api/v1/`` (API.md, "Activities")."""

from django.urls import include, path

from portal.api.routers import Router

from .views import ActivityViewSet

router = Router()
router.register("activities", ActivityViewSet, basename="activity")

urlpatterns = [path("", include(router.urls))]
