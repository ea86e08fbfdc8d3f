"""Pages of the practice network: permission matrix, behaviour, query counts."""

from typing import Any

import pytest
from django.urls import reverse

from practice import services
from practice.choices import Role, UnitKind
from practice.demo import county_spec
from practice.models import AuditEntry, RoleAssignment, Unit, User
from practice.tree import NodeSpec
from tests.conftest import World

pytestmark = pytest.mark.django_db


def _big_county(superuser: User, stations_per_town: int, towns: int) -> Unit:
    spec = {
        "name": "大县中心",
        "kind": UnitKind.CENTRE,
        "children": [
            {
                "name": f"镇{t:02d}",
                "kind": UnitKind.INSTITUTE,
                "children": [
                    {"name": f"镇{t:02d}村{s:03d}", "kind": UnitKind.STATION}
                    for s in range(stations_per_town)
                ],
            }
            for t in range(towns)
        ],
    }
    nodes = services.unit_import_tree(
        actor=superuser, parent=None, spec=NodeSpec.from_mapping(spec)
    )
    return nodes[0]


# --- public pages ------------------------------------------------------------------------


def test_home_shows_counts_per_level(world: World, client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    counts = response.context["counts"]
    assert counts[UnitKind.CENTRE] == 2
    assert counts[UnitKind.INSTITUTE] == 3
    assert counts[UnitKind.STATION] == 4
    assert counts[UnitKind.POINT] == 1


def test_home_counts_the_demo_network(db: Any, client: Any) -> None:
    admin = User.objects.create_superuser("admin", password="x-long-password-1")
    services.unit_import_tree(actor=admin, parent=None, spec=NodeSpec.from_mapping(county_spec()))
    response = client.get("/")
    html = response.content.decode()
    assert response.context["counts"] == {
        "region": 0,
        "centre": 1,
        "institute": 12,
        "station": 185,
        "point": 6,
    }
    assert 'data-kind="station">185<' in html
    assert 'data-kind="institute">12<' in html
    assert 'data-kind="centre">1<' in html


def test_home_query_count_does_not_grow(
    db: Any, client: Any, django_assert_max_num_queries: Any
) -> None:
    admin = User.objects.create_superuser("admin", password="x-long-password-1")
    _big_county(admin, stations_per_town=2, towns=2)
    # + volunteers, teams and hours of the whole network (counted once per write).
    with django_assert_max_num_queries(9) as small:
        client.get("/")
    _big_county_2 = services.unit_import_tree(
        actor=admin,
        parent=Unit.objects.get(name="大县中心"),
        spec=NodeSpec.from_mapping(
            {
                "name": "新镇",
                "kind": "institute",
                "children": [{"name": f"村{i}", "kind": "station"} for i in range(150)],
            }
        ),
    )
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get("/")


@pytest.mark.parametrize(("towns", "stations"), [(1, 3), (10, 19)])
def test_tree_page_costs_the_same_at_5_and_200_units(
    db: Any, client: Any, django_assert_num_queries: Any, towns: int, stations: int
) -> None:
    admin = User.objects.create_superuser("admin", password="x-long-password-1")
    centre = _big_county(admin, stations_per_town=stations, towns=towns)
    assert centre.__class__.objects.count() in (5, 201)
    # Anonymous: how many trees there are, then the units (no session, no grants).
    with django_assert_num_queries(2):
        response = client.get("/units/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="badge rounded-pill kind-badge kind-station"') == towns * stations


def test_tree_page_within_and_search(world: World, client: Any) -> None:
    response = client.get(f"/units/?within={world.town.pk}")
    html = response.content.decode()
    assert "一村站" in html and "二村站" in html and "三村站" not in html
    response = client.get("/units/?q=村站")
    names = [u.name for u in response.context["results"]]
    assert set(names) == {"一村站", "二村站", "三村站", "乙村站"}
    assert response.context["results"][0].path_names[-1] == response.context["results"][0].name


def test_tree_page_hides_inactive_units_from_the_public(world: World, client: Any) -> None:
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    assert "一村点" not in client.get(f"/units/?within={world.station.pk}").content.decode()
    client.force_login(world.station_manager)
    assert "一村点" in client.get(f"/units/?within={world.station.pk}").content.decode()


def test_unit_detail_is_public(
    world: World, client: Any, django_assert_max_num_queries: Any
) -> None:
    # + the subtree's volunteers, teams and hours (one query) and the unit's own teams,
    # + the menu's headlines, the last completed requests and their figures (orders).
    with django_assert_max_num_queries(11):
        response = client.get(f"/units/{world.town.pk}/")
    assert response.status_code == 200
    assert [c.name for c in response.context["children"]] == ["一村站", "二村站"]
    assert "unit-actions" not in response.content.decode()


@pytest.mark.parametrize(
    ("who", "status"),
    # 410: the public and staff elsewhere get the "closed" page (test_public_counts.py).
    [("anonymous", 410), ("no_role", 410), ("station_manager", 200), ("other_coordinator", 410)],
)
def test_inactive_unit_detail_matrix(
    world: World, browser_client: Any, who: str, status: int
) -> None:
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    client = browser_client(None if who == "anonymous" else getattr(world, who))
    assert client.get(f"/units/{world.point.pk}/").status_code == status


# --- staff pages: the permission matrix ----------------------------------------------------

STAFF_PAGES = [
    # (url name, unit attribute, who may (200), who is in scope but refused (403))
    (
        "unit-edit",
        "station",
        {"station_manager", "town_manager", "coordinator", "superuser"},
        set(),
    ),
    (
        "unit-create",
        "station",
        {"station_manager", "town_manager", "coordinator", "superuser"},
        set(),
    ),
    ("unit-move", "station", {"coordinator", "superuser"}, {"station_manager", "town_manager"}),
    ("unit-delete", "station", {"coordinator", "superuser"}, {"station_manager", "town_manager"}),
    (
        "unit-roles",
        "station",
        {"station_manager", "town_manager", "coordinator", "superuser"},
        set(),
    ),
    ("unit-edit", "town", {"town_manager", "coordinator", "superuser"}, set()),
    ("unit-move", "town", {"coordinator", "superuser"}, {"town_manager"}),
]
WHO = [
    "no_role",
    "station_manager",
    "town_manager",
    "coordinator",
    "other_coordinator",
    "superuser",
]


@pytest.mark.parametrize(("page", "attr", "allowed", "refused"), STAFF_PAGES)
def test_staff_page_matrix(
    world: World, browser_client: Any, page: str, attr: str, allowed: set[str], refused: set[str]
) -> None:
    url = reverse(page, args=[getattr(world, attr).pk])
    anonymous = browser_client(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    for who in WHO:
        expected = 200 if who in allowed else 403 if who in refused else 404
        response = browser_client(getattr(world, who)).get(url)
        assert response.status_code == expected, (page, attr, who, response.status_code)


def test_station_manager_edits_own_station_only(world: World, browser_client: Any) -> None:
    client = browser_client(world.station_manager)
    data = {
        "name": "一村站",
        "kind": "station",
        "address": "一村 88 号",
        "contact_phone": "0596-7001234",
    }
    response = client.post(reverse("unit-edit", args=[world.station.pk]), data)
    assert response.status_code == 302
    world.station.refresh_from_db()
    assert world.station.address == "一村 88 号"
    assert AuditEntry.objects.filter(unit=world.station, action="unit.changed").exists()
    # Its sibling, its parent and the other county are outside its subtree: 404, unchanged.
    for unit in (world.station2, world.town, world.other_station):
        response = client.post(reverse("unit-edit", args=[unit.pk]), {**data, "name": unit.name})
        assert response.status_code == 404
        unit.refresh_from_db()
        assert unit.address == ""


def test_edit_form_shows_clear_errors(world: World, browser_client: Any) -> None:
    client = browser_client(world.town_manager)
    response = client.post(
        reverse("unit-edit", args=[world.station.pk]),
        {"name": "二村站", "kind": "station", "division_code": "1234", "contact_phone": "电话"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "division_code" in errors and "contact_phone" in errors
    world.station.refresh_from_db()
    assert world.station.name == "一村站"
    # A duplicate sibling name is refused by the service, with its message on the form.
    response = client.post(
        reverse("unit-edit", args=[world.station.pk]), {"name": "二村站", "kind": "station"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors


def test_create_form_offers_only_allowed_kinds(world: World, browser_client: Any) -> None:
    client = browser_client(world.town_manager)
    response = client.get(reverse("unit-create", args=[world.town.pk]))
    kinds = [value for value, _ in response.context["form"].fields["kind"].choices]
    assert kinds == ["station", "point"]
    response = client.post(
        reverse("unit-create", args=[world.town.pk]), {"name": "新所", "kind": "institute"}
    )
    assert response.status_code == 200 and response.context["form"].errors["kind"]
    response = client.post(
        reverse("unit-create", args=[world.town.pk]), {"name": "四村站", "kind": "station"}
    )
    assert response.status_code == 302
    assert Unit.objects.get(name="四村站").parent == world.town


def test_delete_page_refuses_a_unit_with_children(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    response = client.post(reverse("unit-delete", args=[world.station.pk]))
    assert response.status_code == 200
    assert response.context["error"]
    assert Unit.objects.filter(pk=world.station.pk).exists()
    response = client.post(reverse("unit-delete", args=[world.point.pk]))
    assert response.status_code == 302
    assert not Unit.objects.filter(pk=world.point.pk).exists()


def test_move_page_moves_a_station(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    response = client.get(reverse("unit-move", args=[world.station2.pk]))
    candidates = list(response.context["form"].fields["parent"].queryset)
    assert candidates == [world.town2]  # only institutes, not the current parent, not B
    response = client.post(
        reverse("unit-move", args=[world.station2.pk]), {"parent": world.town2.pk}
    )
    assert response.status_code == 302
    world.station2.refresh_from_db()
    assert world.station2.parent_id == world.town2.pk


def test_deactivate_and_reactivate(world: World, browser_client: Any) -> None:
    client = browser_client(world.town_manager)
    response = client.post(reverse("unit-deactivate", args=[world.station.pk]), follow=True)
    assert response.redirect_chain[-1][0] == f"/units/{world.station.pk}/"
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    world.station.refresh_from_db()
    assert world.station.is_active  # it still has an active point
    client.post(reverse("unit-deactivate", args=[world.point.pk]))
    world.point.refresh_from_db()
    assert not world.point.is_active
    client.post(reverse("unit-reactivate", args=[world.point.pk]))
    world.point.refresh_from_db()
    assert world.point.is_active


def test_roles_page_grant_and_revoke(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    newcomer = User.objects.create_user(
        "newcomer", password="x-long-password-1", created_by=world.coordinator
    )
    response = client.post(
        reverse("unit-roles", args=[world.station2.pk]), {"user": newcomer.pk, "role": Role.MANAGER}
    )
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=newcomer, unit=world.station2)
    response = client.post(reverse("role-revoke", args=[assignment.pk]), {"next": "/units/"})
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    # A manager sees the roles but cannot grant (403) or revoke (404 is not leaked: 403).
    manager = browser_client(world.town_manager)
    response = manager.get(reverse("unit-roles", args=[world.station.pk]))
    assert response.status_code == 200 and response.context["form"] is None
    response = manager.post(
        reverse("unit-roles", args=[world.station.pk]), {"user": newcomer.pk, "role": "manager"}
    )
    assert response.status_code == 403


def test_dashboard_lists_the_users_units(world: World, browser_client: Any) -> None:
    response = browser_client(world.town_manager).get("/dashboard/")
    assert [g.unit for g in response.context["grants"]] == [world.town]
    response = browser_client(world.no_role).get("/dashboard/")
    assert response.context["grants"] == []
    assert browser_client(None).get("/dashboard/").status_code == 302


def test_staff_accounts_pages(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    assert client.get("/staff/users/").status_code == 200
    weak = client.post(
        "/staff/users/add/",
        {
            "username": "wang",
            "name": "王五",
            "password": "123",
            "unit": world.station.pk,
            "role": "manager",
        },
    )
    assert weak.status_code == 200 and weak.context["form"].errors["password"]
    assert not User.objects.filter(username="wang").exists()
    response = client.post(
        "/staff/users/add/",
        {
            "username": "wang",
            "name": "王五",
            "phone": "+86 138-1234-5678",
            "password": "village-station-2026",
            "unit": world.station.pk,
            "role": "manager",
        },
    )
    assert response.status_code == 302
    wang = User.objects.get(username="wang")
    assert wang.phone == "13812345678"
    assert RoleAssignment.objects.filter(user=wang, unit=world.station, role="manager").exists()
    listing = client.get("/staff/users/").content.decode()
    assert "138****5678" in listing and "13812345678" not in listing
    response = client.post(
        f"/staff/users/{wang.pk}/edit/", {"name": "王五", "phone": "", "is_active": ""}
    )
    assert response.status_code == 302
    wang.refresh_from_db()
    assert not wang.is_active
    # Managers have no account pages; another county's coordinator cannot see wang.
    assert browser_client(world.town_manager).get("/staff/users/").status_code == 403
    assert (
        browser_client(world.other_coordinator).get(f"/staff/users/{wang.pk}/edit/").status_code
        == 404
    )


def test_language_switch(world: World, client: Any) -> None:
    response = client.get("/i18n/setlang/", {"language": "en", "next": "/units/"})
    assert response.status_code == 302
    response = client.get("/units/")
    assert response["Content-Language"] == "en"
    client.get("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert client.get("/units/")["Content-Language"] == "zh-hans"


def test_pages_default_to_chinese_whatever_the_browser_says(world: World, client: Any) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "zh-hans"


def test_login_and_logout(world: World, client: Any) -> None:
    from tests.factories import PASSWORD

    response = client.post("/accounts/login/", {"username": "stationmgr", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/dashboard/").status_code == 302
    response = client.post("/accounts/login/", {"username": "stationmgr", "password": "wrong"})
    assert response.status_code == 200 and response.context["form"].errors


def test_repeated_failed_logins_lock_the_account_out(world: World, client: Any, api: Any) -> None:
    from tests.factories import PASSWORD

    for _ in range(4):
        response = client.post("/accounts/login/", {"username": "stationmgr", "password": "nope"})
        assert response.status_code == 200
    fifth = client.post("/accounts/login/", {"username": "stationmgr", "password": "nope"})
    assert fifth.status_code == 429
    assert "15" in fifth.content.decode()  # says how long to wait
    locked = client.post("/accounts/login/", {"username": "stationmgr", "password": PASSWORD})
    assert locked.status_code == 429
    assert client.get("/dashboard/").status_code == 302  # the right password did not get in
    token = api().post(
        "/api/v1/auth/token/", {"username": "stationmgr", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 429
    assert token.json()["code"] == "locked_out"
    # Another account from the same address is not affected.
    ok = client.post("/accounts/login/", {"username": "townmgr", "password": PASSWORD})
    assert ok.status_code == 302


def test_dashboard_shows_recent_changes_in_scope_only(
    world: World, browser_client: Any, django_assert_max_num_queries: Any
) -> None:
    services.unit_update(actor=world.coordinator, unit=world.station, data={"address": "一村"})
    services.unit_update(
        actor=world.other_coordinator, unit=world.other_station, data={"address": "乙村"}
    )
    client = browser_client(world.town_manager)
    with django_assert_max_num_queries(6):
        response = client.get("/dashboard/")
    assert [e.unit for e in response.context["audit"]] == [world.station]


def test_unit_qr_code_points_at_the_public_page(world: World, client: Any) -> None:
    from practice.qr import qr_svg

    response = client.get(f"/units/{world.station.pk}/qr.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content == qr_svg(f"http://testserver/units/{world.station.pk}/")
    assert response.content != qr_svg(f"http://testserver/units/{world.station2.pk}/")
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    assert client.get(f"/units/{world.point.pk}/qr.svg").status_code == 404


def test_unit_poster_is_printable(world: World, client: Any) -> None:
    from practice.qr import qr_svg

    services.unit_update(
        actor=world.coordinator,
        unit=world.station,
        data={"address": "一村 8 号", "contact_phone": "0596-7001234"},
    )
    response = client.get(f"/units/{world.station.pk}/poster/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "一村站" in html and "一村 8 号" in html and "0596-7001234" in html
    # The QR code (inline) leads to the station's order page.
    assert qr_svg(f"http://testserver/units/{world.station.pk}/order/").decode() in html
    assert (
        f'href="/units/{world.station.pk}/poster/"'
        in client.get(f"/units/{world.station.pk}/").content.decode()
    )


def test_staff_change_their_own_password(world: World, client: Any) -> None:
    from tests.factories import PASSWORD

    client.force_login(world.station_manager)
    weak = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"},
    )
    assert weak.status_code == 200 and weak.context["form"].errors
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "station-2027-new",
            "new_password2": "station-2027-new",
        },
    )
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200  # still logged in
    world.station_manager.refresh_from_db()
    assert world.station_manager.check_password("station-2027-new")
    client.logout()
    assert client.get("/accounts/password/").status_code == 302
