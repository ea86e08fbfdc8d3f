"""A certificate keeps what it printed: renaming the issuing unit later changes neither
the verify page nor the certificate handed out again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse

from practice.models import Unit
from tests.conftest import World
from volunteers.certificates import certificate_current

from .conftest import make_volunteer


def test_the_issuing_units_name_is_kept_as_printed(world: World, client: Any) -> None:
    volunteer = make_volunteer(world.station, hours=Decimal("12.50"))
    first = certificate_current(actor=world.coordinator, volunteer=volunteer)
    assert first.issuing_unit_name == "甲县中心"
    Unit.objects.filter(pk=world.centre.pk).update(name="甲县新时代文明实践中心")
    page = client.get(reverse("certificate-verify", args=[first.number]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "甲县中心" in html and "甲县新时代文明实践中心" not in html
    # What it would print now differs: the next download is a new certificate.
    second = certificate_current(actor=world.coordinator, volunteer=volunteer)
    assert second.pk != first.pk
    assert second.issuing_unit_name == "甲县新时代文明实践中心"
