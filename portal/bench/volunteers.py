"""Volunteers: registering the county's 50,391 volunteers from one workbook (rows per
second, peak memory), then the volunteer list (page and API), a volunteer's page and the
county's statistics at 500 volunteers and at the full size, as a coordinator of the
county. The ratio of the two sizes is what must stay flat."""

from __future__ import annotations

import datetime as dt
import random
import resource
import sys
from io import BytesIO

from django.core.management.base import CommandError
from django.test import Client
from openpyxl import Workbook

from practice.choices import Role, UnitKind
from practice.models import RoleAssignment, Unit, User
from volunteers import spreadsheets as sheets
from volunteers.identity import check_character
from volunteers.models import Volunteer

from .common import Context, Measurement, Ratio, Section, measure_get, timed

SMALL = 500


class Volunteers(Section):
    name = "volunteers"
    help = "import 50,391 volunteers from a workbook; lists, pages and stats at 500 and 50,391"
    ratios = [
        Ratio("/volunteers/, full ÷ 500", "volunteers.big.page.list", "volunteers.small.page.list"),
        Ratio("API list, full ÷ 500", "volunteers.big.api.list", "volunteers.small.api.list"),
        Ratio(
            "API ?q=name, full ÷ 500", "volunteers.big.api.search", "volunteers.small.api.search"
        ),
        Ratio(
            "/volunteers/<id>/, full ÷ 500",
            "volunteers.big.page.detail",
            "volunteers.small.page.detail",
        ),
        Ratio("unit stats, full ÷ 500", "volunteers.big.api.stats", "volunteers.small.api.stats"),
    ]

    def finish(self, ctx: Context) -> None:
        county = ctx.county
        if county is None:
            return
        county.refresh_from_db()
        total = max(ctx.volunteers, SMALL + 1)
        stations = list(Unit.objects.within(county).filter(kind=UnitKind.STATION))
        if not stations:
            raise CommandError("The bench county has no stations.")
        coordinator = User.objects.create_user(username="bench-coordinator", password=None)
        RoleAssignment.objects.create(user=coordinator, unit=county, role=Role.COORDINATOR)
        client = Client()
        client.force_login(coordinator)
        ctx.write(f"Volunteers: {SMALL} then {total:,} in the county, imported from workbooks")

        rows = list(_rows(total, stations))
        small_sheet = _workbook(rows[:SMALL])
        self._import(ctx, county, small_sheet, SMALL, "volunteers.import_small")
        self._reads(ctx, client, county, "small")
        full_sheet = _workbook(rows)
        self._import(ctx, county, full_sheet, total, "volunteers.import_full")
        self._reads(ctx, client, county, "big")

    def _import(self, ctx: Context, county: Unit, sheet: bytes, rows: int, key: str) -> None:
        peak_before = _peak_rss_kb()
        measurement = Measurement(
            key, f"import a workbook of {rows:,} volunteers ({len(sheet) // 1024:,} KB)"
        )

        def run() -> dict[str, int]:
            read = sheets.read_rows(BytesIO(sheet))
            job = sheets.start_import(
                actor=ctx.actor, unit=county, filename="bench.xlsx", rows=read
            )
            if job.status != "done":
                raise CommandError(f"The bench import failed: {job.error}")
            return job.result

        elapsed, result = timed(run)
        measurement.samples_ms.append(elapsed)
        measurement.info.update(
            {
                "rows_per_second": round(rows / (elapsed / 1000)),
                "created": result["created"],
                "existing": result["existing"],
                "invalid": result["invalid"],
                "peak_rss_growth_mb": round((_peak_rss_kb() - peak_before) / 1024, 1),
                "peak_rss_mb": round(_peak_rss_kb() / 1024, 1),
            }
        )
        ctx.store(measurement)
        ctx.write(
            f"    {measurement.info['rows_per_second']:,} rows/s; created {result['created']:,}, "
            f"already registered {result['existing']:,}, invalid {result['invalid']}; peak "
            f"memory {measurement.info['peak_rss_mb']} MB "
            f"(+{measurement.info['peak_rss_growth_mb']} MB)"
        )

    def _reads(self, ctx: Context, client: Client, county: Unit, size: str) -> None:
        count = Volunteer.objects.filter(unit__tree_id=county.tree_id).count()
        middle = Volunteer.objects.filter(unit__tree_id=county.tree_id).order_by("pk")[count // 2]
        name = middle.name
        for key, label, url in (
            ("page.list", "GET /volunteers/", "/volunteers/"),
            ("api.list", "API /volunteers/?page_size=50", "/api/v1/volunteers/?page_size=50"),
            ("api.search", "API /volunteers/?q=<name>", f"/api/v1/volunteers/?q={name}"),
            ("page.detail", "GET /volunteers/<id>/", f"/volunteers/{middle.pk}/"),
            ("api.stats", "API /units/<county>/stats/", f"/api/v1/units/{county.pk}/stats/"),
        ):
            measure_get(
                ctx, client, f"volunteers.{size}.{key}", f"{label} ({count:,} volunteers)", url
            )


def _rows(total: int, stations: list[Unit]) -> list[list[object]]:
    """Valid, distinct volunteers (made up: sequence codes 900–999), spread over the
    stations."""
    rng = random.Random(50391)  # noqa: S311 - reproducible bench data
    surnames = "王林陈黄张李吴郑刘庄简萧曾游赖叶蔡杨许"
    given = "文建丽志秀国海明晓德春美淑玉金宝雅思子梓华娟强英平燕辉玲"
    seen: set[str] = set()
    rows: list[list[object]] = []
    while len(rows) < total:
        born = dt.date(rng.randrange(1950, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
        first17 = f"350627{born:%Y%m%d}{rng.randrange(900, 1000):03d}"
        number = first17 + check_character(first17)
        if number in seen:
            continue
        seen.add(number)
        index = len(rows)
        rows.append(
            [
                rng.choice(surnames) + rng.choice(given) + rng.choice(given),
                number,
                f"13{5 + index % 5}{index:08d}",
                stations[index % len(stations)].division_code
                or stations[index % len(stations)].name,
                "宣讲",
                "理论宣讲、文化服务",
                "周末",
            ]
        )
    return rows


def _workbook(rows: list[list[object]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(
        ["姓名", "身份证号码", "手机号码", "所属单位", "技能特长", "服务意向", "可服务时间"]
    )
    for row in rows:
        sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _peak_rss_kb() -> int:
    """The process's peak resident memory so far (KB; macOS reports bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
