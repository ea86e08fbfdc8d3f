"""Order — menu — deliver: the coordinator's dispatch queue, the requests API list and a
station's public order page with 100 and then 10,000 open requests in the county (the
ratio must stay flat), and — on PostgreSQL — claims per second when eight volunteers
claim from one pool of dispatched requests at once (each request won exactly once)."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.utils import timezone

from orders import services
from orders.choices import RequestStatus
from orders.models import MenuItem, RequestEvent, ServiceRequest
from portal.errors import ApplicationError
from practice.choices import Role, UnitKind
from practice.models import Category, RoleAssignment, Unit, User
from volunteers.choices import MembershipStatus, VolunteerStatus
from volunteers.identity import check_character, hash_phone, id_number_hash
from volunteers.models import Team, TeamMembership, Volunteer

from .common import Context, Measurement, Ratio, Section, measure_get

SMALL = 100
BIG = 10_000
CLAIMERS = 8
CLAIM_POOL = 400


class Orders(Section):
    name = "orders"
    help = "dispatch queue, requests API and order page at 100 and 10,000 open requests; claims/s"
    ratios = [
        Ratio("/requests/, 10,000 ÷ 100", "orders.big.page.queue", "orders.small.page.queue"),
        Ratio("API /requests/, 10,000 ÷ 100", "orders.big.api.list", "orders.small.api.list"),
        Ratio("order page, 10,000 ÷ 100", "orders.big.page.order", "orders.small.page.order"),
    ]

    def finish(self, ctx: Context) -> None:
        county = ctx.county
        if county is None:
            return
        county.refresh_from_db()
        stations = list(Unit.objects.within(county).filter(kind=UnitKind.STATION, is_active=True))
        if not stations:
            raise CommandError("The bench county has no stations.")
        category = Category.objects.filter(is_active=True).order_by("sort_order").first()
        if category is None:
            raise CommandError("No service platform (category) exists.")
        coordinator = User.objects.create_user(username="bench-orders", password=None)
        RoleAssignment.objects.create(user=coordinator, unit=county, role=Role.COORDINATOR)
        team = Team.objects.create(name="基准服务队", unit=county, category=category)
        item = MenuItem.objects.create(unit=county, category=category, title="基准服务")
        item.teams.set([team])
        staff = Client()
        staff.force_login(coordinator)
        visitor = Client()
        station = stations[0]
        ctx.write(f"Orders: {SMALL:,} then {BIG:,} open requests in the county")
        _requests(SMALL, stations, category, item)
        self._reads(ctx, staff, visitor, station, "small", SMALL)
        _requests(BIG - SMALL, stations, category, item)
        self._reads(ctx, staff, visitor, station, "big", BIG)
        if connection.vendor == "postgresql":
            self._claims(ctx, coordinator, team, stations, category, item)
        else:
            ctx.write("  claims under contention: PostgreSQL only (SQLite serializes writers)")

    def _reads(
        self, ctx: Context, staff: Client, visitor: Client, station: Unit, size: str, n: int
    ) -> None:
        for client, key, label, url in (
            (staff, "page.queue", "GET /requests/", "/requests/"),
            (staff, "api.list", "API /requests/?page_size=50", "/api/v1/requests/?page_size=50"),
            (visitor, "page.order", "GET /units/<station>/order/", f"/units/{station.pk}/order/"),
        ):
            measure_get(ctx, client, f"orders.{size}.{key}", f"{label} ({n:,} open requests)", url)

    def _claims(
        self,
        ctx: Context,
        coordinator: User,
        team: Team,
        stations: list[Unit],
        category: Category,
        item: MenuItem,
    ) -> None:
        volunteers = _volunteers(team, stations[0], CLAIMERS)
        pool = _requests(CLAIM_POOL, stations, category, item, team=team)
        won: list[int] = []
        lost: list[int] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        barrier = threading.Barrier(CLAIMERS)

        def claimer(user: User, order: list[ServiceRequest]) -> None:
            try:
                barrier.wait(timeout=60)
                for request in order:
                    try:
                        services.request_claim(actor=user, request=request)
                    except ApplicationError as exc:
                        if exc.status_code != 409:
                            raise
                        with lock:
                            lost.append(request.pk)
                    else:
                        with lock:
                            won.append(request.pk)
            except BaseException as exc:  # reported below
                with lock:
                    errors.append(exc)
            finally:
                connection.close()

        rng = random.Random(8)  # noqa: S311 - reproducible order
        threads = []
        for volunteer in volunteers:
            order = list(pool)
            rng.shuffle(order)
            threads.append(threading.Thread(target=claimer, args=(volunteer.user, order)))
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        if errors:
            raise CommandError(f"A claimer failed: {errors[0]!r}")
        claimed = ServiceRequest.objects.filter(
            pk__in=[r.pk for r in pool], status=RequestStatus.CLAIMED
        ).count()
        measurement = Measurement(
            "orders.claims",
            f"{CLAIMERS} volunteers claiming {CLAIM_POOL} dispatched requests at once",
        )
        measurement.samples_ms.append(elapsed * 1000)
        measurement.info.update(
            {
                "claims_per_second": round(len(won) / elapsed),
                "attempts_per_second": round((len(won) + len(lost)) / elapsed),
                "won": len(won),
                "refused_409": len(lost),
                "claimed_once": claimed == len(won) == len(set(won)) == CLAIM_POOL,
            }
        )
        ctx.store(measurement)
        ctx.write(
            f"    {measurement.info['claims_per_second']:,} claims/s "
            f"({measurement.info['attempts_per_second']:,} attempts/s); {len(won)} won, "
            f"{len(lost)} refused with 409; each request claimed once: "
            f"{measurement.info['claimed_once']}"
        )


_codes = iter(range(10**9))


def _requests(
    n: int,
    stations: list[Unit],
    category: Category,
    item: MenuItem,
    *,
    team: Team | None = None,
) -> list[ServiceRequest]:
    """``n`` open requests spread over the stations (submitted, or dispatched to ``team``),
    written in bulk with their first event, as the services would leave them."""
    now = timezone.now()
    status = RequestStatus.DISPATCHED if team else RequestStatus.SUBMITTED
    rows = []
    for i in range(n):
        serial = next(_codes)
        phone = f"137{serial:08d}"
        rows.append(
            ServiceRequest(
                unit=stations[i % len(stations)],
                category=category,
                menu_item=item,
                title=item.title,
                description="基准",
                contact_name="基准",
                contact_phone=phone,
                contact_phone_hash=hash_phone(phone),
                contact_phone_masked=f"{phone[:3]}****{phone[-4:]}",
                tracking_code=f"B{serial:07d}",
                status=status,
                team=team,
                due_date=(now + dt.timedelta(days=7)).date() if team else None,
                dispatched_at=now if team else None,
                created_at=now - dt.timedelta(minutes=i),
            )
        )
    created = ServiceRequest.objects.bulk_create(rows, batch_size=2000)
    RequestEvent.objects.bulk_create(
        (
            RequestEvent(
                request=r, actor_kind="resident", action="submit", to_status="submitted", at=now
            )
            for r in created
        ),
        batch_size=2000,
    )
    return created


def _volunteers(team: Team, unit: Unit, n: int) -> list[Volunteer]:
    out = []
    for i in range(n):
        user = User.objects.create_user(username=f"bench-claimer-{i}", password=None)
        first17 = f"350627{1980 + i:04d}0101{900 + i:03d}"
        number = first17 + check_character(first17)
        phone = f"136{i:08d}"
        volunteer = Volunteer.objects.create(
            user=user,
            name=f"基准志愿者{i}",
            id_number=number,
            id_number_hash=id_number_hash(number),
            id_number_masked=number[:6] + "********" + number[-4:],
            gender="male",
            birth_date=dt.date(1980 + i, 1, 1),
            phone=phone,
            phone_hash=hash_phone(phone),
            phone_masked=f"{phone[:3]}****{phone[-4:]}",
            unit=unit,
            status=VolunteerStatus.ACTIVE,
        )
        TeamMembership.objects.create(
            team=team, volunteer=volunteer, status=MembershipStatus.ACTIVE, joined_at=timezone.now()
        )
        out.append(volunteer)
    return out
