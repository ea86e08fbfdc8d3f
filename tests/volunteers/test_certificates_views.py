"""Certificate pages and the API: downloads, the permission matrix, the verify page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from practice.choices import AuditAction
from practice.models import AuditEntry
from tests.factories import UserFactory
from volunteers import certificates
from volunteers.choices import VolunteerStatus
from volunteers.models import Certificate, Volunteer

from .conftest import make_volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(world: Any) -> Volunteer:
    return make_volunteer(world.station, name="欧阳·娜", user=UserFactory(), hours=Decimal("42.5"))


def api_url(pk: int) -> str:
    return reverse("api:volunteer-certificate", args=[pk])


def assert_pdf(response: Any) -> None:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")


# --- the PDF for the volunteer and for staff ------------------------------------------------


def test_me_certificate_downloads_own_pdf(browser_client: Any, own: Volunteer) -> None:
    response = browser_client(own.user).get(reverse("volunteer-me-certificate"))
    assert_pdf(response)
    cert = Certificate.objects.get()
    assert cert.volunteer == own
    assert cert.number in response["Content-Disposition"]
    # The QR code and the link point at the absolute verify address.
    assert f"http://testserver/verify/{cert.number}/".encode() in response.content
    # Downloading again hands out the same certificate.
    assert browser_client(own.user).get(reverse("volunteer-me-certificate")).status_code == 200
    assert Certificate.objects.count() == 1
    assert AuditEntry.objects.filter(action=AuditAction.CERTIFICATE_ISSUED).count() == 1


def test_me_certificate_anonymous_goes_to_login(client: Any) -> None:
    response = client.get(reverse("volunteer-me-certificate"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_me_certificate_without_volunteer_record(browser_client: Any, world: Any) -> None:
    assert browser_client(world.no_role).get(reverse("volunteer-me-certificate")).status_code == 404


@pytest.mark.parametrize("status", [VolunteerStatus.PENDING, VolunteerStatus.REJECTED])
def test_me_certificate_before_approval_says_why(
    browser_client: Any, world: Any, status: str
) -> None:
    volunteer = make_volunteer(world.station, status=status, user=UserFactory())
    response = browser_client(volunteer.user).get(reverse("volunteer-me-certificate"))
    assert response.status_code == 409
    assert b'id="certificate-unavailable"' in response.content
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("coordinator", 200),
        ("town_manager", 200),
        ("station_manager", 200),
        ("superuser", 200),
        ("other_coordinator", 404),
        ("no_role", 404),
    ],
)
def test_staff_page_matrix(
    browser_client: Any, world: Any, own: Volunteer, who: str, status: int
) -> None:
    url = reverse("volunteer-certificate", args=[own.pk])
    response = browser_client(getattr(world, who)).get(url)
    assert response.status_code == status
    if status == 200:
        assert_pdf(response)
    else:
        assert not Certificate.objects.exists()


def test_staff_page_anonymous_and_unknown(browser_client: Any, world: Any, own: Volunteer) -> None:
    response = browser_client(None).get(reverse("volunteer-certificate", args=[own.pk]))
    assert response.status_code == 302
    client = browser_client(world.coordinator)
    assert client.get(reverse("volunteer-certificate", args=[own.pk + 999])).status_code == 404


def test_a_volunteer_gets_only_their_own(browser_client: Any, world: Any, own: Volunteer) -> None:
    other = make_volunteer(world.station)
    client = browser_client(own.user)
    assert client.get(reverse("volunteer-certificate", args=[other.pk])).status_code == 404
    assert_pdf(client.get(reverse("volunteer-certificate", args=[own.pk])))


# --- the API ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (None, 401),
        ("no_role", 404),
        ("other_coordinator", 404),
        ("station_manager", 200),
        ("coordinator", 200),
    ],
)
def test_api_matrix(api: Any, world: Any, own: Volunteer, who: str | None, status: int) -> None:
    user = getattr(world, who) if who else None
    response = api(user).get(api_url(own.pk))
    assert response.status_code == status
    if status == 200:
        assert_pdf(response)
    else:
        assert response["Content-Type"].startswith("application/json")
        assert "code" in response.json()


def test_api_own_volunteer(api: Any, world: Any, own: Volunteer) -> None:
    # A strict Accept header still gets the PDF.
    assert_pdf(api(own.user).get(api_url(own.pk), HTTP_ACCEPT="application/pdf"))
    other = make_volunteer(world.station)
    assert api(own.user).get(api_url(other.pk)).status_code == 404


def test_api_pending_is_409(api: Any, world: Any) -> None:
    volunteer = make_volunteer(world.station, status=VolunteerStatus.PENDING, user=UserFactory())
    for user in (volunteer.user, world.coordinator):
        response = api(user).get(api_url(volunteer.pk))
        assert response.status_code == 409
        assert response.json()["code"] == "volunteer_not_registered"
    assert not Certificate.objects.exists()


def test_api_write_methods_are_refused(api: Any, world: Any, own: Volunteer) -> None:
    assert api(world.coordinator).post(api_url(own.pk)).status_code == 405


# --- /verify/ --------------------------------------------------------------------------------


@pytest.fixture
def issued(world: Any, own: Volunteer) -> Certificate:
    world.centre.contact_name = "王主任"
    world.centre.contact_phone = "0591-12345678"
    world.centre.save()
    return certificates.certificate_issue(actor=own.user, volunteer=own)


def test_verify_shows_the_snapshot(client: Any, own: Volunteer, issued: Certificate) -> None:
    # Later changes do not alter what the certificate showed.
    Volunteer.objects.filter(pk=own.pk).update(name="别人", confirmed_hours=Decimal("99"))
    response = client.get(reverse("certificate-verify", args=[issued.number]))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        "欧阳·娜",
        issued.id_number_masked,
        issued.volunteer_number,
        issued.number,
        "42.5",
        "王主任 0591-12345678",
        issued.issuing_unit.name,
        'id="certificate-valid"',
    ):
        assert shown in page
    assert "别人" not in page
    assert "99" not in page.split('id="certificate-hours"')[1][:80]
    assert own.id_number not in page
    assert own.phone not in page
    assert response["X-Robots-Tag"] == "noindex"


def test_verify_is_case_insensitive(client: Any, issued: Certificate) -> None:
    response = client.get(reverse("certificate-verify", args=[issued.number.lower()]))
    assert response.status_code == 200
    assert issued.number in response.content.decode()


@pytest.mark.parametrize(
    "number",
    ["ZYZM20261203AAAAAAAAAAAA", "x", "A" * 33, "A" * 500, "证书编号", "ZYZM%3Cb%3E", "..", "'"],
)
def test_verify_unknown_or_malformed_is_404(client: Any, issued: Certificate, number: str) -> None:
    response = client.get(f"/verify/{number}/")
    assert response.status_code == 404
    page = response.content.decode()
    assert 'id="certificate-not-found"' in page
    assert issued.name not in page
    assert issued.number not in page


def test_verify_form(client: Any, issued: Certificate) -> None:
    url = reverse("certificate-verify-form")
    assert client.get(url).status_code == 200
    response = client.get(url, {"number": f" {issued.number.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == reverse("certificate-verify", args=[issued.number])
    bad = client.get(url, {"number": "<script>"})
    assert bad.status_code == 200
    assert b"is-invalid" in bad.content
    assert b"<script>" not in bad.content


def test_verify_page_queries(
    client: Any, issued: Certificate, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert client.get(reverse("certificate-verify", args=[issued.number])).status_code == 200


def test_links_to_the_certificate(browser_client: Any, world: Any, own: Volunteer) -> None:
    link = reverse("volunteer-me-certificate").encode()
    assert link in browser_client(own.user).get(reverse("volunteer-me")).content
    pending = make_volunteer(world.station, status=VolunteerStatus.PENDING, user=UserFactory())
    assert link not in browser_client(pending.user).get(reverse("volunteer-me")).content
    detail = browser_client(world.coordinator).get(reverse("volunteer-detail", args=[own.pk]))
    assert reverse("volunteer-certificate", args=[own.pk]).encode() in detail.content
