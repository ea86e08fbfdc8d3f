"""Volunteer spreadsheets: registering volunteers from a workbook (.xlsx) in the
background, and the exports of the volunteer list and of a volunteer's hours.

The import's flow is the portal's (``portal.imports``): the upload is read within limits
(``portal.xlsx.SheetReader``), kept as an import job and applied by a Celery task with
progress; without a task queue it runs in the request. Unlike the units' import there is
no preview to confirm: every valid row is registered (active at once, as when staff
register someone), every invalid row is left out and reported — row, column, message —
on the job's page and as a downloadable workbook. A row whose ID number is already
registered is counted as such and skipped, so importing the same file twice registers
nobody twice.

The rows hold ID numbers and phones: the job keeps them encrypted (``portal.crypto``) and
drops them when it has run; the task is given the job's id only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from portal import crypto, imports, xlsx
from portal.cache import VOLUNTEERS, bump_on_commit
from portal.errors import ValidationFailed
from portal.http import attachment
from portal.models import ImportJob
from practice.choices import AuditAction
from practice.models import Category, Unit, User
from practice.permissions import Action, require
from practice.services import record_audit

from . import services
from .bulk import insert_volunteers
from .choices import VolunteerStatus
from .models import ServiceRecord, Volunteer

__all__ = [
    "COLUMNS",
    "IMPORT_KIND",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "apply_job",
    "error_report",
    "read_upload",
    "start_import",
    "template_download",
]

IMPORT_KIND = "volunteers.spreadsheets.apply_job"
# The county's 50,391 volunteers fit in one file.
MAX_ROWS = 60_000
MAX_FILE_BYTES = 20 * 1024 * 1024
HEADER_SEARCH_ROWS = 10
# Rows registered per progress report.
PROGRESS_EVERY = 500
# Errors shown on the page (the workbook has them all).
ERRORS_SHOWN = 200


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    hint: Promise
    width: int
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(
        "name",
        pgettext_lazy("volunteer column", "Name"),
        gettext_lazy("1–30 characters."),
        12,
        True,
    ),
    Column(
        "id_number",
        pgettext_lazy("volunteer column", "ID number"),
        gettext_lazy("The 18-character resident ID number, stored as text."),
        22,
        True,
    ),
    Column(
        "phone",
        pgettext_lazy("volunteer column", "Mobile phone"),
        gettext_lazy("11 digits; the volunteer logs in with it."),
        14,
        True,
    ),
    Column(
        "unit",
        pgettext_lazy("volunteer column", "Home unit"),
        gettext_lazy(
            "The name or division code of a unit under the one you import into; empty: that "
            "unit itself."
        ),
        30,
    ),
    Column("skills", pgettext_lazy("volunteer column", "Skills"), gettext_lazy("Free text."), 20),
    Column(
        "categories",
        pgettext_lazy("volunteer column", "Interests"),
        gettext_lazy("Platform names separated by “、”, e.g. 理论宣讲、文化服务."),
        24,
    ),
    Column(
        "available_time",
        pgettext_lazy("volunteer column", "Available time"),
        gettext_lazy("Free text, e.g. weekends."),
        16,
    ),
    Column(
        "guardian_name",
        pgettext_lazy("volunteer column", "Guardian's name"),
        gettext_lazy("Required under 14."),
        12,
    ),
    Column(
        "guardian_phone",
        pgettext_lazy("volunteer column", "Guardian's phone"),
        gettext_lazy("Required under 14."),
        14,
    ),
    Column(
        "guardian_consent",
        pgettext_lazy("volunteer column", "Guardian agrees"),
        gettext_lazy("“是” or “yes” for volunteers under 18 whose guardian agrees."),
        10,
    ),
)
_BY_KEY = {column.key: column for column in COLUMNS}
_YES = {"是", "yes", "y", "true", "1", "同意", "√", "✓"}
_LIST_SEPARATORS = re.compile(r"[、,，;；/\s]+")


# --- reading -------------------------------------------------------------------------------


def read_upload(upload: UploadedFile) -> list[dict[str, Any]]:
    """The rows of an uploaded workbook: ``{"row": n, <column key>: text, …}`` each, or
    ``ValidationFailed`` for a file that cannot be read (413 when too large)."""
    xlsx.check_size(upload.size or 0, MAX_FILE_BYTES)
    return read_rows(upload)


def read_rows(file: IO[bytes]) -> list[dict[str, Any]]:
    reader = xlsx.SheetReader(file, max_rows=HEADER_SEARCH_ROWS + MAX_ROWS, max_columns=32)
    cells = reader.rows()
    header_row, columns = _read_header(cells)
    rows: list[dict[str, Any]] = []
    for number, values in cells:
        row: dict[str, Any] = {
            key: _text(values[index]) for index, key in columns.items() if index < len(values)
        }
        id_index = next(index for index, key in columns.items() if key == "id_number")
        if id_index < len(values) and isinstance(values[id_index], int | float):
            row["id_number_was_a_number"] = True
        if any(row.values()):
            rows.append({"row": number, **row})
        if len(rows) > MAX_ROWS:
            raise reader.too_many_rows()
    if not rows:
        raise _invalid(
            _("The sheet has no volunteers below its header row %(row)d.") % {"row": header_row}
        )
    return rows


def _read_header(cells: Iterator[tuple[int, tuple[object, ...]]]) -> tuple[int, dict[int, str]]:
    names = _header_names()
    for number, values in cells:
        found: dict[int, str] = {}
        for index, value in enumerate(values):
            key = names.get(_normal(_text(value)))
            if key is None:
                continue
            if key in found.values():
                raise _invalid(
                    _("The column “%(column)s” appears twice.") % {"column": _BY_KEY[key].label}
                )
            found[index] = key
        if found:
            missing = [str(c.label) for c in COLUMNS if c.required and c.key not in found.values()]
            if missing:
                raise _invalid(
                    _("The sheet has no column %(columns)s; download the template to see them.")
                    % {"columns": "、".join(f"“{m}”" for m in missing)}
                )
            return number, found
        if number >= HEADER_SEARCH_ROWS:
            break
    raise _invalid(
        _(
            "No column headers found: the first row must name the columns, at least "
            "“%(name)s” and “%(id)s”."
        )
        % {"name": _BY_KEY["name"].label, "id": _BY_KEY["id_number"].label}
    )


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for column in COLUMNS:
        names[_normal(column.key)] = column.key
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                names[_normal(str(column.label))] = column.key
    return names


def _normal(text: str) -> str:
    return "".join(text.split()).casefold()


def _text(value: object) -> str:
    """A cell as text. An ID number Excel turned into a number has lost its last digits:
    it is kept as a float's text, which the ID check refuses with its usual message."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="invalid_file", detail={"file": [message]})


# --- starting ------------------------------------------------------------------------------


def start_import(
    *, actor: User, unit: Unit, filename: str, rows: list[dict[str, Any]]
) -> ImportJob:
    """Keep the rows (encrypted) as a job registering volunteers under ``unit`` and queue
    it (it runs here and now when the task queue is down)."""
    require(actor, Action.MANAGE_VOLUNTEERS, unit)
    sealed = crypto.encrypt(json.dumps(rows, ensure_ascii=False))
    job = imports.create_job(
        kind=IMPORT_KIND,
        actor=actor,
        target_id=unit.pk,
        filename=filename,
        payload={"sealed": sealed},
        plan={"rows": len(rows)},
        digest=hashlib.sha256(sealed.encode()).hexdigest(),
    )
    imports.confirm(job)
    job.refresh_from_db()
    return job


# --- applying ------------------------------------------------------------------------------


@dataclass
class _Row:
    number: int
    volunteer: Volunteer
    categories: list[Category]


def apply_job(job: ImportJob, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Register the job's valid rows (``portal.imports`` runs it in one transaction)."""
    unit = Unit.objects.get(pk=job.target_id)
    require(job.actor, Action.MANAGE_VOLUNTEERS, unit)
    rows: list[dict[str, Any]] = json.loads(crypto.decrypt(job.payload["sealed"]))
    total = len(rows)
    progress(0, total)
    errors: list[list[Any]] = []
    units = _UnitFinder(unit)
    categories = _CategoryFinder()
    valid: list[_Row] = []
    for index, row in enumerate(rows, start=1):
        checked = _check_row(row, units, categories, errors)
        if checked is not None:
            valid.append(checked)
        if index % PROGRESS_EVERY == 0:
            progress(index // 2, total)
    fresh, existing = _drop_registered(valid, errors)
    progress(total // 2, total)
    saved: list[Volunteer] = []
    for start in range(0, len(fresh), PROGRESS_EVERY):
        chunk = fresh[start : start + PROGRESS_EVERY]
        saved.extend(insert_volunteers([r.volunteer for r in chunk], [r.categories for r in chunk]))
        progress(
            total // 2 + (start + len(chunk)) * (total - total // 2) // max(len(fresh), 1), total
        )
    errors.sort(key=lambda e: (e[0], e[1]))
    result = {
        "total": total,
        "created": len(saved),
        "existing": existing,
        "invalid": len({e[0] for e in errors}),
        "errors": errors,
    }
    if saved:
        bump_on_commit(VOLUNTEERS)  # the public pages count volunteers
    record_audit(
        actor=job.actor,
        action=AuditAction.VOLUNTEERS_IMPORTED,
        unit=unit,
        object_repr=job.filename or unit.name,
        changes={key: result[key] for key in ("total", "created", "existing", "invalid")},
    )
    return result


class _UnitFinder:
    """Home units named in the sheet: a name or division code under the unit imported into
    (one query for the subtree)."""

    def __init__(self, top: Unit) -> None:
        self.top = top
        self.by_name: dict[str, list[Unit]] = {}
        self.by_code: dict[str, list[Unit]] = {}
        for unit in Unit.objects.filter(
            tree_id=top.tree_id, lft__gte=top.lft, lft__lte=top.rght, is_active=True
        ):
            self.by_name.setdefault(_normal(unit.name), []).append(unit)
            if unit.division_code:
                self.by_code.setdefault(unit.division_code, []).append(unit)

    def find(self, text: str) -> Unit | str:
        if not text:
            return self.top
        found = self.by_code.get(text) or self.by_name.get(_normal(text))
        if not found:
            # "大房村" for "大房村新时代文明实践站": a unique name starting with it.
            key = _normal(text)
            found = [
                u
                for units in self.by_name.values()
                for u in units
                if _normal(u.name).startswith(key)
            ]
        if len(found) == 1:
            return found[0]
        if not found:
            return _("No active unit called “%(name)s” under “%(top)s”.") % {
                "name": text,
                "top": self.top.name,
            }
        return _("Several units are called “%(name)s”; use the division code.") % {"name": text}


class _CategoryFinder:
    def __init__(self) -> None:
        self.by_name: dict[str, Category] = {}
        for category in Category.objects.filter(is_active=True):
            for text in (category.code, category.name, category.name_en):
                if text:
                    self.by_name[_normal(text)] = category

    def find(self, text: str) -> tuple[list[Category], list[str]]:
        found: list[Category] = []
        unknown: list[str] = []
        for part in filter(None, _LIST_SEPARATORS.split(text or "")):
            category = self.by_name.get(_normal(part))
            if category is None:
                unknown.append(part)
            elif category not in found:
                found.append(category)
        return found, unknown


def _check_row(
    row: Mapping[str, Any], units: _UnitFinder, categories: _CategoryFinder, errors: list[list[Any]]
) -> _Row | None:
    number = int(row["row"])
    problems: list[tuple[str, str]] = []
    unit = units.find(str(row.get("unit", "")))
    if isinstance(unit, str):
        problems.append(("unit", unit))
        unit_value: Unit | None = None
    else:
        unit_value = unit
    if row.get("id_number_was_a_number"):
        problems.append(
            (
                "id_number",
                _(
                    "Excel stored this ID number as a number and dropped its last digits: "
                    "format the column as text and type the number again."
                ),
            )
        )
    chosen, unknown = categories.find(str(row.get("categories", "")))
    if unknown:
        problems.append(
            ("categories", _("Unknown platform: %(names)s.") % {"names": "、".join(unknown)})
        )
    data = {
        **{key: row.get(key, "") for key in _BY_KEY if key not in ("unit", "categories")},
        "unit": unit_value or units.top,
        "guardian_consent": _normal(str(row.get("guardian_consent", ""))) in _YES,
    }
    try:
        volunteer = services.clean_new_volunteer(data, check_unique=False)
    except ValidationFailed as exc:
        for field, messages in (exc.detail or {}).items():
            if field == "id_number" and row.get("id_number_was_a_number"):
                continue  # said above, in the words that help
            for message in messages:
                problems.append((field, str(message)))
        volunteer = None
    for field, message in problems:
        column = _BY_KEY.get(field)
        errors.append([number, str(column.label) if column else field, message])
    if problems or volunteer is None:
        return None
    volunteer.status = VolunteerStatus.ACTIVE
    volunteer.decided_at = timezone.now()
    return _Row(number, volunteer, chosen)


def _drop_registered(valid: list[_Row], errors: list[list[Any]]) -> tuple[list[_Row], int]:
    """The rows to register: not already registered (counted, skipped), not a repeat of an
    earlier row, and with a phone nobody else registered (an error)."""
    existing_ids: set[str] = set()
    taken_phones: set[str] = set()
    hashes = [r.volunteer.id_number_hash for r in valid]
    phones = [r.volunteer.phone_hash for r in valid]
    for start in range(0, len(valid), 1000):
        existing_ids.update(
            Volunteer.objects.filter(id_number_hash__in=hashes[start : start + 1000]).values_list(
                "id_number_hash", flat=True
            )
        )
        taken_phones.update(
            Volunteer.objects.filter(phone_hash__in=phones[start : start + 1000]).values_list(
                "phone_hash", flat=True
            )
        )
    fresh: list[_Row] = []
    existing = 0
    seen_ids: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    id_label = str(_BY_KEY["id_number"].label)
    phone_label = str(_BY_KEY["phone"].label)
    for row in valid:
        volunteer = row.volunteer
        if volunteer.id_number_hash in existing_ids:
            existing += 1
            continue
        if volunteer.id_number_hash in seen_ids:
            errors.append(
                [
                    row.number,
                    id_label,
                    _("The same ID number as row %(row)d.")
                    % {"row": seen_ids[volunteer.id_number_hash]},
                ]
            )
            continue
        if volunteer.phone_hash in taken_phones:
            errors.append([row.number, phone_label, _("This mobile number is already registered.")])
            continue
        if volunteer.phone_hash in seen_phones:
            errors.append(
                [
                    row.number,
                    phone_label,
                    _("The same mobile number as row %(row)d.")
                    % {"row": seen_phones[volunteer.phone_hash]},
                ]
            )
            continue
        seen_ids[volunteer.id_number_hash] = row.number
        seen_phones[volunteer.phone_hash] = row.number
        fresh.append(row)
    return fresh, existing


# --- workbooks -----------------------------------------------------------------------------


def template_download() -> HttpResponse:
    """An empty sheet with the columns, one example row and the hints."""
    workbook = xlsx.write_table(
        title=str(_("Volunteers")),
        columns=[xlsx.Column(column.label, column.width) for column in COLUMNS],
        rows=[[str(column.hint) for column in COLUMNS]],
    )
    return _download(workbook, "volunteers-template.xlsx")


def error_report(job: ImportJob) -> HttpResponse:
    """The rows left out of an import: row, column, problem."""
    workbook = xlsx.write_table(
        title=str(_("Problems")),
        columns=[
            xlsx.Column(pgettext_lazy("volunteer column", "Row"), 8),
            xlsx.Column(pgettext_lazy("volunteer column", "Column"), 16),
            xlsx.Column(pgettext_lazy("volunteer column", "Problem"), 80),
        ],
        rows=(job.result or {}).get("errors", []),
    )
    return _download(workbook, f"volunteers-import-{job.pk}-problems.xlsx")


def export_rows(volunteers: Iterable[Volunteer]) -> Iterator[list[object]]:
    """The scoped volunteer list as rows of the export (masked personal data)."""
    for volunteer in volunteers:
        yield [
            volunteer.number,
            volunteer.name,
            volunteer.get_gender_display(),
            volunteer.id_number_masked,
            volunteer.phone_masked,
            volunteer.unit.name,
            volunteer.get_status_display(),
            volunteer.confirmed_hours,
            volunteer.points_balance,
            volunteer.skills,
            volunteer.available_time,
            timezone.localtime(volunteer.created_at).date(),
        ]


EXPORT_COLUMNS: Sequence[tuple[Promise, int]] = (
    (pgettext_lazy("volunteer column", "Volunteer number"), 16),
    (pgettext_lazy("volunteer column", "Name"), 12),
    (pgettext_lazy("volunteer column", "Gender"), 6),
    (pgettext_lazy("volunteer column", "ID number"), 22),
    (pgettext_lazy("volunteer column", "Mobile phone"), 14),
    (pgettext_lazy("volunteer column", "Home unit"), 30),
    (pgettext_lazy("volunteer column", "Status"), 10),
    (pgettext_lazy("volunteer column", "Confirmed hours"), 10),
    (pgettext_lazy("volunteer column", "Points"), 8),
    (pgettext_lazy("volunteer column", "Skills"), 20),
    (pgettext_lazy("volunteer column", "Available time"), 16),
    (pgettext_lazy("volunteer column", "Registered"), 12),
)


def export_download(volunteers: Iterable[Volunteer], filename: str) -> HttpResponse:
    workbook = xlsx.write_table(
        title=str(_("Volunteers")),
        columns=[
            xlsx.Column(label, width, number_format="0.00" if index == 7 else None)
            for index, (label, width) in enumerate(EXPORT_COLUMNS)
        ],
        rows=export_rows(volunteers),
    )
    return _download(workbook, filename)


HOURS_COLUMNS: Sequence[tuple[Promise, int, str | None]] = (
    (pgettext_lazy("volunteer column", "Date"), 12, "yyyy-mm-dd"),
    (pgettext_lazy("volunteer column", "Start"), 8, None),
    (pgettext_lazy("volunteer column", "End"), 8, None),
    (pgettext_lazy("volunteer column", "Hours"), 8, "0.00"),
    (pgettext_lazy("volunteer column", "Platform"), 12, None),
    (pgettext_lazy("volunteer column", "Service content"), 24, None),
    (pgettext_lazy("volunteer column", "Source"), 12, None),
    (pgettext_lazy("volunteer column", "Status"), 10, None),
    (pgettext_lazy("volunteer column", "Organizing unit"), 30, None),
    (pgettext_lazy("volunteer column", "Recorded by"), 14, None),
    (pgettext_lazy("volunteer column", "Confirmed by"), 14, None),
    (pgettext_lazy("volunteer column", "Reason"), 30, None),
)


def hours_download(volunteer: Volunteer, records: Iterable[ServiceRecord]) -> HttpResponse:
    """A volunteer's service records, every status (a voided one says so), newest first."""

    def rows() -> Iterator[list[object]]:
        for record in records:
            yield [
                record.date,
                record.start_time.strftime("%H:%M") if record.start_time else "",
                record.end_time.strftime("%H:%M") if record.end_time else "",
                record.hours,
                record.category.display_name if record.category else "",
                record.content,
                record.get_source_display(),
                record.get_status_display(),
                record.unit.name,
                _person(record.recorded_by),
                _person(record.confirmed_by),
                record.void_reason or record.reason,
            ]

    workbook = xlsx.write_table(
        title=volunteer.name,
        columns=[xlsx.Column(label, width, fmt) for label, width, fmt in HOURS_COLUMNS],
        rows=rows(),
    )
    name = _("Service hours of %(name)s") % {"name": volunteer.name}
    return attachment(
        workbook,
        content_type=xlsx.XLSX_CONTENT_TYPE,
        filename=f"{name}.xlsx",
        fallback=f"hours-{volunteer.number}.xlsx",
    )


def _person(user: User | None) -> str:
    return user.display_name if user is not None else ""


def _download(workbook: bytes, filename: str) -> HttpResponse:
    return attachment(
        workbook, content_type=xlsx.XLSX_CONTENT_TYPE, filename=filename, fallback=filename
    )
