"""The database itself refuses what the services refuse first (a second line of defence
for writes that bypass the services: data migrations, the shell, a bug)."""

import pytest
from django.db import IntegrityError, transaction

from practice.models import Unit
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"name": "孤站", "kind": "station"}, "unit_root_is_region_or_centre"),
        ({"name": "怪县", "kind": "county"}, "unit_kind_valid"),
        ({"name": "南极中心", "kind": "centre", "latitude": 91}, "unit_latitude_range"),
        ({"name": "西极中心", "kind": "centre", "longitude": -181}, "unit_longitude_range"),
    ],
)
def test_check_constraints(world: World, fields: dict[str, object], constraint: str) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Unit.objects.create(**fields)


def test_sibling_names_are_unique_in_the_database(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Unit.objects.filter(pk=world.station2.pk).update(name=world.station.name)
    with pytest.raises(IntegrityError), transaction.atomic():
        Unit.objects.filter(pk=world.other_centre.pk).update(name=world.centre.name)
