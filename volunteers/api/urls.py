"""The volunteer endpoints of ``/api/v1/`` (API.md, "Volunteers and teams")."""

from django.urls import include, path

from portal.api.routers import Router

from .certificates import VolunteerCertificateView
from .hours import PointsViewSet, ServiceRecordViewSet
from .imports import VolunteerImportJobView, VolunteerImportView
from .teams import TeamViewSet
from .volunteers import VolunteerViewSet

router = Router()
router.register("volunteers", VolunteerViewSet, basename="volunteer")
router.register("teams", TeamViewSet, basename="team")
router.register("service-records", ServiceRecordViewSet, basename="service-record")
router.register("points", PointsViewSet, basename="points")

urlpatterns: list = [
    # Before the router: "import" is not a volunteer's id.
    path("volunteers/import/", VolunteerImportView.as_view(), name="volunteer-import"),
    path(
        "volunteers/import/<id:job>/",
        VolunteerImportJobView.as_view(),
        name="volunteer-import-job",
    ),
    path(
        "volunteers/<id:pk>/certificate/",
        VolunteerCertificateView.as_view(),
        name="volunteer-certificate",
    ),
    path("", include(router.urls)),
]
