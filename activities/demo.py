"""The demo county's activities: Nanjing County's 2021, the last weeks and the next ones.

- **2021**: the year of the source report. Every activity is an individual approved report
  of the county centre, a town's institute or a village's station, spread over the year,
  with its people served, materials handed out and participants whose confirmed service
  records (and points) came from it. The figures per platform are :data:`FIGURES_2021`, chosen
  so that the 2021 annual report says what the county's own report says: 122 theory lectures
  reaching 3万余人 (31,260), 206 publicity events handing out 3万多份 materials (32,480),
  235 education events reaching 5万多人 (52,370). Written with bulk inserts exactly as the
  services would have left them: the station's or town's demo manager reported it when there
  is one (``shancheng``, ``dafang``; else nobody is named: imported from the paper ledgers), the
  county coordinator approved it (the superuser for the centre's own, since nobody reviews
  their own unit), each record confirmed by the reviewer, its points earned.
- **The last weeks** (in 2026 as this is written), in every state, through
  :mod:`activities.services` by the demo managers of 山城镇 and 大房村 and reviewed by the
  county coordinator: approved ones, some submitted and waiting for review, returned ones
  with the reviewer's reason, drafts — a few with the volunteers' check-ins as evidence (one
  where the reported hours differ from the checked-in ones).
- **The next four weeks**: planned activities across the towns with their places for
  volunteers and some sign-ups (one full, one the demo volunteer 简秀英 signed up for), so the
  calendar is not empty.

The bulk inserts here (and in :mod:`volunteers.demo` and :mod:`orders.demo`) bypass the
summary's incremental hooks: ``seed_demo`` then rebuilds it (:func:`activities.summary.rebuild`).

Deterministic (a seeded random generator; the recent and planned dates are relative to the
day it runs) and written once: a county that already has activities other than the
deliveries of requests is left as it is.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from orders.demo import _points as write_points
from practice.choices import UnitKind
from practice.models import Category, RoleAssignment, Unit, User
from volunteers.choices import MembershipStatus, RecordSource, RecordStatus, VolunteerStatus
from volunteers.demo import DEMO_VOLUNTEER_PHONE, PLATFORM_TEAMS
from volunteers.identity import hash_phone
from volunteers.models import ServiceRecord, Team, TeamMembership, Volunteer

from . import services
from .choices import ActivityStatus
from .models import Activity, ActivityParticipant, Attendance

__all__ = ["FIGURES_2021", "YEAR", "seed_activities"]

YEAR = 2021
# platform code → (activities, people served, materials handed out) of 2021. The first
# three are the source report's ("122次，受益群众3万余人", "206场次，发放宣传材料3万多份",
# "235场次，受益群众5万多人"); the other four are made up, in proportion.
FIGURES_2021: dict[str, tuple[int, int, int]] = {
    "theory": (122, 31_260, 0),
    "publicity": (206, 24_610, 32_480),
    "education": (235, 52_370, 0),
    "culture": (64, 18_940, 0),
    "science": (58, 7_420, 3_150),
    "sports": (41, 5_830, 0),
    "civility": (73, 9_260, 4_800),
}
# Where the 2021 activities happened: the county centre's own (its platform teams), a
# town's institute, or a village's station — as shares of each platform's activities.
_LEVELS = ((UnitKind.CENTRE, 0.15), (UnitKind.INSTITUTE, 0.35), (UnitKind.STATION, 0.50))
# How many volunteers a 2021 activity names, and the most hours anyone serves in one day
# here (far under the 24 hours the records allow).
_PEOPLE = (2, 6)
_DAY_HOURS = Decimal(8)

_TITLES: dict[str, list[str]] = {
    "theory": [
        "党史学习教育宣讲",
        "百年党史微宣讲",
        "乡村振兴政策宣讲",
        "惠民政策面对面",
        "红色故事进村宣讲",
        "理论宣讲进村",
    ],
    "publicity": [
        "防范电信网络诈骗宣传",
        "垃圾分类宣传进村入户",
        "民法典宣传",
        "禁毒宣传",
        "森林防火宣传",
        "疫情防控知识宣传",
        "文明城市创建宣传",
    ],
    "education": [
        "留守儿童课业辅导",
        "暑期托管班",
        "家庭教育讲座",
        "青少年阅读分享会",
        "书法兴趣课",
        "防溺水安全教育",
    ],
    "culture": ["芗剧进村演出", "广场舞展演", "送电影下乡", "土楼文化讲解", "元宵民俗活动"],
    "science": ["茶园农技培训", "义诊进村", "科普讲座", "防灾减灾演练", "智能手机使用培训"],
    "sports": ["全民健身指导", "农民篮球赛", "八段锦教学", "趣味运动会"],
    "civility": ["环境卫生整治", "移风易俗宣讲", "敬老爱老志愿服务", "老人义务理发"],
}
_PLACES = {
    UnitKind.CENTRE: ["县新时代文明实践中心", "县图书馆报告厅", "县文化馆"],
    UnitKind.INSTITUTE: ["新时代文明实践所", "文化站", "政府会议室"],  # after the town name
    UnitKind.STATION: ["新时代文明实践站", "村委会广场", "文化礼堂", "党群服务中心"],
}
_STARTS = [(9, 0), (9, 30), (10, 0), (14, 30), (15, 0), (19, 30)]
_LENGTHS = [Decimal("1.5"), Decimal(2), Decimal(2), Decimal("2.5"), Decimal(3)]


@dataclass
class _Row:
    activity: Activity
    reviewer: User
    people: list[tuple[int, Decimal]] = field(default_factory=list)  # volunteer id, hours


def seed_activities(
    *,
    centre: Unit,
    coordinator: User,
    superuser: User,
    managers: Sequence[User] = (),
    seed: int = 350627,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """The county's 2021 activities, the last weeks' in every state and the next four
    weeks' planned ones (once: see the module's docstring). ``coordinator`` coordinates
    ``centre`` and reviews; ``superuser`` reviews the centre's own 2021 reports;
    ``managers`` (with their grants below the centre) report their units' activities."""
    if Activity.objects.filter(unit__tree_id=centre.tree_id, request__isnull=True).exists():
        return {}
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    now = now or timezone.now()
    units = list(Unit.objects.filter(tree_id=centre.tree_id, is_active=True).order_by("lft"))
    by_code = {c.code: c for c in Category.objects.filter(is_active=True)}
    teams = {
        (t.unit_id, t.name): t
        for t in Team.objects.filter(unit__tree_id=centre.tree_id, is_active=True)
    }
    pools = _pools(centre, units)
    grants = _grants(managers, centre)
    with transaction.atomic():
        year = _year(rng, centre, units, by_code, teams, pools, grants, coordinator, superuser)
        recent = _recent(rng, now, units, by_code, teams, pools, grants, coordinator)
        planned, signups = _planned(rng, now, units, by_code, teams, pools, grants, coordinator)
    return {
        "year": YEAR,
        "year_activities": year[0],
        "year_records": year[1],
        "recent": recent,
        "planned": planned,
        "signups": signups,
    }


# --- who and where ---------------------------------------------------------------------------


@dataclass
class _Pools:
    """Active volunteers (ids) by the unit they may serve for, and those with a login."""

    by_unit: dict[int, list[int]]
    by_team: dict[int, list[int]]
    with_login: set[int]
    volunteers: dict[int, Volunteer]
    demo: Volunteer | None


def _pools(centre: Unit, units: list[Unit]) -> _Pools:
    """Each unit's pool: its own and its subtree's active volunteers (the centre's: the
    members of its teams, else everyone)."""
    volunteers = {
        v.pk: v
        for v in Volunteer.objects.filter(
            unit__tree_id=centre.tree_id, status=VolunteerStatus.ACTIVE
        ).order_by("pk")
    }
    parent = {u.pk: u.parent_id for u in units}
    by_unit: dict[int, list[int]] = defaultdict(list)
    for v in volunteers.values():
        unit_id: int | None = v.unit_id
        while unit_id is not None and unit_id != centre.pk:
            by_unit[unit_id].append(v.pk)
            unit_id = parent.get(unit_id)
    by_team: dict[int, list[int]] = defaultdict(list)
    for team_id, volunteer_id in TeamMembership.objects.filter(
        team__unit=centre, status=MembershipStatus.ACTIVE, volunteer__in=list(volunteers)
    ).values_list("team_id", "volunteer_id"):
        by_team[team_id].append(volunteer_id)
    by_unit[centre.pk] = list(volunteers)
    demo_volunteer = Volunteer.objects.filter(
        phone_hash=hash_phone(DEMO_VOLUNTEER_PHONE), pk__in=list(volunteers)
    ).first()
    return _Pools(
        by_unit=by_unit,
        by_team=by_team,
        with_login={v.pk for v in volunteers.values() if v.user_id is not None},
        volunteers=volunteers,
        demo=demo_volunteer,
    )


def _grants(managers: Sequence[User], centre: Unit) -> list[tuple[Unit, User]]:
    """(unit, manager) for the demo managers' grants, deepest unit first."""
    found = [
        (g.unit, g.user)
        for g in RoleAssignment.objects.filter(
            user__in=list(managers), unit__tree_id=centre.tree_id
        ).select_related("unit", "user")
    ]
    return sorted(found, key=lambda pair: (-pair[0].level, pair[0].lft))


def _manager_of(unit: Unit, grants: list[tuple[Unit, User]]) -> User | None:
    for granted, user in grants:
        if granted.tree_id == unit.tree_id and granted.lft <= unit.lft <= granted.rght:
            return user
    return None


def _short(unit: Unit) -> str:
    return unit.name.removesuffix("新时代文明实践站").removesuffix("新时代文明实践所")


def _team(unit: Unit, code: str, teams: dict[tuple[int, str], Team]) -> Team | None:
    """The county's platform team at the centre; the town's or village's own team below."""
    if unit.kind == UnitKind.CENTRE:
        return teams.get((unit.pk, PLATFORM_TEAMS.get(code, "")))
    return teams.get((unit.pk, f"{_short(unit)}志愿服务队"))


def _place(rng: random.Random, unit: Unit) -> str:
    places = _PLACES.get(unit.kind, _PLACES[UnitKind.STATION])
    where = rng.choice(places)
    return where if unit.kind == UnitKind.CENTRE else f"{_short(unit)}{where}"


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``parts`` counts of similar size (± 60 %) adding up to exactly ``total``."""
    if parts <= 0:
        return []
    weights = [rng.randint(40, 160) for _ in range(parts)]
    whole = sum(weights)
    values = [total * w // whole for w in weights]
    for index in range(total - sum(values)):
        values[index % parts] += 1
    return values


def _at(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


# --- 2021: the report's year, in bulk ------------------------------------------------------


def _year(
    rng: random.Random,
    centre: Unit,
    units: list[Unit],
    by_code: dict[str, Category],
    teams: dict[tuple[int, str], Team],
    pools: _Pools,
    grants: list[tuple[Unit, User]],
    coordinator: User,
    superuser: User,
) -> tuple[int, int]:
    """The approved 2021 activities with :data:`FIGURES_2021`, their participants and
    their confirmed records (and points). Returns (activities, records)."""
    by_kind: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_kind[unit.kind].append(unit)
    first, days = dt.date(YEAR, 1, 1), (dt.date(YEAR + 1, 1, 1) - dt.date(YEAR, 1, 1)).days
    taken: set[tuple[int, str, dt.date]] = set()  # no two overlapping of a unit and platform
    busy: dict[tuple[int, dt.date], Decimal] = defaultdict(Decimal)
    rows: list[_Row] = []
    for code, (count, served, materials) in FIGURES_2021.items():
        category = by_code.get(code)
        if category is None:
            continue
        served_each = _split(rng, served, count)
        materials_each = _split(rng, materials, count)
        for index in range(count):
            roll, kind = rng.random(), UnitKind.STATION
            for level, share in _LEVELS:
                if roll < share:
                    kind = level
                    break
                roll -= share
            unit = rng.choice(by_kind.get(kind) or [centre])
            while True:
                day = first + dt.timedelta(days=rng.randrange(days))
                if (unit.pk, code, day) not in taken:
                    taken.add((unit.pk, code, day))
                    break
            hour, minute = rng.choice(_STARTS)
            length = rng.choice(_LENGTHS)
            start = _at(day, hour, minute)
            end = start + dt.timedelta(hours=float(length))
            own = unit.kind == UnitKind.CENTRE
            reporter = coordinator if own else _manager_of(unit, grants)
            reviewer = superuser if own else coordinator
            team = _team(unit, code, teams)
            submitted = end + dt.timedelta(days=rng.randint(0, 2), hours=2)
            reviewed = submitted + dt.timedelta(days=rng.randint(1, 8), hours=rng.randint(1, 6))
            activity = Activity(
                title=rng.choice(_TITLES[code]),
                unit=unit,
                category=category,
                team=team,
                start=start,
                end=end,
                location=_place(rng, unit),
                beneficiaries=served_each[index],
                materials=materials_each[index],
                status=ActivityStatus.APPROVED,
                created_by=reporter,
                submitted_at=submitted,
                reviewed_by=reviewer,
                reviewed_at=reviewed,
            )
            row = _Row(activity, reviewer)
            pool = pools.by_team.get(team.pk, []) if own and team else []
            pool = pool or pools.by_unit.get(unit.pk, [])
            wanted = rng.randint(*_PEOPLE)
            for volunteer_id in rng.sample(pool, k=min(wanted, len(pool))):
                hours = length if rng.random() < 0.7 else length - Decimal("0.5")
                if busy[(volunteer_id, day)] + hours > _DAY_HOURS:
                    continue
                busy[(volunteer_id, day)] += hours
                row.people.append((volunteer_id, hours))
            rows.append(row)
    activities = [r.activity for r in rows]
    Activity.objects.bulk_create(activities, batch_size=500)
    if activities and activities[0].pk is None:  # a database that returns no ids
        ids = Activity.objects.filter(unit__tree_id=centre.tree_id, request__isnull=True).order_by(
            "pk"
        )
        for activity, pk in zip(activities, ids.values_list("pk", flat=True), strict=True):
            activity.pk = pk
    records = [
        ServiceRecord(
            volunteer_id=volunteer_id,
            unit=r.activity.unit,
            date=timezone.localtime(r.activity.start).date(),
            hours=hours,
            category=r.activity.category,
            content=r.activity.title[:200],
            source=RecordSource.ACTIVITY,
            source_id=r.activity.pk,
            status=RecordStatus.CONFIRMED,
            recorded_by=r.activity.created_by,
            confirmed_by=r.reviewer,
            confirmed_at=r.activity.reviewed_at,
        )
        for r in rows
        for volunteer_id, hours in r.people
    ]
    ServiceRecord.objects.bulk_create(records, batch_size=500)
    stored = {
        (s.source_id, s.volunteer_id): s
        for s in ServiceRecord.objects.filter(
            source=RecordSource.ACTIVITY, source_id__in=[a.pk for a in activities]
        )
    }
    ActivityParticipant.objects.bulk_create(
        [
            ActivityParticipant(
                activity=r.activity,
                volunteer_id=volunteer_id,
                hours=hours,
                record=stored[(r.activity.pk, volunteer_id)],
            )
            for r in rows
            for volunteer_id, hours in r.people
        ],
        batch_size=500,
    )
    # Points, with the confirmer as the ledger's actor, and each volunteer's row updated.
    by_confirmer: dict[int, list[ServiceRecord]] = defaultdict(list)
    for record in stored.values():
        by_confirmer[record.confirmed_by_id or 0].append(record)
    for reviewer in (coordinator, superuser):
        write_points(by_confirmer.get(reviewer.pk, []), reviewer)
    return len(activities), len(stored)


# --- the last weeks: every state, through the services ---------------------------------------

# days ago, the manager's unit ("town": 山城镇, "village": 大房村; else a station of 山城镇),
# platform, title, people served, materials, what happens to it; a returned one's reason.
_RECENT: list[tuple[int, str, str, str, int, int, str, str]] = [
    (58, "town", "theory", "学习贯彻全会精神宣讲", 180, 0, "approved", ""),
    (45, "station", "civility", "环境卫生整治", 60, 0, "approved", ""),
    (37, "village", "culture", "土楼文化讲解", 85, 0, "approved", ""),
    (30, "town", "publicity", "防范电信网络诈骗宣传", 240, 600, "approved", ""),
    (21, "village", "education", "留守儿童课业辅导", 24, 0, "approved", ""),
    (16, "station", "science", "茶园农技培训", 45, 120, "approved", ""),
    (
        12,
        "village",
        "civility",
        "老人义务理发",
        32,
        0,
        "returned",
        "参与志愿者名单与签到记录不符，请核对参与人员和服务时长后重新提交。",
    ),
    (
        9,
        "station",
        "publicity",
        "垃圾分类宣传进村入户",
        150,
        800,
        "returned",
        "照片与10月份另一场活动的照片相同，请补充本次活动的现场照片。",
    ),
    (7, "town", "sports", "农民篮球赛", 300, 0, "submitted", ""),
    (5, "village", "theory", "惠民政策面对面", 70, 200, "submitted", ""),
    (4, "station", "education", "家庭教育讲座", 55, 0, "submitted", ""),
    (2, "village", "culture", "广场舞展演", 120, 0, "draft", ""),
    (1, "town", "science", "义诊进村", 90, 0, "draft", ""),
]


def _recent(
    rng: random.Random,
    now: dt.datetime,
    units: list[Unit],
    by_code: dict[str, Category],
    teams: dict[tuple[int, str], Team],
    pools: _Pools,
    grants: list[tuple[Unit, User]],
    coordinator: User,
) -> int:
    """:data:`_RECENT` through :mod:`activities.services`: reported by the demo manager of
    the unit, reviewed by ``coordinator``. Needs the 山城镇 and 大房村 managers."""
    town = next((u for u, _m in grants if u.kind == UnitKind.INSTITUTE), None)
    village = next((u for u, _m in grants if u.kind == UnitKind.STATION), None)
    if town is None or village is None:
        return 0
    stations = [
        u
        for u in units
        if u.kind == UnitKind.STATION and u.parent_id == town.pk and u.pk != village.pk
    ]
    today = timezone.localdate(now)
    made = 0
    for days_ago, where, code, title, served, materials, fate, reason in _RECENT:
        category = by_code.get(code)
        if category is None:
            continue
        unit = {"town": town, "village": village}.get(where) or rng.choice(stations or [town])
        actor = _manager_of(unit, grants)
        if actor is None:
            continue
        hour, minute = rng.choice(_STARTS[:5])
        length = rng.choice(_LENGTHS)
        start = _at(today - dt.timedelta(days=days_ago), hour, minute)
        pool = list(pools.by_unit.get(unit.pk, []))
        if unit == village and pools.demo is not None and pools.demo.pk in pool:
            pool.remove(pools.demo.pk)
            pool.insert(0, pools.demo.pk)  # the demo volunteer takes part first
        people = pool[:1] + rng.sample(pool[1:], k=max(0, min(rng.randint(1, 4), len(pool) - 1)))
        activity = services.activity_create(
            actor=actor,
            data={
                "title": title,
                "unit": unit,
                "category": category,
                "team": _team(unit, code, teams),
                "start": start,
                "end": start + dt.timedelta(hours=float(length)),
                "location": _place(rng, unit),
                "description": f"{_short(unit)}组织开展{title}活动。",
                "beneficiaries": served,
                "materials": materials,
                "participants": [
                    {"volunteer": pools.volunteers[pk], "hours": str(length)} for pk in people
                ],
            },
        )
        if where == "village":
            _checked_in(activity, length)
        if fate != "draft":
            services.activity_submit(actor=actor, activity=activity)
        if fate == "approved":
            services.activity_approve(actor=coordinator, activity=activity)
        elif fate == "returned":
            services.activity_return(actor=coordinator, activity=activity, reason=reason)
        made += 1
    return made


def _checked_in(activity: Activity, length: Decimal) -> None:
    """The participants checked in by the QR codes: in a few minutes after the start, out
    at the end — except the last one, who left half an hour early (so the reviewer sees
    "reported 2.00 h, checked in 1.50 h")."""
    participants = list(activity.participants.order_by("pk"))
    attendances = []
    for index, p in enumerate(participants):
        early = Decimal("0.5") if index == len(participants) - 1 and len(participants) > 1 else 0
        checked = length - early
        arrived = activity.start + dt.timedelta(minutes=3 + index)
        p.checked_hours = checked
        attendances.append(
            Attendance(
                activity=activity,
                volunteer_id=p.volunteer_id,
                signed_up_at=activity.start - dt.timedelta(days=3, hours=index),
                checked_in_at=arrived,
                checked_out_at=arrived + dt.timedelta(hours=float(checked)),
                check_in_distance=40 + 7 * index,
                check_out_distance=55 + 5 * index,
            )
        )
    ActivityParticipant.objects.bulk_update(participants, ["checked_hours"])
    Attendance.objects.bulk_create(attendances)


# --- the next four weeks: planned, with sign-ups ---------------------------------------------

_PLANNED = 18  # planned activities in the next four weeks, across the towns


def _planned(
    rng: random.Random,
    now: dt.datetime,
    units: list[Unit],
    by_code: dict[str, Category],
    teams: dict[tuple[int, str], Team],
    pools: _Pools,
    grants: list[tuple[Unit, User]],
    coordinator: User,
) -> tuple[int, int]:
    """Planned activities from tomorrow to four weeks ahead, announced by the unit's demo
    manager or else the county coordinator, with places and sign-ups. Returns (planned,
    sign-ups)."""
    today = timezone.localdate(now)
    towns = [u for u in units if u.kind == UnitKind.INSTITUTE]
    stations = [u for u in units if u.kind == UnitKind.STATION]
    village = next((u for u, _m in grants if u.kind == UnitKind.STATION), None)
    # The demo's own units first (the managers' calendars), then across the county.
    chosen: list[Unit] = [u for u, _m in reversed(grants)]
    while len(chosen) < _PLANNED and (towns or stations):
        chosen.append(rng.choice(stations if rng.random() < 0.6 else towns))
    codes = list(by_code)
    made = signups = 0
    stamps = now - dt.timedelta(hours=1)
    attendances: list[Attendance] = []
    for index, unit in enumerate(chosen[:_PLANNED]):
        code = codes[index % len(codes)]
        day = today + dt.timedelta(days=1 + (index * 27) // _PLANNED)
        hour, minute = rng.choice(_STARTS)
        length = rng.choice(_LENGTHS)
        start = _at(day, hour, minute)
        title = rng.choice(_TITLES[code])
        # The town's first one fills up; every fourth has no limit on places.
        capacity = 6 if index == 0 else (None if index % 4 == 3 else rng.choice([10, 15, 20, 30]))
        activity = services.activity_create(
            actor=_manager_of(unit, grants) or coordinator,
            data={
                "title": title,
                "unit": unit,
                "category": by_code[code],
                "team": _team(unit, code, teams),
                "start": start,
                "end": start + dt.timedelta(hours=float(length)),
                "location": _place(rng, unit),
                "description": f"欢迎志愿者报名参加{_short(unit)}的{title}活动。",
                "latitude": unit.latitude,
                "longitude": unit.longitude,
                "capacity": capacity,
                "status": ActivityStatus.PLANNED,
            },
        )
        made += 1
        pool = [pk for pk in pools.by_unit.get(unit.pk, []) if pk in pools.with_login]
        room = capacity if capacity is not None else 12
        count = room if index == 0 else min(rng.randint(0, room // 2 + 1), room)
        people = rng.sample(pool, k=min(count, len(pool)))
        if unit == village and pools.demo is not None and pools.demo.pk not in people:
            if capacity is not None and len(people) >= capacity:
                people.pop()
            people.insert(0, pools.demo.pk)
        for n, volunteer_id in enumerate(people):
            attendances.append(
                Attendance(
                    activity=activity,
                    volunteer_id=volunteer_id,
                    signed_up_at=stamps - dt.timedelta(hours=3 * n + index),
                )
            )
    Attendance.objects.bulk_create(attendances)
    signups = len(attendances)
    return made, signups
