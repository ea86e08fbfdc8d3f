"""Excel import and export of units: the sheet format, pages and API, every refusal.

Workbooks are built in memory with openpyxl. Messages are checked in the language each
channel speaks: pages in Chinese (the default), the API in English (Accept-Language).
"""

import zipfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from io import BytesIO
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from practice import permissions, services, tree
from practice.choices import AuditAction, Role, UnitKind
from practice.models import AuditEntry, Unit, User
from practice.permissions import Action
from practice.tree import NodeSpec
from tests.conftest import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogs")]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZH_HEADERS = [
    "上级单位",
    "名称",
    "类型",
    "行政区划代码",
    "地址",
    "联系人",
    "联系电话",
    "开放时间",
    "纬度",
    "经度",
]
EN_HEADERS = [
    "Parent",
    "Name",
    "Kind",
    "Division code",
    "Address",
    "Contact person",
    "Contact phone",
    "Opening hours",
    "Latitude",
    "Longitude",
]


def _labels(language: str) -> tuple[str, str, str, str]:
    """The ID and status headers and the two statuses, as the catalogs say them."""
    with translation.override(language):
        return (
            translation.pgettext("spreadsheet column", "ID"),
            translation.pgettext("spreadsheet column", "Status"),
            translation.pgettext("unit status", "Active"),
            translation.pgettext("unit status", "Inactive"),
        )


ZH_ID, ZH_STATUS, ZH_ACTIVE, ZH_INACTIVE = _labels("zh-hans")
EN_ID, EN_STATUS, EN_ACTIVE, EN_INACTIVE = _labels("en")
# What an export writes: the ID first, the status last.
ZH_EXPORT = [ZH_ID, *ZH_HEADERS, ZH_STATUS]
EN_EXPORT = [EN_ID, *EN_HEADERS, EN_STATUS]
FIELDS = [
    "division_code",
    "address",
    "contact_name",
    "contact_phone",
    "opening_hours",
    "latitude",
    "longitude",
]
Api = Callable[..., APIClient]


# --- helpers -----------------------------------------------------------------------------


def xlsx(*rows: Sequence[Any], headers: Sequence[Any] | None = ZH_HEADERS) -> bytes:
    """A workbook whose first sheet holds ``headers`` (if any) and then ``rows``."""
    workbook = Workbook()
    sheet = workbook.active
    if headers is not None:
        sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_values(content: bytes) -> list[tuple[Any, ...]]:
    sheet = load_workbook(BytesIO(content)).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def upload(content: bytes, name: str = "units.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=XLSX)


def import_url(unit: Unit) -> str:
    return reverse("unit-import", args=[unit.pk])


def api_import_url(unit: Unit) -> str:
    return f"/api/v1/units/{unit.pk}/import/"


def api_export_url(unit: Unit) -> str:
    return f"/api/v1/units/{unit.pk}/export/"


@pytest.fixture
def api(api_en: Api) -> Api:
    """This module reads API messages in English (see ``tests/practice/conftest.py``)."""
    return api_en


def post_api(client: APIClient, unit: Unit, content: bytes, name: str = "units.xlsx") -> Any:
    return client.post(api_import_url(unit), {"file": upload(content, name)}, format="multipart")


def zh(message: str, **values: Any) -> str:
    """``message`` as the pages say it (Chinese), with ``values`` filled in."""
    with translation.override("zh-hans"):
        text = translation.gettext(message)
    return text % values if values else text


def shape(unit: Unit) -> list[tuple[Any, ...]]:
    """Every unit below ``unit``: its path from ``unit`` down, kind and fields, in tree order."""
    unit.refresh_from_db()
    below = list(Unit.objects.within(unit, include_self=False).order_by("lft"))
    names = {u.pk: u.name for u in below}
    parents = {u.pk: u.parent_id for u in below}

    def path(pk: int) -> tuple[str, ...]:
        return (*path(parents[pk]), names[pk]) if pk in names else ()

    return [(path(u.pk), u.kind, *(getattr(u, f) for f in FIELDS)) for u in below]


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code, body
    assert body["message"]
    return body


def fill_in(unit: Unit, **fields: Any) -> None:
    Unit.objects.filter(pk=unit.pk).update(**fields)


def without_ids(content: bytes) -> bytes:
    """An export with its ID column emptied: a copy of the units, to import elsewhere."""
    workbook = load_workbook(BytesIO(content))
    for (cell,) in workbook.worksheets[0].iter_rows(min_row=2, max_col=1):
        cell.value = None
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def import_through_pages(client: Any, unit: Unit, content: bytes) -> Any:
    """Upload on the import page, then confirm the preview; the final page's response."""
    preview = client.post(import_url(unit), {"file": upload(content)}, follow=True)
    assert preview.status_code == 200, preview.content[:2000]
    job = preview.context["job"]
    assert preview.redirect_chain == [(f"/units/{unit.pk}/import/{job.pk}/", 302)]
    return client.post(reverse("unit-import-confirm", args=[unit.pk, job.pk]), follow=True)


# --- export ------------------------------------------------------------------------------


def test_export_page_downloads_the_units_below_in_tree_order(
    world: World, browser_client: Any
) -> None:
    fill_in(
        world.station,
        division_code="350627100201",
        address="一村 1 号",
        contact_name="林文明",
        contact_phone="0596-7812345",
        opening_hours="周一至周五 8:30-17:30",
        latitude=Decimal("24.514900"),
        longitude=Decimal("117.357100"),
    )
    response = browser_client(world.town_manager).get(reverse("unit-export", args=[world.town.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="units-{world.town.pk}-')
    assert f"filename*=UTF-8''{quote('一镇所')}-" in disposition
    assert disposition.endswith(".xlsx")
    rows = sheet_values(response.content)
    assert rows[0] == tuple(ZH_EXPORT)
    assert rows[1:] == [
        (
            world.station.pk,
            None,
            "一村站",
            "实践站",
            "350627100201",
            "一村 1 号",
            "林文明",
            "0596-7812345",
            "周一至周五 8:30-17:30",
            24.5149,
            117.3571,
            ZH_ACTIVE,
        ),
        (world.point.pk, "一村站", "一村点", "实践点", *[None] * 7, ZH_ACTIVE),
        (world.station2.pk, None, "二村站", "实践站", *[None] * 7, ZH_ACTIVE),
    ]


def test_export_speaks_the_users_language(world: World, browser_client: Any) -> None:
    client = browser_client(world.coordinator)
    client.cookies["django_language"] = "en"
    response = client.get(reverse("unit-export", args=[world.town2.pk]))
    assert sheet_values(response.content) == [
        tuple(EN_EXPORT),
        (world.station3.pk, None, "三村站", "Practice station", *[None] * 7, EN_ACTIVE),
    ]


def test_export_includes_inactive_units_marked(world: World, browser_client: Any) -> None:
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    response = browser_client(world.coordinator).get(reverse("unit-export", args=[world.town.pk]))
    assert [(row[2], row[-1]) for row in sheet_values(response.content)[1:]] == [
        ("一村站", ZH_ACTIVE),
        ("一村点", ZH_INACTIVE),
        ("二村站", ZH_ACTIVE),
    ]


def test_api_export_is_the_same_workbook_whatever_the_client_accepts(
    world: World, api: Api
) -> None:
    client = api(world.coordinator)
    for accept in ("*/*", XLSX, "application/json"):
        response = client.get(api_export_url(world.town), HTTP_ACCEPT=accept)
        assert response.status_code == 200, (accept, response.content)
        assert response["Content-Type"] == XLSX
        assert "filename*=UTF-8''" in response["Content-Disposition"]
        assert [row[2] for row in sheet_values(response.content)] == [
            "Name",
            "一村站",
            "一村点",
            "二村站",
        ]


def test_blank_template_has_the_headers_only(world: World, browser_client: Any) -> None:
    url = reverse("unit-import-template")
    anonymous = browser_client(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    response = browser_client(world.station_manager).get(url)
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    with translation.override("zh-hans"):
        name = translation.pgettext("file name", "units-template")
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"units-template.xlsx\"; filename*=UTF-8''{quote(name)}.xlsx"
    )
    assert sheet_values(response.content) == [tuple(ZH_EXPORT)]


def _county(admin: User, *, towns: int, stations: int) -> Unit:
    spec = NodeSpec(
        {"name": "大县中心", "kind": UnitKind.CENTRE},
        [
            NodeSpec(
                {"name": f"镇{t:02d}", "kind": UnitKind.INSTITUTE},
                [
                    NodeSpec({"name": f"镇{t:02d}村{s:03d}", "kind": UnitKind.STATION})
                    for s in range(stations)
                ],
            )
            for t in range(towns)
        ],
    )
    return services.unit_import_tree(actor=admin, parent=None, spec=spec)[0]


def test_export_costs_the_same_queries_for_5_and_200_units(
    db: Any, client: Any, django_assert_num_queries: Any
) -> None:
    admin = User.objects.create_superuser("admin", password="x-long-password-1")
    centre = _county(admin, towns=1, stations=3)
    coordinator = User.objects.create_user("coordinator", password="x-long-password-1")
    services.role_grant(actor=admin, user=coordinator, unit=centre, role=Role.COORDINATOR)
    client.force_login(coordinator)
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=coordinator)}")

    def export_both(units: int) -> None:
        # Page: session, user, grants, the unit, the rows. API: token and user, grants, the
        # unit, the rows.
        with django_assert_num_queries(5):
            page = client.get(reverse("unit-export", args=[centre.pk]))
        with django_assert_num_queries(4):
            endpoint = token_client.get(api_export_url(centre))
        for response in (page, endpoint):
            assert response.status_code == 200
            assert len(sheet_values(response.content)) == 1 + units

    export_both(4)
    services.unit_import_tree(
        actor=admin,
        parent=centre,
        spec=NodeSpec(
            {"name": "新镇", "kind": UnitKind.INSTITUTE},
            [NodeSpec({"name": f"新村{i:03d}", "kind": UnitKind.STATION}) for i in range(195)],
        ),
    )
    assert Unit.objects.count() == 201
    export_both(200)


# --- import: round trips -----------------------------------------------------------------


def test_round_trip_through_the_pages(world: World, browser_client: Any) -> None:
    fill_in(
        world.point,
        address="一村文化礼堂",
        contact_phone="13812345678",
        latitude=Decimal("-24.000001"),
        longitude=Decimal("180.000000"),
    )
    fill_in(world.station2, division_code="350627100202", opening_hours="全天")
    client = browser_client(world.coordinator)
    content = client.get(reverse("unit-export", args=[world.town.pk])).content
    response = import_through_pages(client, world.town2, without_ids(content))
    assert response.context["job"].status == "done"
    assert response.context["job"].result["created"] == 3
    copied = [row for row in shape(world.town2) if row[0][0] != "三村站"]
    assert copied == shape(world.town)
    assert tree.tree_problems(world.centre.tree_id) == []
    entry = AuditEntry.objects.get(action=AuditAction.UNIT_IMPORTED)
    assert (entry.unit, entry.actor, entry.changes) == (
        world.town2,
        world.coordinator,
        {"created": 3, "changed": 0, "unchanged": 0},
    )


def test_round_trip_of_a_county_through_the_api(world: World, api: Api) -> None:
    fill_in(world.town, division_code="350627100", contact_name="陈建华")
    client = api(world.superuser)
    content = without_ids(client.get(api_export_url(world.centre)).content)
    response = post_api(client, world.other_centre, content)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] == 6
    tops = list(Unit.objects.filter(parent=world.other_centre).exclude(name="乙镇所"))
    assert body["units"] == [u.pk for u in sorted(tops, key=lambda u: u.lft)]
    assert [row for row in shape(world.other_centre) if row[0][0] != "乙镇所"] == shape(
        world.centre
    )
    assert tree.tree_problems(world.other_centre.tree_id) == []
    assert tree.tree_problems(world.centre.tree_id) == []


def test_units_of_the_same_name_in_different_places_keep_their_own_children(
    world: World, api: Api
) -> None:
    for town, point in ((world.town, "甲点"), (world.town2, "乙点")):
        station = services.unit_create(
            actor=world.superuser, parent=town, name="东村站", kind=UnitKind.STATION
        )
        services.unit_create(actor=world.superuser, parent=station, name=point, kind=UnitKind.POINT)
    client = api(world.superuser)
    content = without_ids(client.get(api_export_url(world.centre)).content)
    assert post_api(client, world.other_centre, content).status_code == 201
    copied = Unit.objects.filter(tree_id=world.other_centre.tree_id, name="东村站")
    assert sorted((s.parent.name, s.get_children().get().name) for s in copied) == [
        ("一镇所", "甲点"),
        ("二镇所", "乙点"),
    ]


def test_import_reads_sheets_as_county_offices_write_them(world: World, api: Api) -> None:
    """A title above the headers, English or Chinese headers in any order, extra columns,
    empty rows, kinds as labels or codes, codes and phones typed as numbers."""
    content = xlsx(
        ["南靖县新时代文明实践站点一览表"],
        [],
        ["序号", "Name", "kind", "上级单位", "Division  code", "联系电话", "Latitude", "备注"],
        [1, "四村站", "实践站", None, 350627100204, 13812345678, 24.51491234, "新建"],
        [2, "四村点", "Practice point", "四村站", None, None, None, None],
        [3, None, None, None, None, None, None, "(空行)"],
        [],
        [4, "五村站", "STATION", "", "350627100205", "0596-7812345", "24.5", None],
        headers=None,
    )
    response = post_api(api(world.town_manager), world.town, content)
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 3
    four = Unit.objects.get(name="四村站")
    assert (four.parent, four.kind, four.division_code, four.contact_phone, four.latitude) == (
        world.town,
        UnitKind.STATION,
        "350627100204",
        "13812345678",
        Decimal("24.514912"),
    )
    assert Unit.objects.get(name="四村点").parent == four
    assert Unit.objects.get(name="五村站").kind == UnitKind.STATION


def test_import_accepts_kinds_written_in_full(world: World, api: Api) -> None:
    content = xlsx(
        (None, "六村站", "新时代文明实践站", *[None] * 7),
        ("六村站", "六村点", "新时代文明实践点", *[None] * 7),
    )
    response = post_api(api(world.town_manager), world.town, content)
    assert response.status_code == 201, response.content
    assert Unit.objects.get(name="六村站").kind == UnitKind.STATION
    assert Unit.objects.get(name="六村点").kind == UnitKind.POINT


# --- import: refusals --------------------------------------------------------------------


def many_rows(count: int) -> bytes:
    return xlsx(*[(None, f"村{i:05d}站", "实践站") for i in range(count)])


def with_entity() -> bytes:
    """A workbook whose sheet declares an XML entity (the seed of a "billion laughs")."""
    source = zipfile.ZipFile(BytesIO(xlsx([None, "四村站", "实践站"])))
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b"<worksheet", b'<!DOCTYPE worksheet [<!ENTITY a "aaaa">]><worksheet', 1
                )
            archive.writestr(info, data)
    return out.getvalue()


# (id, file content, status, code, message fragments — in English — or None for the row list)
FILE_REFUSALS = [
    ("not an xlsx", b"name,kind\n\xe5\x9b\x9b,station\n", "not an Excel workbook (.xlsx)"),
    ("old xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "old-format Excel file (.xls)"),
    ("zip, not a workbook", b"PK\x05\x06" + b"\0" * 18, "not an Excel workbook (.xlsx)"),
    ("an XML entity", with_entity(), "not an Excel workbook (.xlsx)"),
    ("empty sheet", xlsx(headers=None), "The sheet is empty."),
    ("headers only", xlsx(), "no units below them"),
    (
        "no name column",
        xlsx(["", "一镇所", "实践站"], headers=["上级单位", "单位", "类型"]),
        "The column “Name” is missing.",
    ),
    (
        "no kind column",
        xlsx(["", "四村站"], headers=["上级单位", "名称"]),
        "The column “Kind” is missing.",
    ),
    (
        "no headers at all",
        xlsx(["一", "二"], ["三", "四"], headers=None),
        "No column headers found",
    ),
    (
        "a column twice",
        xlsx(["四村站", "五村站", "实践站"], headers=["名称", "Name", "类型"]),
        "The column “Name” appears twice.",
    ),
    ("too many rows", many_rows(5_001), "more than 5000 units"),
]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [case[1:] for case in FILE_REFUSALS],
    ids=[case[0] for case in FILE_REFUSALS],
)
def test_api_refuses_a_file_that_is_not_a_sheet_of_units(
    world: World, api: Api, content: bytes, fragment: str
) -> None:
    before = Unit.objects.count()
    body = error(post_api(api(world.town_manager), world.town, content), 400, "invalid_file")
    assert fragment in body["message"]
    assert body["detail"] == {"file": [body["message"]]}
    assert Unit.objects.count() == before
    assert not AuditEntry.objects.exists()


def test_a_sheet_of_5000_units_is_accepted(world: World, api: Api) -> None:
    response = post_api(api(world.town_manager), world.town, many_rows(5_000))
    assert response.status_code == 201, response.content[:500]
    assert response.json()["created"] == 5_000
    assert tree.tree_problems(world.town.tree_id) == []


# (id, rows under 一镇所 (an institute with 一村站 ── 一村点 and 二村站), expected problems)
ROW_REFUSALS: list[tuple[str, list[list[Any]], list[str]]] = [
    (
        "unknown kind",
        [[None, "四村站", "村委会"]],
        ["Row 2: Unknown kind “村委会”; the kind must be one of: "],
    ),
    ("no kind", [[None, "四村站", None]], ["Row 2: kind: This field cannot be blank."]),
    ("no name", [[None, None, "实践站"]], ["Row 2: name: This field cannot be blank."]),
    (
        "parent defined later",
        [["五村站", "五村点", "实践点"], [None, "五村站", "实践站"]],
        ["Row 2: The parent unit “五村站” is not defined in an earlier row"],
    ),
    (
        "parent not in the sheet",
        [["一村站", "新点", "实践点"]],
        ["Row 2: The parent unit “一村站” is not defined in an earlier row (leave it empty for"],
    ),
    (
        "siblings of the same name",
        [[None, "四村站", "实践站"], [None, "四村站", "实践点"]],
        ["Row 3: Two sub-units of “一镇所” are both called “四村站”."],
    ),
    (
        "siblings of the same name deeper down",
        [[None, "四村站", "实践站"], ["四村站", "点", "实践点"], ["四村站", "点", "实践点"]],
        ["Row 4: Two sub-units of “四村站” are both called “点”."],
    ),
    (
        "a name taken under the target",
        [[None, "二村站", "实践站"]],
        ["Row 2: A unit called “二村站” already exists under “一镇所”."],
    ),
    (
        "wrong kind under the target",
        [[None, "新所", "实践所"]],
        ["Row 2: A Practice institute cannot be placed under a Practice institute;"],
    ),
    (
        "wrong kind under a row",
        [[None, "四村点", "实践点"], ["四村点", "四村站", "实践站"]],
        ["Row 3: A Practice station cannot be placed under a Practice point;"],
    ),
    (
        "division code",
        [[None, "四村站", "实践站", "35062"]],
        ["Row 2: division code: "],
    ),
    (
        "phone",
        [[None, "四村站", "实践站", None, None, None, "电话"]],
        ["Row 2: contact phone: "],
    ),
    (
        "latitude out of range",
        [[None, "四村站", "实践站", *[None] * 5, 95]],
        ["Row 2: latitude: "],
    ),
    (
        "longitude not a number",
        [[None, "四村站", "实践站", *[None] * 6, "东经117度"]],
        ["Row 2: longitude: "],
    ),
    (
        "several problems, listed by row",
        [
            [None, "四村站", "实践站", "1"],
            [None, "四村站", "实践站"],
            ["无此站", "点", "实践点"],
            [None, "五村站", "站"],
        ],
        [
            "Row 2: division code: ",
            "Row 3: Two sub-units of “一镇所” are both called “四村站”.",
            "Row 4: The parent unit “无此站” is not defined",
            "Row 5: Unknown kind “站”",
        ],
    ),
]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [case[1:] for case in ROW_REFUSALS],
    ids=[case[0] for case in ROW_REFUSALS],
)
def test_api_refuses_the_whole_file_for_any_bad_row(
    world: World, api: Api, rows: list[list[Any]], expected: list[str]
) -> None:
    good = [[None, "九村站", "实践站"], ["九村站", "九村点", "实践点"]]
    before = Unit.objects.count()
    response = post_api(api(world.town_manager), world.town, xlsx(*rows, *good))
    body = error(response, 400, "invalid_import")
    problems = body["detail"]["non_field_errors"]
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), (problem, start)
    if len(expected) == 1:
        assert body["message"] == problems[0]
    else:
        assert body["message"] == f"The import was rejected: {len(expected)} problems."
    assert Unit.objects.count() == before
    assert not Unit.objects.filter(name="九村站").exists()
    assert not AuditEntry.objects.exists()


def test_api_refuses_a_file_over_5_mb_with_413(world: World, api: Api) -> None:
    client = api(world.town_manager)
    just_over = b"x" * (5 * 1024 * 1024 + 1)
    body = error(post_api(client, world.town, just_over), 413, "file_too_large")
    assert body["message"] == "The file is larger than 5 MB; split it into several files."
    assert body["detail"] == {"file": [body["message"]]}
    # A body far over the limit is refused from its Content-Length.
    error(post_api(client, world.town, b"x" * (6 * 1024 * 1024)), 413, "file_too_large")


def test_api_import_needs_a_multipart_file(world: World, api: Api) -> None:
    client = api(world.town_manager)
    body = error(client.post(api_import_url(world.town), {}, format="multipart"), 400, "invalid")
    assert list(body["detail"]) == ["file"]
    error(
        client.post(api_import_url(world.town), {"file": "x"}, format="json"),
        415,
        "unsupported_media_type",
    )


def test_import_under_an_inactive_unit_is_refused(
    world: World, api: Api, browser_client: Any
) -> None:
    services.unit_set_active(actor=world.coordinator, unit=world.station3, active=False)
    content = xlsx([None, "新点", "实践点"])
    error(post_api(api(world.coordinator), world.station3, content), 400, "parent_inactive")
    response = browser_client(world.coordinator).post(
        import_url(world.station3), {"file": upload(content)}
    )
    assert response.status_code == 200
    assert response.context["rejected"].code == "parent_inactive"
    assert not Unit.objects.filter(name="新点").exists()


# --- the import page ---------------------------------------------------------------------


def test_import_page_explains_the_sheet(world: World, browser_client: Any) -> None:
    response = browser_client(world.town_manager).get(import_url(world.town))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html
    assert reverse("unit-import-template") in html
    assert reverse("unit-export", args=[world.town.pk]) in html
    for header in ZH_HEADERS:
        assert f">{header}" in html
    assert "Practice station" in html  # the other language's names are accepted too


def test_import_page_previews_then_creates_the_units_and_says_how_many(
    world: World, browser_client: Any
) -> None:
    content = xlsx([None, "四村站", "实践站"], ["四村站", "四村点", "实践点"])
    client = browser_client(world.town_manager)
    preview = client.post(import_url(world.town), {"file": upload(content)}, follow=True)
    html = preview.content.decode()
    assert "一镇所" in html and "四村站 / 四村点" in html.split('id="import-created"')[1]
    assert not Unit.objects.filter(name="四村站").exists()  # nothing before the confirmation
    job = preview.context["job"]
    done = client.post(reverse("unit-import-confirm", args=[world.town.pk, job.pk]), follow=True)
    assert done.redirect_chain == [(f"/units/{world.town.pk}/import/{job.pk}/", 302)]
    assert 'id="import-done"' in done.content.decode()
    assert done.context["job"].result == {
        "created": 2,
        "units": [Unit.objects.get(name="四村站").pk],
        "changed": 0,
        "changed_units": [],
        "unchanged": 0,
    }
    assert Unit.objects.get(name="四村点").parent == Unit.objects.get(name="四村站")
    entry = AuditEntry.objects.get(action=AuditAction.UNIT_IMPORTED)
    assert (entry.unit, entry.object_repr, entry.actor, entry.changes) == (
        world.town,
        "一镇所",
        world.town_manager,
        {"created": 2, "changed": 0, "unchanged": 0},
    )


def test_import_page_lists_every_problem_by_row_and_changes_nothing(
    world: World, browser_client: Any
) -> None:
    content = xlsx(
        [None, "四村站", "实践站", "1"], [None, "二村站", "实践站"], [None, "五村站", "村委"]
    )
    before = Unit.objects.count()
    response = browser_client(world.town_manager).post(
        import_url(world.town), {"file": upload(content)}
    )
    assert response.status_code == 200
    html = response.content.decode()
    problems = html.split('id="import-problems"')[1].split("</div>")[0]
    with translation.override("zh-hans"):
        rejected = translation.ngettext(
            "The import was rejected: %(count)d problem.",
            "The import was rejected: %(count)d problems.",
            3,
        ) % {"count": 3}
    assert rejected in problems
    items = [item.split("</li>")[0] for item in problems.split("<li>")[1:]]
    rows = [zh("Row %(row)d", row=row) for row in (2, 3, 4)]
    assert [item[: len(row)] for item, row in zip(items, rows, strict=True)] == rows
    assert "二村站" in items[1] and "村委" in items[2]
    assert zh("Nothing was imported. Correct the file and upload it again.") in problems
    assert Unit.objects.count() == before
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("content", "message", "values"),
    [
        (
            b"x" * (5 * 1024 * 1024 + 1),
            "The file is larger than %(max)d MB; split it into several files.",
            {"max": 5},
        ),
        (b"not a workbook", "This file is not an Excel workbook (.xlsx), or it is damaged.", {}),
        (xlsx(), "The sheet has column headers but no units below them.", {}),
    ],
    ids=["over 5 MB", "not an xlsx", "no rows"],
)
def test_import_page_shows_file_problems_on_the_form(
    world: World, browser_client: Any, content: bytes, message: str, values: dict[str, Any]
) -> None:
    response = browser_client(world.town_manager).post(
        import_url(world.town), {"file": upload(content)}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [zh(message, **values)]
    assert 'class="form-control is-invalid"' in response.content.decode()
    assert response.context["rejected"] is None
    assert not AuditEntry.objects.exists()


# --- permissions -------------------------------------------------------------------------

# Expected answers on 一村站 (a station): managers of it or above may view and add units.
EXPECTED = {
    "no_role": 404,
    "station_manager": 200,
    "town_manager": 200,
    "coordinator": 200,
    "other_coordinator": 404,
    "superuser": 200,
}


@pytest.mark.parametrize("page", ["unit-export", "unit-import"])
def test_page_permission_matrix(world: World, browser_client: Any, page: str) -> None:
    url = reverse(page, args=[world.station.pk])
    anonymous = browser_client(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    for who, status in EXPECTED.items():
        assert browser_client(getattr(world, who)).get(url).status_code == status, who


@pytest.mark.parametrize(("who", "status"), [(None, 401), *EXPECTED.items()])
def test_api_export_permission_matrix(world: World, api: Api, who: str | None, status: int) -> None:
    response = api(getattr(world, who) if who else None).get(api_export_url(world.station))
    assert response.status_code == status
    if status != 200:
        assert set(response.json()) == {"code", "message", "detail"}


@pytest.mark.parametrize(("who", "status"), [(None, 401), *EXPECTED.items()])
def test_api_import_permission_matrix(world: World, api: Api, who: str | None, status: int) -> None:
    response = post_api(
        api(getattr(world, who) if who else None), world.station, xlsx([None, "新点", "实践点"])
    )
    assert response.status_code == {200: 201}.get(status, status), response.content
    assert Unit.objects.filter(name="新点", parent=world.station).exists() == (status == 200)


@pytest.mark.parametrize("who", ["no_role", "other_coordinator"])
def test_page_import_outside_scope_creates_nothing(
    world: World, browser_client: Any, who: str
) -> None:
    response = browser_client(getattr(world, who)).post(
        import_url(world.station), {"file": upload(xlsx([None, "新点", "实践点"]))}
    )
    assert response.status_code == 404
    assert not Unit.objects.filter(name="新点").exists()


def test_a_role_that_may_view_but_not_add_units_is_refused_with_403(
    world: World, api: Api, browser_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        permissions.ROLE_ACTIONS, Role.MANAGER, frozenset({Action.VIEW, Action.CHANGE})
    )
    content = xlsx([None, "新点", "实践点"])
    client = browser_client(world.station_manager)
    assert client.get(import_url(world.station)).status_code == 403
    assert client.post(import_url(world.station), {"file": upload(content)}).status_code == 403
    assert client.get(reverse("unit-export", args=[world.station.pk])).status_code == 200
    error(post_api(api(world.station_manager), world.station, content), 403, "permission_denied")
    assert api(world.station_manager).get(api_export_url(world.station)).status_code == 200
    assert not Unit.objects.filter(name="新点").exists()
    # The coordinator's role is untouched.
    assert post_api(api(world.coordinator), world.station, content).status_code == 201


# --- the unit page's buttons -------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "unit", "export", "import_"),
    [
        (None, "station", False, False),
        ("no_role", "station", False, False),
        ("station_manager", "station", True, True),
        ("station_manager", "point", True, False),  # nothing goes under a point
        ("coordinator", "centre", True, True),
        ("other_coordinator", "station", False, False),
    ],
)
def test_unit_page_offers_export_and_import(
    world: World, browser_client: Any, who: str | None, unit: str, export: bool, import_: bool
) -> None:
    target = getattr(world, unit)
    html = (
        browser_client(getattr(world, who) if who else None)
        .get(reverse("unit-detail", args=[target.pk]))
        .content.decode()
    )
    actions = html.split('id="unit-actions"')[1].split("</div>")[0] if export else html
    assert (f'href="{reverse("unit-export", args=[target.pk])}"' in actions) == export
    assert (f'href="{reverse("unit-import", args=[target.pk])}"' in actions) == import_
