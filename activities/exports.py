"""Excel exports of activities: the staff list (inline when small, else a background job of
:mod:`portal.exports`), the statistics dashboard's tables, and the workbook writer with
several sheets the annual report uses too. Every cell goes through
:func:`portal.xlsx.safe_cell` (no formulas, nothing XML cannot carry)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.db.models import Count, Sum
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook

from portal import xlsx
from portal.exports import Progress, counted
from portal.models import ExportJob
from practice.permissions import Action, scope_q

from .filtersets import ActivityFilterSet
from .models import Activity

__all__ = [
    "ACTIVITY_COLUMNS",
    "WRITER",
    "activity_filterset",
    "activity_rows",
    "activity_workbook",
    "statistics_workbook",
    "write_activities",
    "write_sheets",
]

# The dotted path portal.exports runs for a big activity export.
WRITER = "activities.exports.write_activities"

Sheet = tuple[str, Sequence[xlsx.Column], Iterable[Sequence[Any]]]


def write_sheets(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of several sheets, each ``(title, columns, rows)`` written like
    :func:`portal.xlsx.write_table` (bold frozen header row, widths, number formats)."""
    workbook = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = workbook.create_sheet(title=xlsx.sheet_title(title))
        for index, column in enumerate(columns, start=1):
            if column.width:
                sheet.column_dimensions[get_column_letter(index)].width = column.width
        sheet.freeze_panes = "A2"
        sheet.append(xlsx._header(sheet, columns))
        formats = [column.number_format for column in columns]
        for values in rows:
            sheet.append(
                [
                    xlsx.safe_cell(
                        sheet, value, number_format=formats[i] if i < len(formats) else None
                    )
                    for i, value in enumerate(values)
                ]
            )
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the activity list -------------------------------------------------------------------

_DATETIME = "yyyy-mm-dd hh:mm"


def _columns() -> list[xlsx.Column]:
    return [
        xlsx.Column(_("ID"), width=8),
        xlsx.Column(_("Title"), width=30),
        xlsx.Column(_("Unit"), width=26),
        xlsx.Column(_("Platform"), width=14),
        xlsx.Column(_("Organizing team"), width=24),
        xlsx.Column(_("Start"), width=17, number_format=_DATETIME),
        xlsx.Column(_("End"), width=17, number_format=_DATETIME),
        xlsx.Column(_("Place"), width=24),
        xlsx.Column(_("Status"), width=14),
        xlsx.Column(_("People served"), width=12),
        xlsx.Column(_("Materials"), width=12),
        xlsx.Column(_("Volunteers"), width=12),
        xlsx.Column(_("Volunteer hours"), width=14, number_format="0.00"),
        xlsx.Column(_("Submitted"), width=17, number_format=_DATETIME),
        xlsx.Column(_("Reviewed"), width=17, number_format=_DATETIME),
    ]


ACTIVITY_COLUMNS = len(_columns())


def activity_filterset(user: Any, data: QueryDict) -> ActivityFilterSet:
    """The staff list's filters (``within``, ``status``, ``category``, ``from``, ``to``)
    over the activities in ``user``'s staff view, each with its participants' count and
    hours (one query for the whole export, however long)."""
    queryset = (
        Activity.objects.filter(scope_q(user, Action.VIEW, prefix="unit__"))
        .select_related("unit", "category", "team")
        .annotate(volunteer_count=Count("participants"), hours=Sum("participants__hours"))
        .order_by("-start", "-pk")
    )
    return ActivityFilterSet(data, queryset=queryset)


def activity_rows(activities: Iterable[Activity]) -> Iterator[list[Any]]:
    """One row per activity, in the columns of :func:`activity_workbook`."""
    for a in activities:
        yield [
            a.pk,
            a.title,
            a.unit.name,
            a.category.display_name,
            a.team.name if a.team else "",
            a.start,
            a.end,
            a.location,
            a.get_status_display(),
            a.beneficiaries,
            a.materials,
            getattr(a, "volunteer_count", 0),
            getattr(a, "hours", None) or Decimal(0),
            a.submitted_at,
            a.reviewed_at,
        ]


def activity_filename(today: dt.date | None = None) -> str:
    today = today or timezone.localdate()
    # Translators: a file name, without its extension.
    return f"{pgettext('file name', 'activities')}-{today:%Y%m%d}.xlsx"


def activity_workbook(rows: Iterable[Sequence[Any]]) -> bytes:
    # Translators: the name of the sheet in an exported workbook (at most 31 characters).
    return xlsx.write_table(
        title=pgettext("spreadsheet", "Activities"), columns=_columns(), rows=rows
    )


def _query(params: Mapping[str, Any]) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, values in params.items():
        query.setlist(key, [str(v) for v in (values if isinstance(values, list) else [values])])
    return query


def write_activities(job: ExportJob, progress: Progress) -> tuple[bytes, str]:
    """The writer of a big activity export (``portal.exports``): the filters of
    ``job.params`` applied again as ``job.actor`` — scope as it is now — rows fetched in
    chunks, progress reported as they are written."""
    filterset = activity_filterset(job.actor, _query(job.params))
    activities = filterset.qs if filterset.is_valid() else Activity.objects.none()
    total = activities.count()
    rows = counted(
        activity_rows(activities.iterator(chunk_size=1000)), total=total, progress=progress
    )
    return activity_workbook(rows), activity_filename()


# --- the statistics dashboard ------------------------------------------------------------


def _figure_columns(first: str) -> list[xlsx.Column]:
    return [
        xlsx.Column(first, width=28),
        xlsx.Column(_("Activities"), width=12),
        xlsx.Column(_("People served"), width=14),
        xlsx.Column(_("Materials"), width=14),
        xlsx.Column(_("Volunteer hours"), width=16, number_format="0.00"),
    ]


def _figures(row: Mapping[str, Any]) -> list[Any]:
    return [row["activities"], row["beneficiaries"], row["materials"], row["volunteer_hours"]]


def statistics_workbook(stats: Mapping[str, Any]) -> bytes:
    """The dashboard's tables (``activities.views_stats.dashboard_figures``) as a workbook:
    headline figures, by platform, by month, by unit, requests and the silent units."""
    figures = stats["figures"]
    requests = stats["requests"]
    timings = stats["timings"]
    headline = [
        [_("Unit"), stats["unit"].name],
        [_("From"), stats["from"]],
        [_("To"), stats["to"]],
        [_("Activities"), figures["activities"]],
        [_("People served"), figures["beneficiaries"]],
        [_("Materials"), figures["materials"]],
        [_("Volunteer hours"), figures["volunteer_hours"]],
        [_("Volunteers taking part"), stats["participants"]],
        [_("Requests submitted"), requests["submitted"]],
        [_("Requests completed"), requests["completed"]],
        [_("Requests rejected"), requests["rejected"]],
        [_("Requests open"), requests["open"]],
        [_("Average rating"), requests["average_rating"]],
        [_("Average hours to dispatch"), timings["average_hours_to_dispatch"]],
        [_("Average hours to complete"), timings["average_hours_to_complete"]],
    ]
    silent_title = _("Silent units %(month)s") % {"month": f"{stats['month']:%Y-%m}"}
    sheets: list[Sheet] = [
        (
            _("Figures"),
            [xlsx.Column(_("Figure"), width=30), xlsx.Column(_("Value"), width=24)],
            headline,
        ),
        (
            _("By platform"),
            _figure_columns(_("Platform")),
            [[row["name"], *_figures(row)] for row in figures["by_category"]],
        ),
        (
            _("By month"),
            _figure_columns(_("Month")),
            [[row["month"], *_figures(row)] for row in figures["by_month"]],
        ),
        (
            _("By unit"),
            _figure_columns(_("Unit")),
            [[row["name"], *_figures(row)] for row in figures["by_child"]],
        ),
        (
            silent_title,
            [xlsx.Column(_("Unit"), width=30), xlsx.Column(_("ID"), width=8)],
            [[u.name, u.pk] for u in stats["silent"]],
        ),
    ]
    return write_sheets(sheets)
