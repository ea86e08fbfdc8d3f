"""The demo county's service menu (服务菜单) and a year of residents' requests.

The menu: fourteen county items across the seven platforms, each delivered by the county's
standing team of its platform, plus a few town and village items. The requests: a few
hundred over the last year at the county's stations, in every state, written with bulk
inserts — deterministically (a seeded random generator) — exactly as the services would
have left them: each step of the timeline an event in order (submitted, dispatched —
sometimes declined and dispatched again —, claimed, delivered, rated; or rejected,
cancelled), claimed and delivered ones claimed by an active member of the dispatched team,
closed ones rated, delivered ones with their activity and the participants' service records
(confirmed, with their points, for services closed more than a month ago; pending for the
office to confirm otherwise), late open ones marked overdue.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from activities.choices import ActivityStatus
from activities.models import Activity, ActivityParticipant
from portal.validators import mask_phone
from practice.choices import UnitKind
from practice.models import Category, Unit, User
from volunteers.bulk import BATCH
from volunteers.choices import (
    MembershipStatus,
    PointsKind,
    RecordSource,
    RecordStatus,
    VolunteerStatus,
)
from volunteers.demo import PLATFORM_TEAMS
from volunteers.identity import hash_phone
from volunteers.models import PointsEntry, ServiceRecord, Team, TeamMembership, Volunteer
from volunteers.points import points_for_hours

from .choices import ActorKind, RequestStatus, Transition
from .models import MenuItem, RequestEvent, ServiceRequest
from .services import CODE_ALPHABET, CODE_LENGTH

__all__ = ["COUNTY_MENU", "DEFAULT_REQUESTS", "seed_orders"]

DEFAULT_REQUESTS = 360
S = RequestStatus

# platform code, title, description — offered at the county centre, delivered by the
# county's team of that platform.
COUNTY_MENU: list[tuple[str, str, str]] = [
    (
        "theory",
        "理论宣讲进村",
        "县宣讲团成员到村（社区）宣讲党的创新理论，用群众听得懂的话讲，约1小时。",
    ),
    ("theory", "政策解读", "惠农补贴、医保社保、乡村振兴等政策面对面解读，现场答疑。"),
    ("publicity", "防诈骗宣传", "结合本地真实案例讲解电信网络诈骗的常见套路，教老人识骗防骗。"),
    (
        "publicity",
        "法律咨询",
        "律师、法律工作者志愿者上门，解答婚姻家庭、土地承包、劳动报酬等问题。",
    ),
    ("education", "课业辅导", "为留守儿童、困难家庭孩子提供作业辅导和阅读陪伴，寒暑假可成班。"),
    ("education", "家庭教育讲座", "面向家长的亲子沟通、隔代教育讲座。"),
    ("culture", "文艺演出", "县文艺志愿者进村演出歌舞、芗剧选段，可配合节庆活动。"),
    ("culture", "送戏下乡", "芗剧、木偶戏整场演出进村，需提供场地和电源。"),
    ("culture", "电影放映", "露天或室内放映主旋律影片、科教片，每场约2小时。"),
    ("science", "科普讲座", "卫生健康、防灾减灾、农业技术等科普讲座，可按需定题。"),
    ("science", "义诊", "县医院医生志愿者开展测血压、血糖和健康咨询，不开处方。"),
    ("sports", "健身指导", "社会体育指导员教授八段锦、太极拳、广场舞等，指导科学健身。"),
    ("civility", "家电维修", "志愿者上门或集中维修小家电、修理自行车，只收材料费。"),
    ("civility", "心理疏导", "心理咨询师志愿者为老人、留守儿童和有需要的家庭提供倾听与疏导。"),
]
# unit name, platform, title, description, delivered by ("platform": the county team of the
# platform, or "village": the station's own team)
LOCAL_MENU: list[tuple[str, str, str, str, str]] = [
    (
        "山城镇新时代文明实践所",
        "science",
        "茶园农技培训",
        "茶园病虫害防治和修剪技术现场教学。",
        "platform",
    ),
    (
        "山城镇新时代文明实践所",
        "civility",
        "移风易俗宣讲",
        "红白事简办、反对铺张浪费的宣讲。",
        "platform",
    ),
    (
        "靖城镇新时代文明实践所",
        "sports",
        "农民篮球赛组织",
        "协助村里组织篮球赛、拔河赛。",
        "platform",
    ),
    (
        "大房村新时代文明实践站",
        "civility",
        "老人义务理发",
        "每月一次为村里老人义务理发，行动不便的上门。",
        "village",
    ),
    (
        "大房村新时代文明实践站",
        "culture",
        "土楼文化讲解",
        "志愿者为来访群众讲解土楼历史和客家文化。",
        "village",
    ),
    (
        "湖林村新时代文明实践站",
        "education",
        "暑期托管班",
        "暑假期间村里孩子的托管和兴趣课。",
        "village",
    ),
]
_ELSE = [
    ("civility", "村口路灯坏了好几盏，晚上老人走路不安全，想请志愿者帮忙看看。"),
    ("education", "想给村里的孩子办个书法兴趣班。"),
    ("science", "想请人讲讲手机怎么用，老人不会用健康码和视频通话。"),
    ("publicity", "想在村里办一次垃圾分类宣传。"),
]
_DESCRIPTIONS = [
    "村里老人多，希望安排在周末上午。",
    "地点在村委会广场，大概有五六十人参加。",
    "想安排在下个月的村民大会之后。",
    "希望能多讲讲和我们村有关的内容。",
    "上次来过一次，大家反映很好，想再请一次。",
    "",
]
_REJECTIONS = [
    "所需设备本站暂不具备，已建议到县文化馆参加同类活动。",
    "该事项属于村委会职责，已转村委会办理。",
    "时间与全县统一活动冲突，请重新预约。",
]
_DECLINES = ["队员这段时间都在外地，无法按时完成。", "需要的专业人员暂时排不开。"]
_SUMMARIES = [
    "活动按计划完成，群众参与热情高。",
    "现场讲解并答疑，发放宣传资料。",
    "上门服务完成，群众表示满意。",
    "完成服务，约定下个月再来一次。",
]
_COMMENTS = ["讲得很好，通俗易懂", "志愿者很耐心", "希望多来几次", "时间有点短", "", "", "很满意"]
_LOW_COMMENTS = ["来晚了一个多小时", "内容和我们要的不太一样"]
_SURNAMES = "王林陈黄张李吴郑刘庄简萧曾游赖"
_GIVEN = ["大爷", "阿婆", "秀兰", "水生", "金花", "建国", "春梅", "明德", "玉珍", "福来"]


@dataclass
class _Plan:
    """One request and its timeline, before it is written."""

    request: ServiceRequest
    events: list[RequestEvent] = field(default_factory=list)
    participants: list[tuple[Volunteer, Decimal]] = field(default_factory=list)
    confirmed: bool = False


def seed_orders(
    *,
    centre: Unit,
    staff: User,
    count: int = DEFAULT_REQUESTS,
    seed: int = 350627,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """The menu and ``count`` requests of the year under ``centre`` (once: a county that
    already has a menu is left as it is). ``staff`` (a county coordinator) dispatches,
    rejects and confirms the hours. Without volunteers (teams with members) the requests
    stop at ``submitted``/``rejected``/``cancelled``."""
    if MenuItem.objects.filter(unit__tree_id=centre.tree_id).exists():
        return {}
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    now = now or timezone.now()
    units = list(Unit.objects.filter(tree_id=centre.tree_id, is_active=True).order_by("lft"))
    stations = [u for u in units if u.kind == UnitKind.STATION]
    if not stations:
        return {}
    by_code = {c.code: c for c in Category.objects.filter(is_active=True)}
    teams = {t.name: t for t in Team.objects.filter(unit__tree_id=centre.tree_id, is_active=True)}
    members = _members(centre)
    with transaction.atomic():
        items = _menu(centre, units, by_code, teams, staff)
        codes: set[str] = set(
            ServiceRequest.objects.values_list("tracking_code", flat=True)
            if ServiceRequest.objects.exists()
            else []
        )
        plans = [
            _plan(rng, now, codes, stations, items, by_code, teams, members, staff)
            for _index in range(count)
        ]
        written = _write(plans, staff, now)
    return {"menu_items": len(items), **written}


# --- the menu ----------------------------------------------------------------------------


@dataclass
class _Item:
    item: MenuItem
    team: Team | None  # who the office dispatches it to


def _short(unit_name: str) -> str:
    return unit_name.removesuffix("新时代文明实践站").removesuffix("新时代文明实践所")


def _menu(
    centre: Unit,
    units: list[Unit],
    by_code: dict[str, Category],
    teams: dict[str, Team],
    staff: User,
) -> list[_Item]:
    by_name = {u.name: u for u in units}
    made: list[tuple[MenuItem, list[Team], Team | None]] = []
    for code, title, description in COUNTY_MENU:
        team = teams.get(PLATFORM_TEAMS[code])
        made.append(
            (
                MenuItem(
                    unit=centre,
                    category=by_code[code],
                    title=title,
                    description=description,
                    created_by=staff,
                ),
                [team] if team else [],
                team,
            )
        )
    for unit_name, code, title, description, who in LOCAL_MENU:
        unit = by_name.get(unit_name)
        if unit is None:
            continue
        own = teams.get(f"{_short(unit_name)}志愿服务队")
        platform = teams.get(PLATFORM_TEAMS[code])
        team = platform if who == "platform" else own
        made.append(
            (
                MenuItem(
                    unit=unit,
                    category=by_code[code],
                    title=title,
                    description=description,
                    created_by=staff,
                ),
                [t for t in (own, platform) if t is not None],
                team,
            )
        )
    MenuItem.objects.bulk_create([m for m, _t, _d in made])
    saved = list(MenuItem.objects.filter(unit__tree_id=centre.tree_id).select_related("unit"))
    by_key = {(m.unit_id, m.title): m for m in saved}
    links = []
    result = []
    for item, item_teams, dispatch_to in made:
        stored = by_key[(item.unit_id, item.title)]
        links += [MenuItem.teams.through(menuitem_id=stored.pk, team_id=t.pk) for t in item_teams]
        result.append(_Item(stored, dispatch_to))
    MenuItem.teams.through.objects.bulk_create(links)
    return result


def _members(centre: Unit) -> dict[int, list[Volunteer]]:
    """Team id → its active members who are active volunteers with an account."""
    found: dict[int, list[Volunteer]] = defaultdict(list)
    for membership in (
        TeamMembership.objects.filter(
            team__unit__tree_id=centre.tree_id,
            status=MembershipStatus.ACTIVE,
            volunteer__status=VolunteerStatus.ACTIVE,
            volunteer__user__isnull=False,
        )
        .select_related("volunteer")
        .order_by("team_id", "volunteer_id")
    ):
        found[membership.team_id].append(membership.volunteer)
    return found


# --- one request -------------------------------------------------------------------------


def _final_status(rng: random.Random, age: dt.timedelta) -> str:
    """Old requests are mostly done; this week's mostly still on their way."""
    if age > dt.timedelta(days=30):
        weights = {S.CLOSED: 72, S.DELIVERED: 8, S.REJECTED: 12, S.CANCELLED: 8}
    elif age > dt.timedelta(days=7):
        weights = {
            S.CLOSED: 35,
            S.DELIVERED: 25,
            S.CLAIMED: 12,
            S.DISPATCHED: 8,
            S.SUBMITTED: 5,
            S.REJECTED: 10,
            S.CANCELLED: 5,
        }
    else:
        weights = {
            S.SUBMITTED: 30,
            S.DISPATCHED: 25,
            S.CLAIMED: 20,
            S.DELIVERED: 10,
            S.CLOSED: 5,
            S.REJECTED: 5,
            S.CANCELLED: 5,
        }
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _step(
    rng: random.Random, at: dt.datetime, now: dt.datetime, low: float, high: float
) -> dt.datetime:
    """A moment ``low``–``high`` hours after ``at``, but before ``now`` (halfway there at
    most, so later steps still fit)."""
    wanted = dt.timedelta(hours=rng.uniform(low, high))
    room = (now - at) / 2
    return at + min(wanted, room)


def _code(rng: random.Random, used: set[str]) -> str:
    while True:
        code = "".join(rng.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))
        if code not in used:
            used.add(code)
            return code


def _plan(
    rng: random.Random,
    now: dt.datetime,
    codes: set[str],
    stations: list[Unit],
    items: list[_Item],
    by_code: dict[str, Category],
    teams: dict[str, Team],
    members: dict[int, list[Volunteer]],
    staff: User,
) -> _Plan:
    unit = rng.choice(stations)
    offered = [
        i
        for i in items
        if i.item.unit.tree_id == unit.tree_id
        and i.item.unit.lft <= unit.lft
        and i.item.unit.rght >= unit.rght
    ]
    choice = rng.choice(offered) if offered and rng.random() < 0.9 else None
    if choice is not None:
        category = choice.item.category
        title = choice.item.title
        description = rng.choice(_DESCRIPTIONS)
        team = choice.team
    else:
        code, description = rng.choice(_ELSE)
        category = by_code[code]
        title = description[:40].split("，")[0]
        team = teams.get(PLATFORM_TEAMS[code])
    # a year of them, the last fortnight busier (the queue has something in it)
    days = rng.uniform(0, 14) if rng.random() < 0.15 else rng.uniform(0, 365)
    created = now - dt.timedelta(days=days, hours=rng.uniform(0, 1))
    created = timezone.localtime(created).replace(hour=rng.randrange(8, 20))
    if created >= now:
        created = now - dt.timedelta(hours=rng.uniform(1, 6))
    final = _final_status(rng, now - created)
    claimers = members.get(team.pk, []) if team is not None else []
    if final in (S.CLAIMED, S.DELIVERED, S.CLOSED) and not claimers:
        final = S.DISPATCHED if team is not None else S.SUBMITTED
    if final == S.DISPATCHED and team is None:
        final = S.SUBMITTED
    phone = f"1{rng.choice('35789')}{rng.randrange(0, 10**9):09d}"
    roll = rng.random()
    channel = (
        ServiceRequest.Channel.WEB
        if roll < 0.7
        else ServiceRequest.Channel.ON_BEHALF
        if roll < 0.95
        else ServiceRequest.Channel.OPEN311
    )
    request = ServiceRequest(
        unit=unit,
        category=category,
        menu_item=choice.item if choice else None,
        title=title,
        description=description,
        contact_name=rng.choice(_SURNAMES) + rng.choice(_GIVEN),
        contact_phone=phone,
        contact_phone_hash=hash_phone(phone),
        contact_phone_masked=mask_phone(phone),
        address=f"{_short(unit.name)}{rng.randrange(1, 9)}组" if rng.random() < 0.5 else "",
        channel=channel,
        filed_by=staff if channel == ServiceRequest.Channel.ON_BEHALF else None,
        tracking_code=_code(rng, codes),
        status=final,
        created_at=created,
    )
    plan = _Plan(request)
    on_behalf = channel == ServiceRequest.Channel.ON_BEHALF
    plan.events.append(
        RequestEvent(
            at=created,
            actor=staff if on_behalf else None,
            actor_kind=ActorKind.STAFF if on_behalf else ActorKind.RESIDENT,
            action=Transition.SUBMIT,
            to_status=S.SUBMITTED,
            note="由站点工作人员代群众提交。" if on_behalf else "",
            public=on_behalf,
        )
    )
    _timeline(rng, now, plan, final, team, claimers, staff)
    return plan


def _event(plan: _Plan, at: dt.datetime, action: str, **fields: Any) -> None:
    steps: dict[str, tuple[set[str], str]] = {
        Transition.DISPATCH: ({S.SUBMITTED}, S.DISPATCHED),
        Transition.REJECT: ({S.SUBMITTED}, S.REJECTED),
        Transition.CLAIM: ({S.DISPATCHED}, S.CLAIMED),
        Transition.DECLINE: ({S.DISPATCHED, S.CLAIMED}, S.SUBMITTED),
        Transition.DELIVER: ({S.CLAIMED}, S.DELIVERED),
        Transition.RATE: ({S.DELIVERED}, S.CLOSED),
        Transition.CANCEL: ({S.SUBMITTED, S.DISPATCHED}, S.CANCELLED),
    }
    allowed_from, to = steps[action]
    before = plan.events[-1].to_status
    if before not in allowed_from:  # pragma: no cover - a mistake in this module
        raise ValueError(f"{action} from {before}")
    plan.events.append(
        RequestEvent(at=at, action=action, from_status=before, to_status=to, **fields)
    )


def _timeline(
    rng: random.Random,
    now: dt.datetime,
    plan: _Plan,
    final: str,
    team: Team | None,
    claimers: list[Volunteer],
    staff: User,
) -> None:
    req = plan.request
    at = req.created_at
    if final == S.SUBMITTED:
        return
    if final == S.CANCELLED and rng.random() < 0.6:
        at = _step(rng, at, now, 1, 30)
        _event(plan, at, Transition.CANCEL, actor_kind=ActorKind.RESIDENT, public=True)
        return
    if final == S.REJECTED:
        at = _step(rng, at, now, 2, 48)
        reason = rng.choice(_REJECTIONS)
        _event(
            plan,
            at,
            Transition.REJECT,
            actor=staff,
            actor_kind=ActorKind.STAFF,
            note=reason,
            public=True,
        )
        req.responded_at = at
        return
    if team is None:  # pragma: no cover - _plan leaves such requests submitted
        raise ValueError("dispatched without a team")
    # dispatched — once in a while declined by the team first and dispatched again
    declines = 1 if claimers and rng.random() < 0.08 else 0
    for attempt in range(declines + 1):
        at = _step(rng, at, now, 2, 30)
        due = timezone.localtime(at).date() + dt.timedelta(days=rng.randrange(3, 11))
        _event(plan, at, Transition.DISPATCH, actor=staff, actor_kind=ActorKind.STAFF)
        req.responded_at = req.responded_at or at
        req.team, req.due_date, req.dispatched_at, req.dispatched_by = team, due, at, staff
        if attempt < declines:
            at = _step(rng, at, now, 4, 48)
            leader = next((v for v in claimers if v.pk == team.leader_id), claimers[0])
            _event(
                plan,
                at,
                Transition.DECLINE,
                actor_id=leader.user_id,
                actor_kind=ActorKind.VOLUNTEER,
                note=rng.choice(_DECLINES),
            )
    if final == S.CANCELLED:
        at = _step(rng, at, now, 2, 24)
        _event(plan, at, Transition.CANCEL, actor_kind=ActorKind.RESIDENT, public=True)
        return
    if final == S.DISPATCHED:
        _maybe_overdue(plan, now)
        return
    claimer = rng.choice(claimers)
    at = _step(rng, at, now, 1, 36)
    _event(plan, at, Transition.CLAIM, actor_id=claimer.user_id, actor_kind=ActorKind.VOLUNTEER)
    req.claimed_by, req.claimed_at = claimer, at
    if final == S.CLAIMED:
        _maybe_overdue(plan, now)
        return
    at = _step(rng, at, now, 24, 24 * 6)
    summary = rng.choice(_SUMMARIES)
    _event(
        plan,
        at,
        Transition.DELIVER,
        actor_id=claimer.user_id,
        actor_kind=ActorKind.VOLUNTEER,
        note=summary,
        public=True,
    )
    req.delivered_at, req.summary = at, summary
    req.beneficiaries = rng.randrange(5, 120)
    others = [v for v in claimers if v.pk != claimer.pk]
    people = [claimer, *rng.sample(others, k=min(len(others), rng.randrange(0, 4)))]
    plan.participants = [
        (v, Decimal(rng.choice(["1.00", "1.50", "2.00", "2.50", "3.00"]))) for v in people
    ]
    if final == S.DELIVERED:
        return
    at = _step(rng, at, now, 2, 72)
    stars = rng.choices([5, 4, 3, 2, 1], weights=[60, 25, 9, 4, 2])[0]
    comment = rng.choice(_LOW_COMMENTS if stars <= 2 else _COMMENTS)
    _event(plan, at, Transition.RATE, actor_kind=ActorKind.RESIDENT, note=comment, public=True)
    req.rating, req.rating_comment, req.closed_at = stars, comment, at
    plan.confirmed = now - at > dt.timedelta(days=30)
    if stars <= int(settings.ORDERS_REVIEW_RATING_AT_MOST):
        if now - at > dt.timedelta(days=14):  # looked at since
            plan.events.append(
                RequestEvent(
                    at=_step(rng, at, now, 4, 72),
                    actor=staff,
                    actor_kind=ActorKind.STAFF,
                    action=Transition.REVIEW,
                    note="已电话回访群众并向服务队反馈。",
                )
            )
        else:
            req.needs_review = True


def _maybe_overdue(plan: _Plan, now: dt.datetime) -> None:
    """Mark an open request the overdue check would have marked (once, as it does: the
    two conditions of ``services.overdue_q``)."""
    req = plan.request
    late = (
        req.status == S.DISPATCHED
        and req.dispatched_at is not None
        and req.dispatched_at < now - dt.timedelta(hours=int(settings.ORDERS_CLAIM_WITHIN_HOURS))
    ) or (req.due_date is not None and req.due_date < timezone.localdate(now))
    if not late:
        return
    last = plan.events[-1].at
    if req.status == S.DISPATCHED and req.dispatched_at is not None:
        mark = req.dispatched_at + dt.timedelta(hours=int(settings.ORDERS_CLAIM_WITHIN_HOURS) + 1)
    else:
        due = req.due_date or timezone.localdate(now)
        mark = timezone.make_aware(dt.datetime.combine(due + dt.timedelta(days=1), dt.time(2)))
    mark = min(max(mark, last + dt.timedelta(minutes=1)), now)
    req.overdue_at = mark
    plan.events.append(
        RequestEvent(
            at=mark,
            actor_kind=ActorKind.SYSTEM,
            action=Transition.OVERDUE,
            note="未在时限内接单或完成。",
        )
    )


# --- writing -----------------------------------------------------------------------------


def _write(plans: list[_Plan], staff: User, now: dt.datetime) -> dict[str, int]:
    requests = [p.request for p in plans]
    for start in range(0, len(requests), BATCH):
        ServiceRequest.objects.bulk_create(requests[start : start + BATCH])
    if requests and requests[0].pk is None:  # a database that returns no ids
        by_code = dict(
            ServiceRequest.objects.filter(
                tracking_code__in=[r.tracking_code for r in requests]
            ).values_list("tracking_code", "pk")
        )
        for r in requests:
            r.pk = by_code[r.tracking_code]
    events = []
    for plan in plans:
        for event in plan.events:
            event.request_id = plan.request.pk
            events.append(event)
    for start in range(0, len(events), BATCH):
        RequestEvent.objects.bulk_create(events[start : start + BATCH])
    # Each request's last change, as the services' saves would have left it.
    last_event = RequestEvent.objects.filter(request=OuterRef("pk")).values("request")
    ServiceRequest.objects.filter(pk__in=[r.pk for r in requests]).update(
        updated_at=Subquery(last_event.annotate(last=Max("at")).values("last")[:1])
    )
    activities, records = _deliveries([p for p in plans if p.participants], staff, now)
    return {
        "requests": len(requests),
        "events": len(events),
        "activities": activities,
        "service_records": records,
    }


def _deliveries(plans: list[_Plan], staff: User, now: dt.datetime) -> tuple[int, int]:
    """The activity of each delivered request, its participants and their service records
    (confirmed — with their points — for services closed over a month ago)."""
    activities = []
    for plan in plans:
        req = plan.request
        delivered = req.delivered_at or now  # set by _timeline with the participants
        longest = max(h for _v, h in plan.participants)
        activities.append(
            Activity(
                title=req.title,
                unit=req.unit,
                category=req.category,
                team=req.team,
                start=delivered - dt.timedelta(hours=float(longest)),
                end=delivered,
                location=req.address or req.unit.address,
                description=req.summary,
                beneficiaries=req.beneficiaries or 0,
                status=ActivityStatus.APPROVED if plan.confirmed else ActivityStatus.SUBMITTED,
                request=req,
                created_by_id=req.claimed_by.user_id if req.claimed_by else None,
                submitted_at=delivered,
            )
        )
    Activity.objects.bulk_create(activities)
    if activities and activities[0].pk is None:
        by_request = dict(
            Activity.objects.filter(request__in=[p.request for p in plans]).values_list(
                "request_id", "pk"
            )
        )
        for activity in activities:
            activity.pk = by_request[activity.request_id]
    records: list[ServiceRecord] = []
    for plan in plans:
        req = plan.request
        delivered = req.delivered_at or now
        recorder = req.claimed_by.user_id if req.claimed_by else None
        for volunteer, hours in plan.participants:
            records.append(
                ServiceRecord(
                    volunteer=volunteer,
                    unit=req.unit,
                    date=timezone.localtime(delivered).date(),
                    hours=hours,
                    category=req.category,
                    content=req.title[:200],
                    source=RecordSource.REQUEST,
                    source_id=req.pk,
                    status=RecordStatus.CONFIRMED if plan.confirmed else RecordStatus.PENDING,
                    recorded_by_id=recorder,
                    confirmed_by=staff if plan.confirmed else None,
                    confirmed_at=(
                        min(req.closed_at + dt.timedelta(days=3), now)
                        if plan.confirmed and req.closed_at
                        else None
                    ),
                )
            )
    for start in range(0, len(records), BATCH):
        ServiceRecord.objects.bulk_create(records[start : start + BATCH])
    stored = {
        (r.source_id, r.volunteer_id): r
        for r in ServiceRecord.objects.filter(
            source=RecordSource.REQUEST, source_id__in=[p.request.pk for p in plans]
        )
    }
    participants = []
    for plan, activity in zip(plans, activities, strict=True):
        for volunteer, hours in plan.participants:
            participants.append(
                ActivityParticipant(
                    activity=activity,
                    volunteer=volunteer,
                    hours=hours,
                    record=stored[(plan.request.pk, volunteer.pk)],
                )
            )
    for start in range(0, len(participants), BATCH):
        ActivityParticipant.objects.bulk_create(participants[start : start + BATCH])
    _points([r for r in stored.values() if r.status == RecordStatus.CONFIRMED], staff)
    return len(activities), len(records)


def _points(confirmed: list[ServiceRecord], staff: User) -> None:
    """The points the confirmed records earned, after each volunteer's ledger so far, and
    the figures kept on the volunteers' rows (one UPDATE)."""
    if not confirmed:
        return
    volunteer_ids = {r.volunteer_id for r in confirmed}
    balance = dict(
        Volunteer.objects.filter(pk__in=volunteer_ids).values_list("pk", "points_balance")
    )
    rate = int(settings.VOLUNTEER_POINTS_PER_HOUR)
    entries = []
    for record in sorted(confirmed, key=lambda r: (r.volunteer_id, r.date, r.pk)):
        points = points_for_hours(record.hours, rate)
        if points <= 0:
            continue
        balance[record.volunteer_id] += points
        entries.append(
            PointsEntry(
                volunteer_id=record.volunteer_id,
                kind=PointsKind.EARNED,
                points=points,
                balance=balance[record.volunteer_id],
                unit_id=record.unit_id,
                record=record,
                actor=staff,
            )
        )
    for start in range(0, len(entries), BATCH):
        PointsEntry.objects.bulk_create(entries[start : start + BATCH])
    all_confirmed = ServiceRecord.objects.filter(
        volunteer=OuterRef("pk"), status=RecordStatus.CONFIRMED
    )
    last_entry = PointsEntry.objects.filter(volunteer=OuterRef("pk")).order_by("-pk")
    Volunteer.objects.filter(pk__in=volunteer_ids).update(
        confirmed_hours=Coalesce(
            Subquery(
                all_confirmed.values("volunteer").annotate(total=Sum("hours")).values("total")[:1]
            ),
            Value(Decimal(0)),
        ),
        points_balance=Coalesce(Subquery(last_entry.values("balance")[:1]), 0),
    )
