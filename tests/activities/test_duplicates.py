"""Possible duplicates: overlapping time at the same unit and platform, or a photo with the
same perceptual hash; a fixed number of queries; the counts for lists; the API's field."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from activities import photos, services
from activities.choices import ActivityStatus
from activities.duplicates import duplicates_count, possible_duplicates
from activities.models import Activity, ActivityPhoto
from tests.activities.conftest import make_activity
from tests.activities.test_photos import encode, picture, upload
from tests.conftest import World

pytestmark = pytest.mark.django_db

BASE = (timezone.now() - dt.timedelta(days=5)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def at(
    world: World,
    hour: float,
    hours: float = 2,
    *,
    unit: Any = None,
    actor: Any = None,
    category: str = "culture",
    **data: Any,
) -> Activity:
    """An activity starting ``hour`` hours after :data:`BASE`."""
    start = BASE + dt.timedelta(hours=hour)
    return make_activity(
        actor or world.coordinator,
        unit or world.station,
        category=category,
        start=start,
        end=start + dt.timedelta(hours=hours),
        **data,
    )


def flags(activity: Activity) -> list[tuple[int, str]]:
    return [(d["activity"].pk, d["reason"]) for d in possible_duplicates(activity)]


def with_photo(world: World, activity: Activity, content: bytes) -> ActivityPhoto:
    return photos.photo_add(actor=world.coordinator, activity=activity, upload=upload(content))


def test_overlapping_time_at_the_same_unit_and_platform(world: World) -> None:
    this = at(world, 0, 3)  # 0:00–3:00
    inside = at(world, 1, 1)
    straddling = at(world, -1, 2)  # −1:00–1:00
    after = at(world, 3, 1)  # starts when this one ends: no overlap
    before = at(world, -3, 2)  # ends when the straddling one starts
    other_platform = at(world, 1, 1, category="theory")
    other_unit = at(world, 1, 1, unit=world.station2)
    parent_unit = at(world, 1, 1, unit=world.town)
    assert flags(this) == [(straddling.pk, "overlap"), (inside.pk, "overlap")]
    assert flags(inside) == [(this.pk, "overlap")]
    for alone in (after, before, other_platform, other_unit, parent_unit):
        assert flags(alone) == [], alone


def test_planned_activities_are_not_reports_and_never_flagged(world: World, settings: Any) -> None:
    start = timezone.now() + dt.timedelta(days=3)
    planned = make_activity(
        world.coordinator,
        world.station,
        start=start,
        end=start + dt.timedelta(hours=2),
        status=ActivityStatus.PLANNED,
    )
    twin = make_activity(
        world.coordinator,
        world.station,
        start=start,
        end=start + dt.timedelta(hours=2),
        status=ActivityStatus.PLANNED,
    )
    assert flags(planned) == [] and flags(twin) == []
    # A planned activity sharing a photo with a report is not flagged either.
    content = encode(picture(seed=3))
    report = at(world, 0)
    with_photo(world, planned, content)
    with_photo(world, report, content)
    assert flags(report) == []


def test_every_reported_state_is_flagged(world: World, town_coordinator: Any) -> None:
    this = at(world, 0, 4)
    draft = at(world, 0)
    submitted = at(world, 1)
    services.activity_submit(actor=world.coordinator, activity=submitted)
    approved = at(world, 2)
    services.activity_submit(actor=world.station_manager, activity=approved)
    services.activity_approve(actor=town_coordinator, activity=approved)
    returned = at(world, 3)
    services.activity_submit(actor=world.station_manager, activity=returned)
    services.activity_return(actor=town_coordinator, activity=returned, reason="重复")
    assert {pk for pk, _ in flags(this)} == {draft.pk, submitted.pk, approved.pk, returned.pk}
    # The flags do not depend on the status of the one asked about.
    this.refresh_from_db()
    services.activity_submit(actor=world.coordinator, activity=this)
    assert len(flags(Activity.objects.get(pk=this.pk))) == 4


def test_the_same_photo_anywhere_is_flagged_whatever_the_unit_or_time(world: World) -> None:
    original = picture(1400, 1000, seed=11)
    this = at(world, 0)
    copied = at(world, -100, unit=world.other_station, actor=world.other_coordinator)
    unrelated = at(world, -200, unit=world.station3)
    with_photo(world, this, encode(original, quality=90))
    photos.photo_add(
        actor=world.other_coordinator,
        activity=copied,
        upload=upload(encode(original.resize((700, 500)), quality=50)),
    )
    with_photo(world, unrelated, encode(picture(1400, 1000, seed=12)))
    assert flags(this) == [(copied.pk, "photo")]
    assert flags(copied) == [(this.pk, "photo")]
    assert flags(unrelated) == []
    # Two copies of the same picture in one activity do not flag it against itself.
    with_photo(world, unrelated, encode(picture(1400, 1000, seed=12), quality=40))
    assert flags(unrelated) == []


def test_overlap_and_photo_are_both_reported(world: World) -> None:
    content = encode(picture(seed=21))
    this = at(world, 0)
    twin = at(world, 1)
    with_photo(world, this, content)
    with_photo(world, twin, content)
    assert flags(this) == [(twin.pk, "overlap"), (twin.pk, "photo")]


def test_pictures_without_structure_never_match(world: World) -> None:
    flat = encode(Image.new("RGB", (800, 600), (200, 30, 30)))
    this = at(world, 0)
    other = at(world, -50)
    assert with_photo(world, this, flat).phash == "0000000000000000"
    with_photo(world, other, flat)
    assert flags(this) == [] and flags(other) == []


def test_a_fixed_number_of_queries(world: World) -> None:
    this = at(world, 0, 5)
    content = encode(picture(seed=5))
    with_photo(world, this, content)

    def measured() -> int:
        fresh = Activity.objects.get(pk=this.pk)
        with CaptureQueriesContext(connection) as captured:
            found = possible_duplicates(fresh)
            for d in found:  # what the API reads of each
                _ = (d["activity"].title, d["activity"].unit.name, d["activity"].category.name)
        return len(captured.captured_queries)

    small = measured()
    for i in range(6):
        with_photo(world, at(world, -100 - 10 * i, unit=world.station2), content)
        at(world, i * 0.5, 0.5)
    assert len(possible_duplicates(this)) == 12
    assert measured() == small <= 3


def test_duplicates_count_matches_the_detail_in_one_query(world: World) -> None:
    rng = random.Random(4)
    shared = [encode(picture(seed=s)) for s in (31, 32)]
    made = []
    for _ in range(14):
        activity = at(
            world,
            rng.choice([0, 0.5, 1, 5, 9, 9.5, 20]),
            rng.choice([0.5, 1, 2]),
            unit=rng.choice([world.station, world.station2]),
            category=rng.choice(["culture", "theory"]),
        )
        if rng.random() < 0.5:
            with_photo(world, activity, rng.choice(shared))
        made.append(activity)
    expected = {a.pk: len(possible_duplicates(a)) for a in made}
    expected = {pk: n for pk, n in expected.items() if n}
    assert expected  # the random data does flag some
    with CaptureQueriesContext(connection) as captured:
        counted = duplicates_count(made)
    assert len(captured.captured_queries) == 1
    assert counted == expected
    assert duplicates_count([]) == {}


def test_the_api_detail_lists_the_flags(api: Any, world: World) -> None:
    this = at(world, 0)
    twin = at(world, 1, title="同一场活动")
    response = api(world.coordinator).get(f"/api/v1/activities/{this.pk}/")
    assert response.status_code == 200
    assert response.json()["possible_duplicates"] == [
        {"activity": twin.pk, "title": "同一场活动", "reason": "overlap"}
    ]
