"""A unit's annual report: the sentences a county writes upward every year, generated from
the figures of its approved activities (:func:`activities.stats.activity_figures` over the
calendar year), with the tables behind them, as a page, a workbook and a Word document.

The sentences follow the county's own report (the 2021 Nanjing County report)::

    2021年，南靖县理论宣讲志愿服务队全年累计开展专题宣讲活动122次，受益群众3万余人。
    社会宣传志愿服务队组织开展活动206场次，发放宣传材料3万多份。

one per platform with any activity, in platform order; the first names the year. Each
names the platform's team — the unit's own team of that platform when it has one (the
county's "理论宣讲志愿服务队"), else "<platform>志愿服务队" — and the place name the first
sentence gave is left out of the next ones, as the report does. Publicity reports the
materials handed out, the other platforms the people reached. Counts of 10,000 and more
are rounded down to 万 (亿) with 余 or 多 ("3万余人": more than 30,000), smaller ones are
exact. English is generated the same way from the same figures.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from practice.models import Unit
from volunteers.models import Team

from .stats import activity_figures, participants

__all__ = [
    "MIN_YEAR",
    "annual_report",
    "approx",
    "hours_text",
    "report_docx",
    "report_tables",
    "report_text",
    "report_title",
    "report_xlsx",
    "team_names",
]

# The first year a report may be asked for (the practice centres began in 2018).
MIN_YEAR = 2000
# Platforms whose sentence reports the materials handed out rather than people reached.
MATERIALS_FIRST = frozenset({"publicity"})
# The seed report writes "3万余人" for the lectures and "3万多份", "5万多人" elsewhere.
YU_PLATFORMS = frozenset({"theory"})
# Where the county's name ends inside a team's name ("南靖县|理论宣讲志愿服务队"; the first
# county-level suffix, so "南靖县乡风文明志愿服务队" keeps "乡风文明").
_PLACE_END = re.compile(r".*?[县市区旗]")


def _chinese() -> bool:
    return (translation.get_language() or "").lower().startswith("zh")


def approx(count: int, *, yu: bool = False) -> str:
    """``count`` as the report writes it: exact below 10,000; above, rounded down to 万 or
    亿 with 余/多 when something was cut ("3万余", "5万多", "3万"), in English "more than
    30,000" / "30,000"."""
    count = int(count)
    if count < 10_000:
        return str(count) if _chinese() else f"{count:,}"
    if _chinese():
        unit, name = (100_000_000, "亿") if count >= 100_000_000 else (10_000, "万")
        whole, rest = divmod(count, unit)
        return f"{whole}{name}{('余' if yu else '多') if rest else ''}"
    step = 100_000_000 if count >= 100_000_000 else 10_000
    floor = count // step * step
    if floor == count:
        return f"{count:,}"
    return _("more than %(count)s") % {"count": f"{floor:,}"}


def hours_text(hours: Decimal) -> str:
    """Volunteer hours in a sentence: rounded like counts from 10,000 on, else to a tenth
    ("1234.5")."""
    if hours >= 10_000:
        return approx(int(hours))
    text = f"{hours.quantize(Decimal('0.1'))}"
    text = text.removesuffix(".0")
    if not _chinese() and "." not in text:
        return f"{int(text):,}"
    return text


def team_names(unit: Unit) -> dict[str, str]:
    """The unit's own team of each platform (the oldest active one): platform code → name.
    One query."""
    names: dict[str, str] = {}
    teams = (
        Team.objects.filter(unit=unit, is_active=True, category__isnull=False)
        .order_by("pk")
        .values_list("category__code", "name")
    )
    for code, name in teams:
        names.setdefault(code, name)
    return names


def _platform_team(row: dict[str, Any], teams: dict[str, str]) -> str:
    if row["category"] in teams:
        return teams[row["category"]]
    return _("%(platform)s volunteer team") % {"platform": row["name"]}


def _without_place(name: str, place: str) -> str:
    if place and name.startswith(place) and len(name) > len(place):
        return name[len(place) :]
    return name


def _place_of(name: str) -> str:
    match = _PLACE_END.match(name)
    return match.group(0) if match else ""


def _platform_sentence(row: dict[str, Any], team: str) -> str:
    """One platform's sentence (without the year): count, and people reached or
    materials handed out."""
    count = row["activities"]
    yu = row["category"] in YU_PLATFORMS
    people, materials = row["beneficiaries"], row["materials"]
    use_materials = materials > 0 and (row["category"] in MATERIALS_FIRST or people == 0)
    values = {"team": team, "count": count}
    if row["category"] == "theory":
        if use_materials:
            text = ngettext(
                "%(team)s held %(count)s themed lecture over the year, handing out "
                "%(materials)s copies of materials",
                "%(team)s held %(count)s themed lectures over the year, handing out "
                "%(materials)s copies of materials",
                count,
            )
        elif people:
            text = ngettext(
                "%(team)s held %(count)s themed lecture over the year, reaching %(people)s people",
                "%(team)s held %(count)s themed lectures over the year, reaching %(people)s people",
                count,
            )
        else:
            text = ngettext(
                "%(team)s held %(count)s themed lecture over the year",
                "%(team)s held %(count)s themed lectures over the year",
                count,
            )
    elif row["category"] in MATERIALS_FIRST:
        if use_materials:
            text = ngettext(
                "%(team)s organized %(count)s activity, handing out %(materials)s copies "
                "of materials",
                "%(team)s organized %(count)s activities, handing out %(materials)s "
                "copies of materials",
                count,
            )
        elif people:
            text = ngettext(
                "%(team)s organized %(count)s activity, reaching %(people)s people",
                "%(team)s organized %(count)s activities, reaching %(people)s people",
                count,
            )
        else:
            text = ngettext(
                "%(team)s organized %(count)s activity",
                "%(team)s organized %(count)s activities",
                count,
            )
    elif use_materials:
        text = ngettext(
            "%(team)s held %(count)s activity, handing out %(materials)s copies of materials",
            "%(team)s held %(count)s activities, handing out %(materials)s copies of materials",
            count,
        )
    elif people:
        text = ngettext(
            "%(team)s held %(count)s activity, reaching %(people)s people",
            "%(team)s held %(count)s activities, reaching %(people)s people",
            count,
        )
    else:
        text = ngettext(
            "%(team)s held %(count)s activity",
            "%(team)s held %(count)s activities",
            count,
        )
    values["people"] = approx(people, yu=yu)
    values["materials"] = approx(materials, yu=yu)
    return text % values


def _full_stop(sentence: str) -> str:
    # Translators: how a generated sentence of the annual report ends ("。" in Chinese).
    return pgettext("end of a sentence", "%(sentence)s.") % {"sentence": sentence}


def _sentences(unit: Unit, year: int, figures: dict[str, Any], people: int) -> list[str]:
    teams = team_names(unit)
    sentences: list[str] = []
    place = ""
    for row in figures["by_category"]:
        if not row["activities"]:
            continue
        team = _platform_team(row, teams)
        if not sentences:
            place = _place_of(team)
            text = _("In %(year)s, %(sentence)s") % {
                "year": year,
                "sentence": _platform_sentence(row, team),
            }
        else:
            text = _platform_sentence(row, _without_place(team, place))
        sentences.append(_full_stop(text))
    if not figures["activities"]:
        return [_("No approved activity was recorded in %(year)s.") % {"year": year}]
    total = figures["activities"]
    values = {
        "count": total,
        "people": approx(figures["beneficiaries"]),
        "materials": approx(figures["materials"]),
        "hours": hours_text(figures["volunteer_hours"]),
        "volunteers": approx(people),
    }
    if not figures["volunteer_hours"] and not people:
        closing = ngettext(
            "Altogether %(count)s activity was held over the year, reaching %(people)s "
            "people, with %(materials)s copies of materials handed out",
            "Altogether %(count)s activities were held over the year, reaching %(people)s "
            "people, with %(materials)s copies of materials handed out",
            total,
        )
        sentences.append(_full_stop(closing % values))
        return sentences
    sentences.append(
        _full_stop(
            ngettext(
                "Altogether %(count)s activity was held over the year, reaching %(people)s "
                "people, with %(materials)s copies of materials handed out and %(hours)s "
                "volunteer hours given by %(volunteers)s volunteers",
                "Altogether %(count)s activities were held over the year, reaching "
                "%(people)s people, with %(materials)s copies of materials handed out and "
                "%(hours)s volunteer hours given by %(volunteers)s volunteers",
                total,
            )
            % values
        )
    )
    return sentences


def annual_report(unit: Unit, year: int) -> dict[str, Any]:
    """The report of ``unit``'s subtree for calendar ``year``: ``sentences`` (in the
    current language), the ``figures`` (``activity_figures`` over the year: totals,
    ``by_category``, ``by_month``, ``by_child``), ``participants`` (distinct volunteers),
    ``unit``, ``year``, ``from`` and ``to``. A fixed number of queries (six)."""
    date_from, date_to = dt.date(year, 1, 1), dt.date(year, 12, 31)
    figures = activity_figures(unit, date_from=date_from, date_to=date_to)
    people = participants(unit, date_from=date_from, date_to=date_to)
    return {
        "unit": unit,
        "year": year,
        "from": date_from,
        "to": date_to,
        "figures": figures,
        "participants": people,
        "sentences": _sentences(unit, year, figures, people),
    }


def report_text(report: dict[str, Any]) -> str:
    """The sentences as one paragraph (joined without spaces in Chinese)."""
    return ("" if _chinese() else " ").join(report["sentences"])


def report_title(report: dict[str, Any]) -> str:
    """``<unit> · annual report <year>`` in the current language."""
    return _("%(unit)s: activities in %(year)s") % {
        "unit": report["unit"].name,
        "year": report["year"],
    }


def report_tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report's tables: (title, headers, rows), as the page, the workbook and the
    document show them."""
    figures = report["figures"]
    heads = [_("Activities"), _("People served"), _("Materials"), _("Volunteer hours")]

    def values(row: dict[str, Any]) -> list[Any]:
        hours = Decimal(row["volunteer_hours"]).quantize(Decimal("0.01"))
        return [row["activities"], row["beneficiaries"], row["materials"], hours]

    return [
        (
            _("By platform"),
            [_("Platform"), *heads],
            [[row["name"], *values(row)] for row in figures["by_category"]]
            + [[_("Total"), *values(figures)]],
        ),
        (
            _("By month"),
            [_("Month"), *heads],
            [[row["month"], *values(row)] for row in figures["by_month"]],
        ),
        (
            _("By unit"),
            [_("Unit"), *heads],
            [[row["name"], *values(row)] for row in figures["by_child"]],
        ),
    ]


def report_xlsx(report: dict[str, Any]) -> bytes:
    """The report as a workbook: the sentences, then one sheet per table."""
    from portal.xlsx import Column

    from .exports import write_sheets

    sheets: list[tuple[str, Sequence[Column], Sequence[Sequence[Any]]]] = [
        (
            _("Report"),
            [Column(report_title(report), width=120)],
            [[sentence] for sentence in report["sentences"]],
        )
    ]
    for title, headers, rows in report_tables(report):
        columns = [Column(headers[0], width=28)] + [
            Column(h, width=16, number_format="0.00" if i == 3 else None)
            for i, h in enumerate(headers[1:])
        ]
        sheets.append((title, columns, rows))
    return write_sheets(sheets)


def report_docx(report: dict[str, Any]) -> bytes:
    """The report as a Word document (python-docx): title, sentences, tables."""
    from docx import Document

    from portal.xlsx import safe_text

    document = Document()
    document.add_heading(safe_text(report_title(report)), level=1)
    document.add_paragraph(safe_text(report_text(report)))
    for title, headers, rows in report_tables(report):
        document.add_heading(title, level=2)
        table = document.add_table(rows=1, cols=len(headers))
        table.style = "Table Grid"
        for cell, header in zip(table.rows[0].cells, headers, strict=True):
            cell.text = safe_text(str(header))
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = safe_text(str(value))
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()
