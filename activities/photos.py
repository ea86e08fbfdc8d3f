"""Activity photos: the only writers of :class:`~activities.models.ActivityPhoto`.

A photo is evidence, so it is checked by what it *is*, never by its name or declared type:
Pillow must read it as a JPEG or PNG (GIF, WebP, SVG, HTML, a text file named ``.jpg``,
a truncated file are refused), its pixel count is bounded before any decoding (a
"decompression bomb" — a small file that would expand to gigabytes — is refused from its
header), and it is decoded whole. What is stored is never the upload: the picture is turned
upright (EXIF orientation), converted to RGB (transparency on white), scaled down to
:data:`FULL_SIDE` pixels on its longest side and written as a new JPEG without any metadata —
no EXIF (GPS position, camera, owner), no XMP, no ICC profile, no comment. A thumbnail
(:data:`THUMB_SIDE`) is made the same way, and a 64-bit difference hash (dHash, 16 hex
digits, computed here with Pillow alone) lets :mod:`activities.duplicates` find the same
picture reused in another report.

Who: RECORD_HOURS on the activity's unit (404 outside the caller's staff view), while the
activity is editable (planned, draft, returned; else 409). Settings:
``ACTIVITY_PHOTOS_MAX`` photos per activity, ``ACTIVITY_PHOTO_MAX_BYTES`` per upload,
``ACTIVITY_PHOTO_MAX_PIXELS`` per picture.
"""

from __future__ import annotations

import io
import warnings
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.cache import ACTIVITIES, bump_on_commit
from portal.errors import InvalidTransition, NotFound, ValidationFailed
from portal.errors import field_error as _fail
from practice.choices import AuditAction
from practice.models import User
from practice.permissions import Action, can, require
from practice.services import record_audit
from volunteers.points import clean_text

from .models import Activity, ActivityPhoto
from .services import EDITABLE

__all__ = [
    "CAPTION_MAX",
    "FULL_SIDE",
    "THUMB_SIDE",
    "Processed",
    "dhash",
    "photo_add",
    "photo_remove",
    "process_image",
    "too_large_message",
]

FULL_SIDE = 2048
THUMB_SIDE = 480
CAPTION_MAX = 200
FULL_QUALITY = 85
THUMB_QUALITY = 80
# Pillow's names of what it read (a JPEG with several pictures, as many phones write, is MPO).
ACCEPTED_FORMATS = ("JPEG", "PNG")
READ_FORMATS = {"JPEG", "MPO", "PNG"}


class Processed:
    """A picture made fit to store: the JPEG bytes, the thumbnail's, the size and hash."""

    __slots__ = ("height", "image", "phash", "thumbnail", "width")

    def __init__(self, image: bytes, thumbnail: bytes, width: int, height: int, phash: str):
        self.image = image
        self.thumbnail = thumbnail
        self.width = width
        self.height = height
        self.phash = phash


def _not_a_photo() -> ValidationFailed:
    return _fail("image", _("This file is not a JPEG or PNG photo."), code="invalid_image")


def too_large_message(limit: int) -> str:
    """The message refusing a photo over ``limit`` bytes."""
    return _("The photo is larger than %(max)s MB; send a smaller one.") % {
        "max": f"{limit / (1024 * 1024):g}"
    }


def _too_many_pixels(limit: int) -> ValidationFailed:
    return _fail(
        "image",
        _("The photo has too many pixels (at most %(max)d million).") % {"max": limit // 1_000_000},
        code="invalid_image",
    )


def _too_large(limit: int) -> ValidationFailed:
    return _fail("image", too_large_message(limit), code="file_too_large")


def dhash(image: Image.Image) -> str:
    """The 64-bit difference hash of ``image`` as 16 hex digits: the picture in grey at 9×8
    pixels, one bit per pair of neighbours in a row (1 where the left one is brighter).
    The same pixels give the same hash; re-encoding, scaling or stripping the metadata
    usually leave it unchanged (a bit may flip where neighbouring areas are equally bright)."""
    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()  # mode L: one byte per pixel, row after row
    bits = 0
    for row in range(8):
        for col in range(8):
            left = pixels[row * 9 + col]
            right = pixels[row * 9 + col + 1]
            bits = (bits << 1) | (1 if left > right else 0)
    return f"{bits:016x}"


def _rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit or float grey (some PNGs): scale to 8 bits before the RGB conversion clips it.
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    return image if image.mode == "RGB" else image.convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # A new file from the pixels alone (``info`` emptied): no exif=, icc_profile=, xmp= or
    # comment= given, so none of the upload's metadata is written.
    image.save(out, format="JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def process_image(file: IO[bytes], *, max_pixels: int | None = None) -> Processed:
    """Check ``file`` by its content and make the stored JPEG, thumbnail and hash (400
    ``invalid_image`` on field ``image`` for anything but a readable JPEG or PNG, or one
    of more than ``max_pixels`` pixels)."""
    limit = max_pixels or settings.ACTIVITY_PHOTO_MAX_PIXELS
    try:
        file.seek(0)
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice it: make that a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Any = Image.open(file, formats=ACCEPTED_FORMATS)
            if image.format not in READ_FORMATS:
                raise _not_a_photo()
            width, height = image.size
            if width < 1 or height < 1 or width * height > limit:
                raise _too_many_pixels(limit)
            if image.format in ("JPEG", "MPO"):
                # Decode a big JPEG at a reduced scale (never below FULL_SIDE): far faster.
                image.draft("RGB", (FULL_SIDE, FULL_SIDE))
            image.load()  # the whole picture: a truncated or corrupt file fails here
            upright = ImageOps.exif_transpose(image)
            picture = _rgb(upright)
    except ValidationFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit, met before ours (a header promising billions of pixels).
        raise _too_many_pixels(limit) from exc
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        EOFError,
        MemoryError,
    ) as exc:
        raise _not_a_photo() from exc
    # Nothing of the upload's metadata travels with the pixels (Pillow would write a JPEG
    # comment from it, for one).
    picture.info = {}
    picture.thumbnail((FULL_SIDE, FULL_SIDE), Image.Resampling.LANCZOS)
    thumb = picture.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return Processed(
        image=_jpeg(picture, FULL_QUALITY),
        thumbnail=_jpeg(thumb, THUMB_QUALITY),
        width=picture.width,
        height=picture.height,
        phash=dhash(picture),
    )


def _require_editable(actor: User, activity: Activity) -> Activity:
    """The activity re-read under its lock: 404 outside the caller's staff view, 403
    without RECORD_HOURS there, 409 unless planned, draft or returned."""
    if not can(actor, Action.VIEW, activity.unit):
        raise NotFound()
    require(actor, Action.RECORD_HOURS, activity.unit)
    current = (
        Activity.objects.select_for_update(of=("self",)).select_related("unit").get(pk=activity.pk)
    )
    _refuse_unless_editable(current)
    return current


def _refuse_unless_editable(activity: Activity) -> None:
    if activity.status not in EDITABLE:
        raise InvalidTransition(
            _("The photos of a %(status)s activity can no longer be changed.")
            % {"status": activity.get_status_display()}
        )


def photo_add(*, actor: User, activity: Activity, upload: Any, caption: Any = "") -> ActivityPhoto:
    """Add a photo (an uploaded file) to ``activity``: checked, re-encoded without
    metadata, with a thumbnail and a hash; one audit entry. Nothing is saved when refused."""
    if not can(actor, Action.VIEW, activity.unit):
        raise NotFound()
    require(actor, Action.RECORD_HOURS, activity.unit)
    _refuse_unless_editable(activity)  # before reading the file (checked again under the lock)
    if upload is None or not hasattr(upload, "read"):
        raise _fail("image", _("Choose a photo."), code="required")
    text = clean_text(caption, "caption", CAPTION_MAX, multiline=False, required=False)
    limit = settings.ACTIVITY_PHOTO_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is None or size > limit:
        raise _too_large(limit)
    processed = process_image(upload)
    with transaction.atomic():
        current = _require_editable(actor, activity)
        most = settings.ACTIVITY_PHOTOS_MAX
        if ActivityPhoto.objects.filter(activity=current).count() >= most:
            raise _fail(
                "image",
                _("An activity has at most %(max)d photos; remove one first.") % {"max": most},
                code="too_many_photos",
            )
        photo = ActivityPhoto(
            activity=current,
            width=processed.width,
            height=processed.height,
            size=len(processed.image),
            phash=processed.phash,
            caption=text,
            uploaded_by=actor,
        )
        photo.image.save("photo.jpg", ContentFile(processed.image), save=False)
        photo.thumbnail.save("thumb.jpg", ContentFile(processed.thumbnail), save=False)
        try:
            photo.save()
            record_audit(
                actor=actor,
                action=AuditAction.ACTIVITY_CHANGED,
                unit=current.unit,
                object_repr=current.title,
                changes={"activity": current.pk, "photo_added": photo.pk, "phash": photo.phash},
            )
        except BaseException:
            # Files are not transactional: the row is rolled back, so the files go too.
            _delete_files(photo.image.storage, [photo.image.name, photo.thumbnail.name])
            raise
        bump_on_commit(ACTIVITIES)
    return photo


def photo_remove(*, actor: User, photo: ActivityPhoto) -> None:
    """Remove a photo (same rules as adding one); its files go once the removal commits."""
    activity = photo.activity
    with transaction.atomic():
        current = _require_editable(actor, activity)
        names = [photo.image.name, photo.thumbnail.name]
        storage = photo.image.storage
        deleted, _rows = ActivityPhoto.objects.filter(pk=photo.pk, activity=current).delete()
        if not deleted:
            raise NotFound()
        record_audit(
            actor=actor,
            action=AuditAction.ACTIVITY_CHANGED,
            unit=current.unit,
            object_repr=current.title,
            changes={"activity": current.pk, "photo_removed": photo.pk},
        )
        bump_on_commit(ACTIVITIES)
        transaction.on_commit(lambda: _delete_files(storage, names))


def _delete_files(storage: Any, names: list[str | None]) -> None:
    for name in names:
        if name:
            storage.delete(name)
