"""The public read paths stay flat as the database grows (issue 6): the same queries from 5
to 500 top-level trees, a bounded tree page at 3,000, one pass over the ordered units."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.paginator import EmptyPage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.pagination import BoundedPaginator, bounded_count
from practice import selectors, services
from practice.choices import Role, UnitKind
from practice.models import RoleAssignment, Unit, User
from practice.views import HOME_ROOTS, SEARCH_PER_PAGE, TREE_ROOTS_PER_PAGE
from tests.conftest import World
from tests.factories import PASSWORD
from tests.practice.forest import add_counties
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

BADGE = re.compile(r'class="badge rounded-pill kind-badge kind-(\w+)"')


@pytest.fixture(autouse=True)
def _no_cached_pages() -> None:
    cache.clear()


def _pages(station: Unit) -> list[str]:
    return [
        "/",
        "/units/",
        "/units/?page=2",
        f"/units/?within={station.parent_id}",
        "/units/?q=村1站",
        f"/units/{station.pk}/",
        "/api/v1/units/?page_size=100",
        "/api/v1/units/?kind=station&page_size=100",
        "/api/v1/units/?q=镇1&page_size=100",
    ]


def test_queries_do_not_grow_from_5_to_500_top_level_trees(client: Any) -> None:
    add_counties(5)
    station = Unit.objects.filter(kind=UnitKind.STATION).order_by("tree_id", "lft").first()
    assert station is not None
    coordinator = User.objects.create_user("coordinator", password=PASSWORD)
    RoleAssignment.objects.create(user=coordinator, unit=station.get_root(), role=Role.COORDINATOR)
    staff = type(client)()
    staff.force_login(coordinator)

    def measure() -> dict[str, int]:
        counts = {url: len(queries_of(client, url)) for url in _pages(station)}
        counts |= {f"staff {url}": len(queries_of(staff, url)) for url in _pages(station)}
        return counts

    small = measure()
    add_counties(495, start=5)
    assert Unit.objects.filter(level=0).count() == 500
    assert measure() == small
    # What each costs, for the record (anonymous): the count of the top-level units (capped)
    # and the units of a page of them; the home page's roots, their figures, the categories,
    # and the whole network's volunteers, teams and hours (once per write, then cached).
    assert small["/units/"] == 2
    assert small["/"] == 8


def test_tree_page_with_3000_top_level_trees_is_one_bounded_page(client: Any) -> None:
    add_counties(3000, towns=1, stations=0)
    response = client.get("/units/")
    html = response.content.decode()
    # Many trees: the page lists 50 tops, each opening on its own page, nothing below them.
    kinds = BADGE.findall(html)
    assert kinds.count("centre") == TREE_ROOTS_PER_PAGE
    assert len(kinds) == TREE_ROOTS_PER_PAGE
    first = Unit.objects.get(name="县00000中心")
    assert f'href="/units/?within={first.pk}"' in html
    assert "县00000中心" in html and f"县{TREE_ROOTS_PER_PAGE:05d}中心" not in html
    assert 'href="?page=2"' in html and 'id="tree-pages"' in html
    assert response.context["page"].paginator.num_pages == 3000 // TREE_ROOTS_PER_PAGE
    # The last page, and a page past the end shows the last one.
    for url in ("/units/?page=60", "/units/?page=999"):
        html = client.get(url).content.decode()
        assert "县02999中心" in html and "县02949中心" not in html
        assert len(BADGE.findall(html)) == TREE_ROOTS_PER_PAGE


class _Nesting(HTMLParser):
    """The unit links of a tree page, each with the unit link of its enclosing ``<li>``'s
    parent ``<li>`` (None at the top level)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[list[str | None]] = []  # open <li>s: [their own unit id]
        self.parents: dict[str, str | None] = {}
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "ul" and dict(attrs).get("id") == "unit-tree":
            self.inside = True
        if not self.inside:
            return
        if tag == "li":
            self.stack.append([None])
        href = dict(attrs).get("href") or ""
        found = re.fullmatch(r"/units/(\d+)/", href)
        if tag == "a" and found and self.stack and self.stack[-1][0] is None:
            self.stack[-1][0] = found.group(1)
            above = self.stack[-2][0] if len(self.stack) > 1 else None
            self.parents[found.group(1)] = above

    def handle_endtag(self, tag: str) -> None:
        if self.inside and tag == "li":
            self.stack.pop()
        if self.inside and tag == "ul" and not self.stack:
            self.inside = False


def test_tree_page_nests_each_unit_in_its_parent(world: World, client: Any) -> None:
    client.force_login(world.superuser)
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    for url in ("/units/", f"/units/?within={world.centre.pk}", f"/units/?within={world.town.pk}"):
        parser = _Nesting()
        parser.feed(client.get(url).content.decode())
        assert parser.parents, url
        assert not parser.stack, f"{url}: unbalanced lists"
        units = Unit.objects.in_bulk([int(pk) for pk in parser.parents])
        top = min(unit.level for unit in units.values())
        for pk, parent in parser.parents.items():
            unit = units[int(pk)]
            if unit.level == top:
                assert parent is None, url
            else:
                assert parent == str(unit.parent_id), (url, unit.name)


def test_tree_page_keeps_counts_badges_and_the_staff_figure(world: World, client: Any) -> None:
    services.unit_set_active(actor=world.coordinator, unit=world.point, active=False)
    html = client.get(f"/units/?within={world.town.pk}").content.decode()
    assert "一村站" in html and "一村点" not in html and "inactive" not in html.lower()
    client.force_login(world.station_manager)
    html = client.get(f"/units/?within={world.town.pk}").content.decode()
    assert "一村点" in html
    assert "（1个已停用）" in html
    assert "<details open>" in html and 'kind-badge kind-station"' in html


def test_rendering_never_asks_mptt_for_children(world: World, client: Any) -> None:
    client.force_login(world.superuser)
    with (
        mock.patch.object(Unit, "get_children", side_effect=AssertionError("get_children")),
        mock.patch.object(Unit, "get_descendants", side_effect=AssertionError("descendants")),
    ):
        for url in ("/units/", f"/units/?within={world.centre.pk}", "/"):
            assert client.get(url).status_code == 200


def test_tree_rows_open_and_close_every_list_once() -> None:
    add_counties(2, towns=2, stations=1)
    nodes = selectors.unit_subtree(None, top=None, depth=9, trees=[1, 2])
    rows, closing = selectors.tree_rows(nodes, open_below=1)
    opened = sum(row.has_children for row in rows)
    assert opened == 2 * (1 + 2)  # each centre and its two towns
    assert sum(len(row.closes) for row in rows) + len(closing) == opened
    assert [row.is_open for row in rows[:2]] == [True, False]
    assert selectors.tree_rows([], open_below=1) == ([], range(0))


def test_home_lists_a_bounded_number_of_trees(client: Any) -> None:
    add_counties(HOME_ROOTS + 5, towns=1, stations=3)
    response = client.get("/")
    html = response.content.decode()
    assert len(response.context["roots"]) == HOME_ROOTS
    assert response.context["more_roots"] is True
    # The figures are the whole network's; the chart shows the trees listed, and says so.
    assert response.context["counts"][UnitKind.CENTRE] == HOME_ROOTS + 5
    assert response.context["counts"][UnitKind.STATION] == 3 * (HOME_ROOTS + 5)
    assert 'id="counts-scope"' in html
    assert [item["stations"] for item in response.context["chart"]] == [3] * HOME_ROOTS


def test_the_whole_networks_figures_are_counted_once_per_write(
    client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    add_counties(3, towns=1, stations=2)
    cache.clear()
    assert client.get("/").context["counts"][UnitKind.STATION] == 6
    # Another page address (a page-cache miss) reads the figures from the cache.
    with CaptureQueriesContext(connection) as counted:
        assert client.get("/?from=qr").context["counts"][UnitKind.STATION] == 6
    by_kind = 'GROUP BY "practice_unit"."kind"'
    assert not [q for q in counted.captured_queries if by_kind in q["sql"]]
    # A write bumps the network version when it commits: the figures are counted again.
    admin = User.objects.create_superuser(username="figures", password="x-Unused-pass-1")
    town = Unit.objects.filter(kind=UnitKind.INSTITUTE).first()
    with django_capture_on_commit_callbacks(execute=True):
        services.unit_create(actor=admin, parent=town, name="新村站", kind=UnitKind.STATION)
    assert client.get("/?from=qr").context["counts"][UnitKind.STATION] == 7


def test_home_of_a_few_trees_shows_the_whole_network(world: World, client: Any) -> None:
    response = client.get("/")
    assert response.context["more_roots"] is False
    assert 'id="counts-scope"' not in response.content.decode()


def test_search_results_are_paged(client: Any) -> None:
    add_counties(SEARCH_PER_PAGE + 10, towns=1, stations=1)
    first = client.get("/units/?q=村0站")
    assert len(first.context["results"]) == SEARCH_PER_PAGE
    html = first.content.decode()
    assert 'id="search-pages"' in html and "q=%E6%9D%910%E7%AB%99&amp;page=2" in html
    second = client.get("/units/?q=村0站&page=2")
    assert len(second.context["results"]) == 10
    assert second.context["results"][0].name == f"县{SEARCH_PER_PAGE:05d}镇0村0站"


def test_api_list_count_and_links(client: Any) -> None:
    add_counties(3, towns=1, stations=1)
    body = client.get("/api/v1/units/?page_size=4").json()
    assert body["count"] == 9 and len(body["results"]) == 4
    assert body["next"].endswith("page=2&page_size=4") and body["previous"] is None
    last = client.get("/api/v1/units/?page_size=4&page=3").json()
    assert len(last["results"]) == 1 and last["next"] is None
    assert client.get("/api/v1/units/?page_size=4&page=4").status_code == 404


def test_bounded_count_reads_at_most_its_limit(django_assert_num_queries: Any) -> None:
    add_counties(3, towns=1, stations=1)
    with django_assert_num_queries(1) as captured:
        assert bounded_count(Unit.objects.all(), limit=100) == (9, True)
    assert "LIMIT 101" in captured.captured_queries[0]["sql"]
    # Over the limit, SQLite (no planner estimate) counts exactly; PostgreSQL estimates
    # (tests/practice/test_read_paths_pg.py).
    if connection.vendor != "postgresql":
        assert bounded_count(Unit.objects.all(), limit=4) == (9, True)


class _Estimating(BoundedPaginator):
    count_limit = 4


def test_an_estimated_count_never_cuts_a_list_short(db: Any) -> None:
    """With an estimate below the truth, ``next`` still leads to every row."""
    add_counties(3, towns=1, stations=1)
    units = Unit.objects.order_by("tree_id", "lft")
    with mock.patch("portal.pagination._estimate", return_value=5):
        paginator = _Estimating(units, 2)
        assert (paginator.count, paginator.count_is_exact) == (5, False)
        seen: list[Unit] = []
        number = 1
        while True:
            page = paginator.page(number)
            seen.extend(page.object_list)
            if not page.has_next():
                break
            number = page.next_page_number()
        assert seen == list(units)
        assert number == 5 and paginator.num_pages == 3
        with pytest.raises(EmptyPage):
            paginator.page(6)
