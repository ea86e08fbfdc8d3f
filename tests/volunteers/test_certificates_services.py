"""Issuing certificates: who may, what they show, reuse, numbers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import ngettext, pgettext

from portal.errors import Conflict, NotFound, ValidationFailed
from practice.choices import AuditAction
from practice.models import AuditEntry, Category
from tests.factories import UserFactory
from volunteers import certificates
from volunteers.choices import RecordStatus, VolunteerStatus
from volunteers.models import Certificate, ServiceRecord, Volunteer

from .conftest import make_volunteer

pytestmark = pytest.mark.django_db

NUMBER = re.compile(r"ZYZM[0-9]{8}[A-Z2-7]{12}")


def category(code: str, name: str) -> Category:
    return Category.objects.get_or_create(code=code, defaults={"name": name})[0]


def record(
    volunteer: Volunteer,
    hours: str,
    cat: Category | None,
    *,
    status: str = RecordStatus.CONFIRMED,
    confirmer: Any,
) -> ServiceRecord:
    return ServiceRecord.objects.create(
        volunteer=volunteer,
        unit=volunteer.unit,
        date=dt.date(2026, 5, 1),
        hours=Decimal(hours),
        category=cat,
        status=status,
        confirmed_by=confirmer if status != RecordStatus.PENDING else None,
    )


@pytest.fixture
def own(world: Any) -> Volunteer:
    return make_volunteer(world.station, name="欧阳·娜", user=UserFactory(), hours=Decimal("42.5"))


def test_volunteer_gets_a_snapshot_of_confirmed_service(world: Any, own: Volunteer) -> None:
    world.centre.contact_name = "王主任"
    world.centre.contact_phone = "0591-12345678"
    world.centre.save()
    theory, culture = category("theory", "理论宣讲"), category("culture", "文化服务")
    for hours in ("2.5", "10"):
        record(own, hours, theory, confirmer=world.coordinator)
    record(own, "15", culture, confirmer=world.coordinator)
    record(own, "15", culture, confirmer=world.coordinator)
    record(own, "8", culture, status=RecordStatus.PENDING, confirmer=None)
    record(own, "5", theory, status=RecordStatus.VOID, confirmer=world.coordinator)
    record(own, "1.25", None, confirmer=world.coordinator)

    cert = certificates.certificate_issue(actor=own.user, volunteer=own)

    assert NUMBER.fullmatch(cert.number)
    assert (cert.name, cert.id_number_masked, cert.volunteer_number) == (
        "欧阳·娜",
        own.id_number_masked,
        own.number,
    )
    assert cert.hours == Decimal("42.5")
    assert cert.issuing_unit == world.centre  # the county centre above the station
    assert cert.issuer_contact == "王主任 0591-12345678"
    assert cert.issued_by == own.user
    with certificates_language():
        expected = [
            ngettext(
                "%(category)s %(hours)s hours (%(count)d time)",
                "%(category)s %(hours)s hours (%(count)d times)",
                n,
            )
            % {"category": c, "hours": h, "count": n}
            for c, h, n in [
                ("文化服务", "30", 2),
                ("理论宣讲", "12.5", 2),
                (pgettext("service platform", "Other"), "1.25", 1),
            ]
        ]
        separator = pgettext("list separator", "; ")
    # Pending and void records count for nothing; most hours first.
    assert cert.content == separator.join(expected)
    entry = AuditEntry.objects.get(action=AuditAction.CERTIFICATE_ISSUED)
    assert entry.actor == own.user
    assert entry.unit == world.station
    assert entry.changes["number"] == cert.number
    assert own.id_number not in str(entry.changes)


def certificates_language() -> Any:
    return translation.override(certificates.CERTIFICATE_LANGUAGE)


def test_summary_is_one_query(world: Any, own: Volunteer, django_assert_num_queries: Any) -> None:
    for i in range(5):
        record(own, "1", category(f"c{i}", f"平台{i}"), confirmer=world.coordinator)
    with django_assert_num_queries(1):
        summary = certificates.service_summary(own)
    assert summary.count("平台") == 5


@pytest.mark.parametrize("who", ["coordinator", "town_manager", "station_manager", "superuser"])
def test_staff_in_scope_may_issue(world: Any, own: Volunteer, who: str) -> None:
    actor = getattr(world, who)
    cert = certificates.certificate_issue(actor=actor, volunteer=own)
    assert cert.issued_by == actor


@pytest.mark.parametrize("who", ["other_coordinator", "no_role", "recruit"])
def test_others_are_told_not_found(world: Any, own: Volunteer, who: str) -> None:
    with pytest.raises(NotFound):
        certificates.certificate_issue(actor=getattr(world, who), volunteer=own)
    assert not Certificate.objects.exists()


def test_a_volunteer_may_not_issue_anothers(world: Any, own: Volunteer) -> None:
    other = make_volunteer(world.station, user=UserFactory())
    with pytest.raises(NotFound):
        certificates.certificate_issue(actor=other.user, volunteer=own)


def test_station_manager_outside_their_station(world: Any) -> None:
    elsewhere = make_volunteer(world.station2)
    with pytest.raises(NotFound):
        certificates.certificate_issue(actor=world.station_manager, volunteer=elsewhere)


@pytest.mark.parametrize("status", [VolunteerStatus.PENDING, VolunteerStatus.REJECTED])
def test_no_certificate_before_approval(world: Any, status: str) -> None:
    volunteer = make_volunteer(world.station, status=status, user=UserFactory())
    for actor in (volunteer.user, world.coordinator):
        with pytest.raises(Conflict) as caught:
            certificates.certificate_issue(actor=actor, volunteer=volunteer)
        assert caught.value.status_code == 409
        assert caught.value.code == "volunteer_not_registered"
    assert not Certificate.objects.exists()


@pytest.mark.parametrize("status", [VolunteerStatus.SUSPENDED, VolunteerStatus.WITHDRAWN])
def test_past_service_of_suspended_or_withdrawn_is_certified(world: Any, status: str) -> None:
    volunteer = make_volunteer(world.station, status=status, hours=7)
    assert certificates.certificate_issue(actor=world.coordinator, volunteer=volunteer).hours == 7


def test_issuing_unit_at_or_above_the_home_unit(world: Any, own: Volunteer) -> None:
    cert = certificates.certificate_issue(
        actor=world.coordinator, volunteer=own, issuing_unit=world.town
    )
    assert cert.issuing_unit == world.town
    for unit in (world.town2, world.point, world.other_centre):
        with pytest.raises(ValidationFailed) as caught:
            certificates.certificate_issue(
                actor=world.coordinator, volunteer=own, issuing_unit=unit
            )
        assert "issuing_unit" in caught.value.detail


def test_default_issuing_unit_without_centre_is_the_root(world: Any) -> None:
    from practice.choices import UnitKind
    from tests.factories import UnitFactory

    region = UnitFactory(name="某市", kind=UnitKind.REGION)
    assert certificates.default_issuing_unit(region) == region
    centre = UnitFactory(name="丙县中心", kind=UnitKind.CENTRE, parent=region)
    town = UnitFactory(name="丙镇所", kind=UnitKind.INSTITUTE, parent=centre)
    assert certificates.default_issuing_unit(town) == centre
    assert certificates.default_issuing_unit(world.point) == world.centre
    assert certificates.default_issuing_unit(world.centre) == world.centre


def test_current_reuses_while_nothing_changed(world: Any, own: Volunteer) -> None:
    first = certificates.certificate_current(actor=own.user, volunteer=own)
    again = certificates.certificate_current(actor=world.coordinator, volunteer=own)
    assert again.pk == first.pk
    assert AuditEntry.objects.filter(action=AuditAction.CERTIFICATE_ISSUED).count() == 1

    Volunteer.objects.filter(pk=own.pk).update(confirmed_hours=Decimal("50"))
    own.refresh_from_db()
    newer = certificates.certificate_current(actor=own.user, volunteer=own)
    assert newer.pk != first.pk
    assert newer.hours == Decimal("50")

    world.centre.contact_phone = "0591-87654321"
    world.centre.save()
    newest = certificates.certificate_current(actor=own.user, volunteer=own)
    assert newest.pk != newer.pk
    assert newest.issuer_contact.endswith("0591-87654321")
    # The older certificates keep what they showed.
    first.refresh_from_db()
    assert first.hours == Decimal("42.5")


def test_current_reads_the_figures_under_the_lock(world: Any, own: Volunteer) -> None:
    """A stale ``Volunteer`` instance does not put stale figures on the certificate."""
    Volunteer.objects.filter(pk=own.pk).update(confirmed_hours=Decimal("99"), name="欧阳娜")
    cert = certificates.certificate_current(actor=own.user, volunteer=own)
    assert (cert.hours, cert.name) == (Decimal("99"), "欧阳娜")


def test_current_refuses_pending(world: Any) -> None:
    volunteer = make_volunteer(world.station, status=VolunteerStatus.PENDING, user=UserFactory())
    with pytest.raises(Conflict):
        certificates.certificate_current(actor=volunteer.user, volunteer=volunteer)


def test_numbers_are_random_and_distinct(world: Any, own: Volunteer) -> None:
    numbers = {
        certificates.certificate_issue(actor=world.coordinator, volunteer=own).number
        for _ in range(20)
    }
    assert len(numbers) == 20
    assert len({n[12:] for n in numbers}) == 20  # the random part differs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zyzm20261203abcdefghijkl", "ZYZM20261203ABCDEFGHIJKL"),
        (" ZYZM-20261203-ABCD EFGH IJKL ", "ZYZM20261203ABCDEFGHIJKL"),
        ("ＺＹＺＭ２０２６", "ZYZM2026"),  # full-width, as typed on a phone
        ("", None),
        ("ZYZM<script>", None),
        ("ZYZM%27", None),
        ("A" * 33, None),
        ("证书", None),
    ],
)
def test_normalize_number(raw: str, expected: str | None) -> None:
    assert certificates.normalize_number(raw) == expected


def test_format_hours() -> None:
    assert certificates.format_hours(Decimal("12.50")) == "12.5"
    assert certificates.format_hours(Decimal("30.00")) == "30"
    assert certificates.format_hours(Decimal("100")) == "100"
    assert certificates.format_hours(Decimal("0.25")) == "0.25"
