"""The Nanjing County (南靖县, Zhangzhou, Fujian) demo network, built from the 2022 report:
1 centre, 12 institutes (11 towns + 1 park), 185 stations, a few points.

Station names follow the real naming convention; the villages beyond the few named in
public sources are made up (deterministically, so every run builds the same network).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

__all__ = ["CENTRE_NAME", "COUNTY_CODE", "county_spec"]

COUNTY_CODE = "350627"
CENTRE_NAME = "南靖县新时代文明实践中心"

# (town, stations, villages known from public sources)
TOWNS: list[tuple[str, int, list[str]]] = [
    ("山城镇", 24, ["山城社区", "大房村", "下魏村", "翠眉村", "雁塔村", "溪边村"]),
    ("靖城镇", 22, ["靖城社区", "湖林村", "郑店村", "草坂村"]),
    ("龙山镇", 14, ["龙山社区", "宝林村", "涌口村"]),
    ("丰田镇", 21, ["丰田社区", "下碑村"]),
    ("金山镇", 12, ["金山社区", "荆都村", "鹅仙村"]),
    ("船场镇", 15, ["船场社区", "梧宅村"]),
    ("梅林镇", 17, ["梅林社区", "官洋村", "璞山村", "坎下村"]),
    ("书洋镇", 15, ["书洋社区", "田螺坑村", "塔下村", "河坑村", "石桥村"]),
    ("奎洋镇", 16, ["奎洋社区", "上洋村"]),
    ("南坑镇", 12, ["南坑社区", "葛竹村"]),
    ("和溪镇", 9, ["和溪社区", "迎富村"]),
]
PARK = ("南靖高新技术产业园区", 8, ["园区社区"])

_FIRST = "上下东西南北新大小前后中高长"
_SECOND = "坑洋溪田林山坂美安和丰塘湖埔厝兴"
_SURNAMES = "王林陈黄张李吴郑刘庄简萧"
_GIVEN = ["文明", "建华", "丽娟", "志强", "秀英", "国平", "海燕", "明辉", "晓玲", "德福"]

# Points (实践点): (parent: None for the centre, a town, or (town, village)), name.
POINTS: list[tuple[Any, str]] = [
    (None, "南靖县图书馆新时代文明实践点"),
    (None, "南靖县文化馆新时代文明实践点"),
    ("山城镇", "山城中心小学新时代文明实践点"),
    ("靖城镇", "靖城镇卫生院新时代文明实践点"),
    (("书洋镇", "田螺坑村"), "田螺坑土楼群新时代文明实践点"),
    (("山城镇", "大房村"), "大房村党群服务中心新时代文明实践点"),
]

CENTRE_LAT, CENTRE_LON = Decimal("24.514900"), Decimal("117.357100")


def _villages(rng: random.Random, known: list[str], count: int) -> list[str]:
    names = list(known[:count])
    while len(names) < count:
        candidate = f"{rng.choice(_FIRST)}{rng.choice(_SECOND)}村"
        if candidate not in names:
            names.append(candidate)
    return names


def _contact(rng: random.Random) -> dict[str, str]:
    return {
        "contact_name": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
        "contact_phone": f"0596-78{rng.randrange(10000, 99999)}",
    }


def _near(rng: random.Random, spread: float) -> dict[str, Decimal]:
    return {
        "latitude": (CENTRE_LAT + Decimal(str(round(rng.uniform(-spread, spread), 6)))).quantize(
            Decimal("0.000001")
        ),
        "longitude": (CENTRE_LON + Decimal(str(round(rng.uniform(-spread, spread), 6)))).quantize(
            Decimal("0.000001")
        ),
    }


def county_spec(
    *, name: str = CENTRE_NAME, code: str = COUNTY_CODE, seed: int = 350627
) -> dict[str, Any]:
    """The county as a nested mapping for ``services.unit_import_tree``."""
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    institutes: list[dict[str, Any]] = []
    for index, (town, count, known) in enumerate([*TOWNS, PARK]):
        town_code = f"{code}{100 + index if town != PARK[0] else 400}"
        stations = []
        for v, village in enumerate(_villages(rng, known, count)):
            station_name = f"{village}新时代文明实践站"
            stations.append(
                {
                    "name": station_name,
                    "kind": "station",
                    "division_code": f"{town_code}{(v + 1 if '社区' in village else 200 + v):03d}",
                    "address": f"福建省漳州市南靖县{town}{village}",
                    "opening_hours": "周一至周五 8:30-17:30",
                    **_contact(rng),
                    **_near(rng, 0.25),
                    "children": [],
                }
            )
        institutes.append(
            {
                "name": f"{town}新时代文明实践所",
                "kind": "institute",
                "division_code": town_code,
                "address": f"福建省漳州市南靖县{town}",
                "opening_hours": "周一至周日 8:30-17:30",
                **_contact(rng),
                **_near(rng, 0.2),
                "children": stations,
            }
        )
    centre: dict[str, Any] = {
        "name": name,
        "kind": "centre",
        "division_code": code,
        "address": "福建省漳州市南靖县山城镇",
        "contact_name": "县委文明办",
        "contact_phone": "0596-7831234",
        "opening_hours": "周一至周日 8:30-17:30",
        "latitude": CENTRE_LAT,
        "longitude": CENTRE_LON,
        "children": institutes,
    }
    by_town = {i["name"].removesuffix("新时代文明实践所"): i for i in institutes}
    for where, point_name in POINTS:
        point = {"name": point_name, "kind": "point", "children": []}
        if where is None:
            centre["children"].append(point)
        elif isinstance(where, str):
            by_town[where]["children"].append(point)
        else:
            town, village = where
            station = next(s for s in by_town[town]["children"] if s["name"].startswith(village))
            station["children"].append(point)
    return centre
