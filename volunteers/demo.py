"""The demo county's volunteers: the county corps and its seven platform teams, town and
village teams (339 in all, as the 2022 report counts), volunteers (a few thousand by
default; the report's 50,391 work too), their memberships, confirmed and pending service
records and the points those earned — all consistent with what the services would have
written (hours and balances on the volunteer rows equal their records and ledger).

Written with bulk inserts, deterministically (a seeded random generator): the people are
made up; the ID numbers are valid (GB 11643 check characters) but belong to nobody real —
their sequence codes start at 900, which the demo alone uses.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.validators import mask_phone
from practice.choices import UnitKind
from practice.models import Category, Unit, User

from .bulk import BATCH, insert_volunteers
from .choices import (
    MembershipStatus,
    PointsKind,
    RecordSource,
    RecordStatus,
    TeamRole,
    VolunteerStatus,
)
from .identity import check_character, hash_phone, id_number_hash, mask_id_number
from .models import PointsEntry, ServiceRecord, Team, TeamMembership, Volunteer

__all__ = ["DEMO_VOLUNTEER_PHONE", "PLATFORM_TEAMS", "seed_volunteers"]

CORPS_NAME = "南靖县志愿服务总队"
# category code → the county's standing team of that platform (seed: 7 teams, ~300 people)
PLATFORM_TEAMS = {
    "theory": "南靖县理论宣讲志愿服务队",
    "publicity": "南靖县社会宣传志愿服务队",
    "education": "南靖县教育志愿服务队",  # as the county report names it
    "culture": "南靖县文化服务志愿服务队",
    "science": "南靖县科技与科普志愿服务队",
    "sports": "南靖县体育健身志愿服务队",
    "civility": "南靖县乡风文明志愿服务队",
}
PLATFORM_MEMBERS = 300
TEAMS_IN_ALL = 339  # seed: 339 registered volunteer groups
# The demo's own volunteer login (大房村): phone and the demo password.
DEMO_VOLUNTEER_PHONE = "13900000001"
DEMO_VOLUNTEER_NAME = "简秀英"

_SURNAMES = "王林陈黄张李吴郑刘庄简萧曾游赖叶蔡杨许"
_GIVEN_1 = "文建丽志秀国海明晓德春美淑玉金宝雅思子梓"
_GIVEN_2 = "明华娟强英平燕辉玲福兰芳梅龙生涵轩怡婷杰"
_SKILLS = [
    "宣讲",
    "文艺演出",
    "书法",
    "摄影",
    "医疗急救",
    "法律咨询",
    "电脑维修",
    "家电维修",
    "理发",
    "心理疏导",
    "农技指导",
    "环境整治",
]
_TIMES = ["周末", "工作日晚上", "节假日", "每周三下午", "随时"]
_CONTENTS = {
    "theory": "政策理论宣讲",
    "publicity": "文明宣传进村入户",
    "education": "青少年课业辅导",
    "culture": "文艺汇演",
    "science": "科普讲座",
    "sports": "全民健身指导",
    "civility": "环境卫生整治",
}


@dataclass
class _Person:
    name: str
    id_number: str
    born: dt.date
    male: bool
    phone: str
    unit: Unit
    status: str
    categories: list[Category] = field(default_factory=list)


def seed_volunteers(
    *,
    centre: Unit,
    count: int,
    recorder: User,
    confirmer: User,
    password: str,
    seed: int = 350627,
) -> dict[str, int]:
    """Teams, ``count`` volunteers and their records under ``centre`` (once: a county that
    already has volunteers is left as it is). ``recorder`` records the hours, ``confirmer``
    (someone else) confirms them; the demo volunteer logs in with ``password``."""
    if Volunteer.objects.filter(unit__tree_id=centre.tree_id).exists():
        return {}
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    categories = list(Category.objects.filter(is_active=True))
    by_code = {c.code: c for c in categories}
    units = list(Unit.objects.filter(tree_id=centre.tree_id, is_active=True).order_by("lft"))
    stations = [u for u in units if u.kind == UnitKind.STATION]
    towns = [u for u in units if u.kind == UnitKind.INSTITUTE]
    with transaction.atomic():
        teams = _teams(centre, towns, stations, by_code)
        people = list(_people(rng, stations, categories, count))
        volunteers = _insert_volunteers(people, password)
        memberships = _memberships(rng, volunteers, teams)
        records, entries = _records(rng, volunteers, by_code, recorder, confirmer)
    return {
        "teams": len(teams["all"]),
        "volunteers": len(volunteers),
        "memberships": memberships,
        "records": records,
        "points_entries": entries,
    }


def _teams(
    centre: Unit, towns: list[Unit], stations: list[Unit], by_code: dict[str, Category]
) -> dict[str, Any]:
    corps = Team.objects.create(
        name=CORPS_NAME, unit=centre, description="县委书记、县长任总队长，统筹全县志愿服务。"
    )
    platform = Team.objects.bulk_create(
        [
            Team(name=name, unit=centre, parent=corps, category=by_code.get(code))
            for code, name in PLATFORM_TEAMS.items()
        ]
    )
    town_teams = Team.objects.bulk_create(
        [Team(name=f"{_short(t)}志愿服务队", unit=t) for t in towns]
    )
    village = Team.objects.bulk_create(
        [Team(name=f"{_short(s)}志愿服务队", unit=s) for s in stations]
    )
    extra = TEAMS_IN_ALL - 1 - len(platform) - len(town_teams) - len(village)
    women = Team.objects.bulk_create(
        [
            Team(name=f"{_short(s)}巾帼志愿服务队", unit=s, category=by_code.get("civility"))
            for s in stations[: max(extra, 0)]
        ]
    )
    return {
        "corps": corps,
        "platform": platform,
        "village": {team.unit_id: team for team in village},
        "all": [corps, *platform, *town_teams, *village, *women],
    }


def _short(unit: Unit) -> str:
    return unit.name.removesuffix("新时代文明实践站").removesuffix("新时代文明实践所")


def _people(
    rng: random.Random, stations: list[Unit], categories: list[Category], count: int
) -> Iterator[_Person]:
    seen_ids: set[str] = set()
    today = timezone.localdate()
    demo = next((s for s in stations if s.name.startswith("大房村")), stations[0])
    for index in range(count):
        unit = demo if index == 0 else stations[index % len(stations)]
        male = rng.random() < 0.45
        while True:
            born = dt.date(rng.randrange(1950, 2006), rng.randrange(1, 13), rng.randrange(1, 29))
            # Sequence codes 900–999: never a real person's in this demo.
            sequence = rng.randrange(900, 999)
            if (sequence % 2 == 1) != male:
                sequence += 1 if sequence < 999 else -1
            first17 = f"350627{born:%Y%m%d}{sequence:03d}"
            number = first17 + check_character(first17)
            if number not in seen_ids and born < today:
                seen_ids.add(number)
                break
        if index == 0:
            name, phone, status, male = DEMO_VOLUNTEER_NAME, DEMO_VOLUNTEER_PHONE, "active", False
        else:
            given = rng.choice(_GIVEN_1) + (rng.choice(_GIVEN_2) if rng.random() < 0.8 else "")
            name = rng.choice(_SURNAMES) + given
            phone = f"13{5 + index % 5}{index:08d}"
            roll = rng.random()
            status = (
                VolunteerStatus.ACTIVE
                if roll < 0.95
                else VolunteerStatus.PENDING
                if roll < 0.98
                else VolunteerStatus.SUSPENDED
            )
        yield _Person(
            name=name,
            id_number=number,
            born=born,
            male=male,
            phone=phone,
            unit=unit,
            status=status,
            categories=rng.sample(categories, k=min(2, len(categories))),
        )


def _insert_volunteers(people: list[_Person], password: str) -> list[Volunteer]:
    """The volunteers with their accounts (no usable password, except the demo
    volunteer's), through the import's bulk insert."""
    rows = [
        Volunteer(
            name=p.name,
            id_number=p.id_number,
            id_number_hash=id_number_hash(p.id_number),
            id_number_masked=mask_id_number(p.id_number),
            gender="male" if p.male else "female",
            birth_date=p.born,
            phone=p.phone,
            phone_hash=hash_phone(p.phone),
            phone_masked=mask_phone(p.phone),
            unit=p.unit,
            skills="、".join(random.Random(p.id_number).sample(_SKILLS, 2)),  # noqa: S311
            available_time=random.Random(p.phone).choice(_TIMES),  # noqa: S311
            status=p.status,
            decided_at=timezone.now() if p.status != VolunteerStatus.PENDING else None,
        )
        for p in people
    ]
    passwords = {
        index: password for index, p in enumerate(people) if p.phone == DEMO_VOLUNTEER_PHONE
    }
    return insert_volunteers(rows, [p.categories for p in people], passwords=passwords)


def _memberships(rng: random.Random, volunteers: list[Volunteer], teams: dict[str, Any]) -> int:
    now = timezone.now()
    active = [v for v in volunteers if v.status == VolunteerStatus.ACTIVE]
    rows = [
        TeamMembership(
            team=teams["village"][v.unit_id],
            volunteer=v,
            status=MembershipStatus.ACTIVE,
            joined_at=now,
        )
        for v in active
        if v.unit_id in teams["village"]
    ]
    platform = teams["platform"]
    chosen = rng.sample(active, k=min(PLATFORM_MEMBERS, len(active)))
    for index, volunteer in enumerate(chosen):
        team = platform[index % len(platform)]
        leader = index < len(platform)
        rows.append(
            TeamMembership(
                team=team,
                volunteer=volunteer,
                role=TeamRole.LEADER if leader else TeamRole.MEMBER,
                status=MembershipStatus.ACTIVE,
                joined_at=now,
            )
        )
        if leader:
            team.leader = volunteer
    Team.objects.bulk_update(platform, ["leader"])
    for start in range(0, len(rows), BATCH):
        TeamMembership.objects.bulk_create(rows[start : start + BATCH])
    return len(rows)


def _records(
    rng: random.Random,
    volunteers: list[Volunteer],
    by_code: dict[str, Category],
    recorder: User,
    confirmer: User,
) -> tuple[int, int]:
    """Confirmed records over the last two years for most active volunteers (and their
    points), a few pending ones for the managers to confirm."""
    today = timezone.localdate()
    rate = settings.VOLUNTEER_POINTS_PER_HOUR
    now = timezone.now()
    codes = list(by_code)
    records: list[ServiceRecord] = []
    for volunteer in volunteers:
        if volunteer.status != VolunteerStatus.ACTIVE or rng.random() > 0.7:
            continue
        days = sorted(rng.sample(range(1, 720), k=rng.randrange(1, 9)))
        for offset in days:
            code = rng.choice(codes)
            pending = offset < 20 and rng.random() < 0.5
            records.append(
                ServiceRecord(
                    volunteer=volunteer,
                    unit_id=volunteer.unit_id,
                    date=today - dt.timedelta(days=offset),
                    hours=Decimal(rng.choice(["1.00", "1.50", "2.00", "2.50", "3.00", "4.00"])),
                    category=by_code[code],
                    content=_CONTENTS.get(code, ""),
                    source=RecordSource.MANUAL,
                    reason="按活动签到表录入",
                    status=RecordStatus.PENDING if pending else RecordStatus.CONFIRMED,
                    recorded_by=recorder,
                    confirmed_by=None if pending else confirmer,
                    confirmed_at=None if pending else now,
                )
            )
    created: list[ServiceRecord] = []
    for start in range(0, len(records), BATCH):
        created.extend(ServiceRecord.objects.bulk_create(records[start : start + BATCH]))
    if created and created[0].pk is None:
        created = list(ServiceRecord.objects.filter(volunteer__in=volunteers).order_by("pk"))
    entries: list[PointsEntry] = []
    hours: dict[int, Decimal] = {}
    balance: dict[int, int] = {}
    for record in sorted(created, key=lambda r: (r.volunteer_id, r.date)):
        if record.status != RecordStatus.CONFIRMED:
            continue
        hours[record.volunteer_id] = hours.get(record.volunteer_id, Decimal(0)) + record.hours
        points = int((record.hours * rate).to_integral_value())
        balance[record.volunteer_id] = balance.get(record.volunteer_id, 0) + points
        entries.append(
            PointsEntry(
                volunteer_id=record.volunteer_id,
                kind=PointsKind.EARNED,
                points=points,
                balance=balance[record.volunteer_id],
                unit_id=record.unit_id,
                record=record,
                actor=confirmer,
            )
        )
    # Some spend points at their station's shop (爱心超市).
    for volunteer_id, points in list(balance.items()):
        if points >= 50 and rng.random() < 0.3:
            spent = 30
            balance[volunteer_id] = points - spent
            entries.append(
                PointsEntry(
                    volunteer_id=volunteer_id,
                    kind=PointsKind.REDEEMED,
                    points=-spent,
                    balance=balance[volunteer_id],
                    item=rng.choice(["大米一袋", "食用油一桶", "洗衣液一瓶", "毛巾两条"]),
                    actor=recorder,
                )
            )
    for start in range(0, len(entries), BATCH):
        PointsEntry.objects.bulk_create(entries[start : start + BATCH])
    # The figures kept on each volunteer's row, from their records and ledger (one UPDATE).
    confirmed = ServiceRecord.objects.filter(
        volunteer=OuterRef("pk"), status=RecordStatus.CONFIRMED
    )
    last_entry = PointsEntry.objects.filter(volunteer=OuterRef("pk")).order_by("-pk")
    Volunteer.objects.filter(pk__in=list(hours)).update(
        confirmed_hours=Subquery(
            confirmed.values("volunteer").annotate(total=Sum("hours")).values("total")[:1]
        ),
        points_balance=Coalesce(Subquery(last_entry.values("balance")[:1]), 0),
    )
    return len(created), len(entries)
