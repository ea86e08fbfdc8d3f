"""Certificate pages: the PDF for the volunteer (``/me/certificate/``) and for staff
(``/volunteers/<id>/certificate/``), and the public check ``/verify/<number>/`` (a stable
address, printed on every certificate) with its form ``/verify/``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from portal.errors import Conflict
from portal.http import AuthenticatedRequest, attachment

from . import certificates, selectors
from .models import Certificate, Volunteer
from .pdf import certificate_pdf

__all__ = [
    "certificate_download",
    "me_certificate",
    "pdf_response",
    "verify",
    "verify_form",
    "volunteer_certificate",
]


def pdf_response(request: HttpRequest, certificate: Certificate) -> HttpResponse:
    """The certificate's PDF as a download (not cached anywhere: it names a person)."""
    url = request.build_absolute_uri(reverse("certificate-verify", args=[certificate.number]))
    response = attachment(
        certificate_pdf(certificate, verify_url=url),
        content_type="application/pdf",
        filename=_("Volunteer service record certificate %(number)s.pdf")
        % {"number": certificate.number},
        fallback=f"certificate-{certificate.number}.pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


def certificate_download(request: AuthenticatedRequest, volunteer: Volunteer) -> HttpResponse:
    try:
        certificate = certificates.certificate_current(actor=request.user, volunteer=volunteer)
    except Conflict as exc:
        return render(
            request,
            "volunteers/me_certificate.html",
            {"volunteer": volunteer, "message": exc.message},
            status=exc.status_code,
        )
    return pdf_response(request, certificate)


@never_cache
@login_required
@require_safe
def me_certificate(request: AuthenticatedRequest) -> HttpResponse:
    volunteer = selectors.volunteer_of(request.user)
    if volunteer is None:
        raise Http404(_("This account is not registered as a volunteer."))
    return certificate_download(request, volunteer)


@never_cache
@login_required
@require_safe
def volunteer_certificate(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    volunteer = certificates.volunteer_for_certificate(request.user, pk)
    return certificate_download(request, volunteer)


@require_safe
def verify_form(request: HttpRequest) -> HttpResponse:
    """``/verify/?number=…``: go to that certificate's page; a number that cannot be one
    is said so on the form."""
    raw = request.GET.get("number", "")
    error = ""
    if raw.strip():
        number = certificates.normalize_number(raw)
        if number is not None:
            return redirect("certificate-verify", number=number)
        error = _("A certificate number has only letters and digits, as printed.")
    return render(request, "volunteers/verify_form.html", {"number": raw[:40], "error": error})


@require_safe
def verify(request: HttpRequest, number: str) -> HttpResponse:
    """What the certificate printed, and that it is genuine; 404 for any other number."""
    certificate = certificates.certificate_by_number(number)
    if certificate is None:
        response = render(request, "volunteers/verify_not_found.html", status=404)
    else:
        context = {
            "certificate": certificate,
            "hours": certificates.format_hours(certificate.hours),
        }
        response = render(request, "volunteers/verify.html", context)
    response["X-Robots-Tag"] = "noindex"
    return response
