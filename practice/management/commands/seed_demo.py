"""``manage.py seed_demo``: the Nanjing County demo. Idempotent: a second run changes nothing."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from activities.demo import seed_activities
from activities.summary import differences, rebuild
from orders.demo import DEFAULT_REQUESTS, seed_orders
from practice import services
from practice.choices import Role
from practice.demo import CENTRE_NAME, county_spec
from practice.models import RoleAssignment, Unit, User
from practice.tree import NodeSpec
from volunteers.demo import DEMO_VOLUNTEER_PHONE, seed_volunteers

DEMO_PASSWORD = "nanjing-demo-2026"
DEFAULT_VOLUNTEERS = 3000

# username, full name, role, unit name (None: superuser)
ACCOUNTS: list[tuple[str, str, str | None, str | None]] = [
    ("admin", "系统管理员", None, None),
    ("county", "林文明（县委文明办）", Role.COORDINATOR, CENTRE_NAME),
    ("shancheng", "陈建华（山城镇）", Role.MANAGER, "山城镇新时代文明实践所"),
    ("dafang", "黄丽娟（大房村）", Role.MANAGER, "大房村新时代文明实践站"),
]


class Command(BaseCommand):
    help = (
        "Load the Nanjing County demo network, its demo accounts and its volunteers (idempotent)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--volunteers",
            type=int,
            default=DEFAULT_VOLUNTEERS,
            help=(
                "volunteers to register in the county, with their teams, hours and points "
                f"(default {DEFAULT_VOLUNTEERS:,}; the county's real figure is 50,391; 0: none)"
            ),
        )
        parser.add_argument(
            "--requests",
            type=int,
            default=DEFAULT_REQUESTS,
            help=(
                "service requests of the last year, in every state, with the county's menu "
                f"(default {DEFAULT_REQUESTS}; 0: neither)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            admin, _ = self._account("admin", "系统管理员", superuser=True)
            centre = Unit.objects.filter(parent=None, name=CENTRE_NAME).first()
            if centre is None:
                nodes = services.unit_import_tree(
                    actor=admin, parent=None, spec=NodeSpec.from_mapping(county_spec())
                )
                self.stdout.write(f"Built {CENTRE_NAME}: {len(nodes)} units.")
            else:
                self.stdout.write(f"{CENTRE_NAME} already exists; units left as they are.")
            for username, name, role, unit_name in ACCOUNTS[1:]:
                user, _ = self._account(username, name)
                unit = Unit.objects.get(name=unit_name)
                if (
                    role
                    and not RoleAssignment.objects.filter(user=user, unit=unit, role=role).exists()
                ):
                    services.role_grant(actor=admin, user=user, unit=unit, role=role)
        centre = Unit.objects.get(parent=None, name=CENTRE_NAME)
        if options["volunteers"] > 0:
            made = seed_volunteers(
                centre=centre,
                count=options["volunteers"],
                recorder=User.objects.get(username="shancheng"),
                confirmer=User.objects.get(username="county"),
                password=DEMO_PASSWORD,
            )
            if made:
                self.stdout.write(
                    "Volunteers: {volunteers:,} in {teams} teams, {records:,} service records, "
                    "{points_entries:,} points entries.".format(**made)
                )
            else:
                self.stdout.write("The county already has volunteers; left as they are.")
        if options["requests"] > 0:
            made = seed_orders(
                centre=centre,
                staff=User.objects.get(username="county"),
                count=options["requests"],
            )
            if made:
                self.stdout.write(
                    "Orders: {menu_items} menu items, {requests:,} requests of the year, "
                    "{activities:,} delivered with {service_records:,} service records.".format(
                        **made
                    )
                )
            else:
                self.stdout.write("The county already has a service menu; left as it is.")
        made = seed_activities(
            centre=centre,
            coordinator=User.objects.get(username="county"),
            superuser=User.objects.get(username="admin"),
            managers=list(User.objects.filter(username__in=["shancheng", "dafang"])),
        )
        if made:
            self.stdout.write(
                "Activities: {year_activities:,} approved in {year} with {year_records:,} "
                "service records, {recent} of the last weeks in every state, {planned} planned "
                "with {signups} sign-ups.".format(**made)
            )
        else:
            self.stdout.write("The county already has activities; left as they are.")
        # The bulk inserts of the demo bypass the activity summary's incremental upkeep.
        if differences():
            rebuild()
        # Fresh planner statistics, so the tree indexes are used from the first request
        # (SQLite never gathers them by itself).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD}):"))
        for username, name, role, unit_name in ACCOUNTS:
            where = f"{role} @ {unit_name}" if role else "superuser"
            self.stdout.write(f"  {username:<10} {name} — {where}")
        if options["volunteers"] > 0:
            self.stdout.write(
                f"  {DEMO_VOLUNTEER_PHONE} 简秀英 — a volunteer of 大房村 (logs in by phone)"
            )

    def _account(self, username: str, name: str, *, superuser: bool = False) -> tuple[User, bool]:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"name": name, "is_superuser": superuser, "is_staff": superuser},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user, created
