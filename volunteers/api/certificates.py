"""``GET /api/v1/volunteers/{id}/certificate/`` → the service-record certificate as a PDF
(API.md). The volunteer gets their own; staff the volunteers in their view (else 404)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from portal.api.schema import ErrorSerializer

from .. import certificates
from ..views_certificates import pdf_response

__all__ = ["VolunteerCertificateView"]


class VolunteerCertificateView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # A PDF whatever the client says it accepts (errors are JSON): a strict Accept
        # header must not turn a download into a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="Download the volunteer's service-record certificate (PDF)",
        description=(
            "Issues a certificate of the volunteer's confirmed hours, or hands out the latest "
            "one while its figures are unchanged; its number verifies at /verify/<number>/. "
            "409 for a registration awaiting approval or not approved."
        ),
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The certificate (PDF, A4)."
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The registration awaits approval or was not approved.",
            ),
        },
    )
    def get(self, request: Request, pk: int, **kwargs: Any) -> HttpResponse:
        volunteer = certificates.volunteer_for_certificate(request.user, pk)
        certificate = certificates.certificate_current(actor=request.user, volunteer=volunteer)
        return pdf_response(request, certificate)
