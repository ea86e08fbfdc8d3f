"""Activity photos: checked by content, re-encoded without metadata, thumbnails, the dHash,
who may add and remove them, the API endpoints and the serving view's permission matrix."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from PIL import ExifTags, Image, ImageDraw

from activities import photos, services
from activities.choices import ActivityStatus
from activities.models import Activity, ActivityPhoto
from portal.errors import InvalidTransition, NotFound, ValidationFailed
from practice.choices import AuditAction
from practice.models import AuditEntry
from practice.permissions import forget_grants
from tests.activities.conftest import approved_activity, make_activity
from tests.conftest import World
from tests.factories import RoleFactory, UserFactory
from tests.querycount import queries_of
from tests.volunteers.conftest import make_volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Any:
    """The services' messages compared in English (the msgids); the API and pages answer in
    the portal's language whatever this says."""
    with translation.override("en"):
        yield


API = "/api/v1/activities/"
NOT_A_PHOTO = "This file is not a JPEG or PNG photo."


# --- pictures ---------------------------------------------------------------------------------


def picture(width: int = 1200, height: int = 800, *, seed: int = 1, mode: str = "RGB") -> Any:
    """A photo-like picture: gradients, shapes and a little noise (deterministic)."""
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", (gradient, gradient.rotate(90).resize((width, height)), gradient))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(width // 8, width // 3), rng.randrange(height // 8, height // 3)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        else:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    image = Image.blend(image, noise, 0.05)
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Any, fmt: str = "JPEG", **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg_with_gps(image: Any, *, orientation: int = 1) -> bytes:
    """A JPEG whose EXIF gives a GPS position, a camera, an owner and an orientation."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "AcmeCam"
    exif[ExifTags.Base.Artist] = "Zhang San"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (24.0, 30.0, 15.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (117.0, 21.0, 42.25)
    return encode(image, "JPEG", quality=92, exif=exif, comment=b"secret comment")


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> Any:
    return SimpleUploadedFile(name, content, content_type=content_type)


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A PNG whose header promises ``width`` × ``height`` grey pixels (3.6 billion) in a file
    of a few hundred bytes: zeros compress about a thousand to one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 16, 9)  # the first rows only: enough
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Every file the tests write lands in a temporary directory."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def draft(world: World) -> Activity:
    return make_activity(world.station_manager, world.station)


def add(world: World, activity: Activity, content: bytes, **kw: Any) -> ActivityPhoto:
    actor = kw.pop("actor", world.station_manager)
    caption = kw.pop("caption", "")
    return photos.photo_add(
        actor=actor, activity=activity, upload=upload(content, **kw), caption=caption
    )


# --- the file: content, metadata, sizes ------------------------------------------------------


def test_a_jpeg_with_gps_exif_is_stored_without_any_metadata_and_upright(
    world: World, draft: Activity, media: Path
) -> None:
    original = picture(3000, 2000)
    content = jpeg_with_gps(original, orientation=6)  # "rotate 90° clockwise to view"
    assert b"AcmeCam" in content and b"Exif" in content

    photo = photos.photo_add(
        actor=world.station_manager,
        activity=draft,
        upload=upload(content, name="IMG_0001.JPG"),
        caption=" 宣讲现场 ",
    )

    photo.refresh_from_db()
    assert photo.caption == "宣讲现场"
    assert photo.uploaded_by == world.station_manager
    # Turned upright: the 3000×2000 picture is portrait, scaled to 2048 on its long side.
    assert (photo.width, photo.height) == (1365, 2048)
    stored = Path(photo.image.path).read_bytes()
    assert photo.size == len(stored)
    assert photo.image.name.startswith("activities/") and photo.image.name.endswith(".jpg")
    assert "IMG_0001" not in photo.image.name
    for secret in (b"Exif", b"AcmeCam", b"Zhang San", b"secret comment", b"ICC_PROFILE"):
        assert secret not in stored, secret
    with Image.open(io.BytesIO(stored)) as again:
        assert again.format == "JPEG"
        assert again.size == (1365, 2048)
        assert not again.getexif()
        assert "exif" not in again.info and "comment" not in again.info
        assert "icc_profile" not in again.info
    thumb = Path(photo.thumbnail.path).read_bytes()
    assert b"Exif" not in thumb and b"AcmeCam" not in thumb
    with Image.open(io.BytesIO(thumb)) as small:
        assert small.size == (320, 480)
    assert len(photo.phash) == 16 and int(photo.phash, 16) >= 0
    # The rotation really happened: the stored picture matches the original turned.
    assert photo.phash == photos.dhash(original.transpose(Image.Transpose.ROTATE_270))
    entry = AuditEntry.objects.filter(action=AuditAction.ACTIVITY_CHANGED).latest("pk")
    assert entry.changes["photo_added"] == photo.pk


def test_a_png_with_transparency_becomes_a_jpeg_on_white(world: World, draft: Activity) -> None:
    image = Image.new("RGBA", (600, 400), (255, 0, 0, 0))  # transparent…
    ImageDraw.Draw(image).rectangle((0, 0, 299, 399), fill=(0, 0, 255, 255))  # …left half blue
    photo = add(world, draft, encode(image, "PNG"), name="plan.png", content_type="image/png")
    with Image.open(photo.image.path) as stored:
        assert stored.format == "JPEG" and stored.mode == "RGB"
        assert (stored.width, stored.height) == (600, 400)
        right: Any = stored.getpixel((500, 200))
        assert min(right) > 240  # white, not the transparent pixels' red
        left: Any = stored.getpixel((100, 200))
        assert left[2] > 200 and left[0] < 50


def test_a_small_picture_is_not_enlarged(world: World, draft: Activity) -> None:
    photo = add(world, draft, encode(picture(300, 200)))
    assert (photo.width, photo.height) == (300, 200)
    with Image.open(photo.thumbnail.path) as thumb:
        assert thumb.size == (300, 200)


def test_the_content_decides_not_the_name_or_type(world: World, draft: Activity) -> None:
    photo = add(world, draft, encode(picture()), name="notes.txt", content_type="text/plain")
    assert photo.pk is not None


def gif() -> bytes:
    return encode(picture(200, 100).convert("P"), "GIF")


def webp() -> bytes:
    return encode(picture(200, 100), "WEBP")


def truncated_jpeg() -> bytes:
    whole = encode(picture())
    return whole[: len(whole) // 2]


def text_named_jpg() -> bytes:
    return b"<html><script>alert(1)</script></html>\n" * 10


@pytest.mark.parametrize(
    "make",
    [text_named_jpg, truncated_jpeg, gif, webp, lambda: b"", lambda: b"\xff\xd8\xff\xe0garbage"],
    ids=["text", "truncated", "gif", "webp", "empty", "jpeg-magic-only"],
)
def test_what_is_not_a_jpeg_or_png_is_refused_and_nothing_saved(
    world: World, draft: Activity, media: Path, make: Any
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        add(world, draft, make(), name="photo.jpg")
    assert caught.value.code == "invalid_image"
    assert caught.value.detail == {"image": [NOT_A_PHOTO]}
    assert not ActivityPhoto.objects.exists()
    assert stored_files(media) == []


def test_a_decompression_bomb_is_refused_from_its_header(
    world: World, draft: Activity, media: Path
) -> None:
    content = png_bomb()
    assert len(content) < 10_000
    with pytest.raises(ValidationFailed) as caught:
        add(world, draft, content, name="bomb.png")
    assert caught.value.code == "invalid_image"
    assert "too many pixels" in str(caught.value.detail["image"][0])
    assert not ActivityPhoto.objects.exists()
    assert stored_files(media) == []


def test_the_pixel_limit_is_a_setting(world: World, draft: Activity, settings: Any) -> None:
    settings.ACTIVITY_PHOTO_MAX_PIXELS = 1_000_000
    with pytest.raises(ValidationFailed):
        add(world, draft, encode(picture(1200, 900)))
    assert add(world, draft, encode(picture(1000, 1000))).pk is not None


def test_an_oversize_file_is_refused_before_it_is_read(
    world: World, draft: Activity, media: Path, settings: Any
) -> None:
    content = encode(picture())
    settings.ACTIVITY_PHOTO_MAX_BYTES = len(content) - 1
    with pytest.raises(ValidationFailed) as caught:
        add(world, draft, content)
    assert caught.value.code == "file_too_large"
    assert list(caught.value.detail) == ["image"]
    assert not ActivityPhoto.objects.exists()
    assert stored_files(media) == []
    settings.ACTIVITY_PHOTO_MAX_BYTES = len(content)
    assert add(world, draft, content).pk is not None


def test_no_upload_and_a_long_caption_are_refused(world: World, draft: Activity) -> None:
    with pytest.raises(ValidationFailed) as caught:
        photos.photo_add(actor=world.station_manager, activity=draft, upload=None)
    assert caught.value.code == "required"
    with pytest.raises(ValidationFailed) as caught:
        add(world, draft, encode(picture()), caption="长" * 201)
    assert "caption" in caught.value.detail
    assert not ActivityPhoto.objects.exists()


def test_at_most_the_configured_number_of_photos(
    world: World, draft: Activity, settings: Any
) -> None:
    settings.ACTIVITY_PHOTOS_MAX = 2
    add(world, draft, encode(picture(seed=1)))
    add(world, draft, encode(picture(seed=2)))
    with pytest.raises(ValidationFailed) as caught:
        add(world, draft, encode(picture(seed=3)))
    assert caught.value.code == "too_many_photos"
    assert draft.photos.count() == 2


# --- the hash ---------------------------------------------------------------------------------


def test_dhash_bits_are_row_by_row_left_brighter_than_right() -> None:
    # Top half darkens to the right (every bit 1), bottom half brightens (every bit 0).
    image = Image.new("L", (90, 80))
    for x in range(90):
        for y in range(80):
            image.putpixel((x, y), 255 - x * 2 if y < 40 else x * 2)
    assert photos.dhash(image) == "ffffffff00000000"
    assert photos.dhash(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) == "00000000ffffffff"


def test_the_same_picture_re_encoded_keeps_its_hash_another_does_not(
    world: World, draft: Activity
) -> None:
    original = picture(1600, 1200, seed=7)
    hashes = {
        add(world, draft, encode(original, quality=quality)).phash for quality in (95, 60, 30)
    }
    scaled = original.resize((800, 600))
    hashes.add(add(world, draft, encode(scaled, "PNG"), name="x.png").phash)
    hashes.add(add(world, draft, jpeg_with_gps(original)).phash)
    assert len(hashes) == 1
    other = add(world, draft, encode(picture(1600, 1200, seed=8))).phash
    assert other not in hashes
    # A hash differs from another in many bits, not one (it carries the picture).
    assert bin(int(other, 16) ^ int(hashes.pop(), 16)).count("1") > 8


# --- who may add and remove -------------------------------------------------------------------


def volunteer_account(world: World) -> Any:
    user = UserFactory(username="vol")
    make_volunteer(world.station, user=user)
    return user


def test_who_may_add_a_photo(world: World, draft: Activity) -> None:
    content = encode(picture())
    for user in (world.other_coordinator, world.no_role, volunteer_account(world)):
        with pytest.raises(NotFound):
            add(world, draft, content, actor=user)
    for user in (world.station_manager, world.town_manager, world.coordinator, world.superuser):
        add(world, draft, content, actor=user)
    assert draft.photos.count() == 4


@pytest.mark.parametrize("state", ["submitted", "approved"])
def test_photos_of_a_submitted_or_approved_activity_cannot_change(
    world: World, town_coordinator: Any, state: str, media: Path
) -> None:
    activity = make_activity(world.station_manager, world.station)
    photo = add(world, activity, encode(picture()))
    services.activity_submit(actor=world.station_manager, activity=activity)
    if state == "approved":
        services.activity_approve(actor=town_coordinator, activity=activity)
    activity.refresh_from_db()
    before = stored_files(media)
    with pytest.raises(InvalidTransition):
        add(world, activity, encode(picture(seed=5)))
    with pytest.raises(InvalidTransition):
        photos.photo_remove(actor=world.station_manager, photo=photo)
    assert activity.photos.count() == 1
    assert stored_files(media) == before


def test_planned_and_returned_activities_take_photos(world: World, town_coordinator: Any) -> None:
    planned = make_activity(
        world.station_manager, world.station, days_ago=-3, status=ActivityStatus.PLANNED
    )
    assert add(world, planned, encode(picture())).activity_id == planned.pk
    returned = make_activity(world.station_manager, world.station)
    services.activity_submit(actor=world.station_manager, activity=returned)
    services.activity_return(actor=town_coordinator, activity=returned, reason="缺照片")
    returned.refresh_from_db()
    assert add(world, returned, encode(picture())).activity_id == returned.pk


def test_removing_a_photo_deletes_its_files_once_committed(
    world: World, draft: Activity, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    keep = add(world, draft, encode(picture(seed=1)))
    photo = add(world, draft, encode(picture(seed=2)))
    assert len(stored_files(media)) == 4
    with pytest.raises(NotFound):
        photos.photo_remove(actor=world.other_coordinator, photo=photo)
    with django_capture_on_commit_callbacks(execute=True):
        photos.photo_remove(actor=world.station_manager, photo=photo)
    assert list(draft.photos.all()) == [keep]
    assert stored_files(media) == sorted([Path(keep.image.path), Path(keep.thumbnail.path)])
    entry = AuditEntry.objects.filter(action=AuditAction.ACTIVITY_CHANGED).latest("pk")
    assert entry.changes["photo_removed"] == photo.pk


def test_a_failed_save_leaves_no_files(
    world: World, draft: Activity, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit down")

    monkeypatch.setattr(photos, "record_audit", broken)
    with pytest.raises(RuntimeError):
        add(world, draft, encode(picture()))
    assert not ActivityPhoto.objects.exists()
    assert stored_files(media) == []


# --- the API ----------------------------------------------------------------------------------


def post_photo(client: Any, activity: Activity, content: bytes, **data: Any) -> Any:
    body = {"image": upload(content, name=data.pop("name", "p.jpg")), **data}
    return client.post(f"{API}{activity.pk}/photos/", body, format="multipart")


def test_api_adds_lists_and_removes_photos(api: Any, world: World, draft: Activity) -> None:
    client = api(world.station_manager)
    response = post_photo(client, draft, encode(picture(1600, 1200)), caption="合影")
    assert response.status_code == 201, response.json()
    data = response.json()
    photo = ActivityPhoto.objects.get()
    assert data == {
        "id": photo.pk,
        "url": f"http://testserver/activities/photos/{photo.pk}/full/",
        "thumbnail_url": f"http://testserver/activities/photos/{photo.pk}/thumb/",
        "width": 1600,
        "height": 1200,
        "caption": "合影",
    }
    detail = client.get(f"{API}{draft.pk}/").json()
    assert detail["photos"] == [data]
    assert detail["possible_duplicates"] == []
    listed = client.get(API).json()["results"][0]
    assert listed["photos"] == [data]
    assert "possible_duplicates" not in listed

    assert client.delete(f"{API}{draft.pk}/photos/{photo.pk}/").status_code == 204
    assert not ActivityPhoto.objects.exists()
    assert client.get(f"{API}{draft.pk}/").json()["photos"] == []


def test_api_refusals_in_the_error_shape(
    api: Any, world: World, draft: Activity, settings: Any
) -> None:
    client = api(world.station_manager)
    settings.LANGUAGE_CODE = "en"
    response = client.post(
        f"{API}{draft.pk}/photos/",
        {"image": upload(text_named_jpg())},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_image",
        "message": NOT_A_PHOTO,
        "detail": {"image": [NOT_A_PHOTO]},
    }
    response = client.post(f"{API}{draft.pk}/photos/", {"caption": "x"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "required"
    assert not ActivityPhoto.objects.exists()


def test_api_refuses_a_body_far_over_the_limit_before_reading_it(
    api: Any, world: World, draft: Activity, settings: Any
) -> None:
    settings.ACTIVITY_PHOTO_MAX_BYTES = 1024
    response = post_photo(api(world.station_manager), draft, b"\xff\xd8" + b"x" * 100_000)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not ActivityPhoto.objects.exists()


def test_api_permission_matrix(
    api: Any, world: World, draft: Activity, town_coordinator: Any
) -> None:
    content = encode(picture())
    assert post_photo(api(), draft, content).status_code in (401, 403)
    for user in (world.other_coordinator, world.no_role, volunteer_account(world)):
        assert post_photo(api(user), draft, content).status_code == 404
    assert post_photo(api(world.town_manager), draft, content).status_code == 201
    photo = ActivityPhoto.objects.get()
    for user in (world.other_coordinator, world.no_role):
        assert api(user).delete(f"{API}{draft.pk}/photos/{photo.pk}/").status_code == 404
    # A photo of another activity is not found under this one.
    other = make_activity(world.town_manager, world.station2)
    response = api(world.coordinator).delete(f"{API}{other.pk}/photos/{photo.pk}/")
    assert response.status_code == 404
    assert post_photo(api(world.station_manager), draft, b"x" * 10).status_code == 400
    assert api(world.coordinator).post(f"{API}999999/photos/", {}).status_code == 404
    approved = approved_activity(world.station_manager, town_coordinator, world.station)
    response = post_photo(api(world.station_manager), approved, content)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert ActivityPhoto.objects.filter(activity=approved).count() == 0


def test_api_list_queries_stay_constant_with_photos(api: Any, world: World) -> None:
    client = api(world.coordinator)
    content = encode(picture(400, 300))

    def fill(n: int) -> None:
        for i in range(n):
            activity = make_activity(world.station_manager, world.station, days_ago=2 + i)
            add(world, activity, content)
            add(world, activity, content)

    fill(2)
    forget_grants(world.coordinator)
    small = queries_of(client, API)
    fill(12)
    forget_grants(world.coordinator)
    large = queries_of(client, API)
    assert len(small) == len(large), (small, large)
    assert sum("activities_activityphoto" in q for q in large) == 1
    assert all(len(r["photos"]) == 2 for r in client.get(API).json()["results"])


# --- the serving view -------------------------------------------------------------------------


def photo_in(world: World, status: str, town_coordinator: Any) -> ActivityPhoto:
    if status == ActivityStatus.PLANNED:
        activity = make_activity(
            world.station_manager, world.station, days_ago=-3, status=ActivityStatus.PLANNED
        )
    else:
        activity = make_activity(world.station_manager, world.station)
    photo = add(world, activity, encode(picture()))
    if status in ("submitted", "approved", "returned"):
        services.activity_submit(actor=world.station_manager, activity=activity)
    if status == "approved":
        services.activity_approve(actor=town_coordinator, activity=activity)
    if status == "returned":
        services.activity_return(actor=town_coordinator, activity=activity, reason="补充")
    assert Activity.objects.get(pk=activity.pk).status == status
    return photo


@pytest.mark.parametrize("status", ["approved", "planned"])
def test_public_photos_are_served_to_everyone(
    browser_client: Any, world: World, town_coordinator: Any, status: str
) -> None:
    photo = photo_in(world, status, town_coordinator)
    for user in (None, world.no_role, world.other_coordinator, world.station_manager):
        client = browser_client(user)
        for size, field in (("full", photo.image), ("thumb", photo.thumbnail)):
            response = client.get(reverse("activity-photo", args=[photo.pk, size]))
            assert response.status_code == 200
            assert response["Content-Type"] == "image/jpeg"
            assert b"".join(response.streaming_content) == Path(field.path).read_bytes()
            if user is None:
                assert "public" in response["Cache-Control"]
                assert "max-age=3600" in response["Cache-Control"]


@pytest.mark.parametrize("status", ["draft", "submitted", "returned"])
def test_unpublished_photos_are_for_staff_of_the_unit_only(
    browser_client: Any, world: World, town_coordinator: Any, status: str
) -> None:
    photo = photo_in(world, status, town_coordinator)
    url = reverse("activity-photo", args=[photo.pk, "thumb"])
    assert url == f"/activities/photos/{photo.pk}/thumb/"
    volunteer = volunteer_account(world)
    for user in (None, world.no_role, world.other_coordinator, volunteer):
        assert browser_client(user).get(url).status_code == 404, user
    for user in (world.station_manager, world.town_manager, world.coordinator, town_coordinator):
        response = browser_client(user).get(url)
        assert response.status_code == 200, user
        assert "private" in response["Cache-Control"]
        assert "public" not in response["Cache-Control"]
    # Another station's manager of the same town does not see it.
    other = UserFactory(username="st2")
    RoleFactory(user=other, unit=world.station2)
    assert browser_client(other).get(url).status_code == 404


def test_the_serving_view_refuses_what_does_not_exist(
    browser_client: Any, world: World, town_coordinator: Any
) -> None:
    photo = photo_in(world, "approved", town_coordinator)
    client = browser_client(None)
    assert client.get(f"/activities/photos/{photo.pk}/large/").status_code == 404
    assert client.get(f"/activities/photos/{photo.pk + 1}/full/").status_code == 404
    assert client.post(f"/activities/photos/{photo.pk}/full/").status_code == 405
    Path(photo.image.path).unlink()
    assert client.get(f"/activities/photos/{photo.pk}/full/").status_code == 404
