"""On a phone (390 px wide), the audit trail and the tree's figures stay readable: no
table squeezed to one Chinese character per line, no figure broken across lines, no
sideways scrolling of the page."""

from typing import Any

import pytest

from practice import services
from practice.choices import Role, UnitKind
from practice.tree import NodeSpec
from tests.conftest import World
from tests.factories import PASSWORD, RoleFactory

pytestmark = [pytest.mark.browser, pytest.mark.mobile, pytest.mark.django_db(transaction=True)]

# A cell narrower than this holds only a few Chinese characters a line.
MIN_CELL_WIDTH = 180


@pytest.fixture
def county(world: World) -> Any:
    """A county with the long names real units have, coordinated by ``coordinator``, with
    entries in its audit trail and an inactive station."""
    spec = {
        "name": "南靖县新时代文明实践中心",
        "kind": UnitKind.CENTRE,
        "children": [
            {
                "name": f"{town}镇新时代文明实践所",
                "kind": UnitKind.INSTITUTE,
                "children": [
                    {"name": f"{town}{village}村新时代文明实践站", "kind": UnitKind.STATION}
                    for village in ("大房", "下湖", "中兴", "下魏")
                ],
            }
            for town in ("山城", "丰田", "书洋")
        ],
    }
    nodes = services.unit_import_tree(
        actor=world.superuser, parent=None, spec=NodeSpec.from_mapping(spec)
    )
    RoleFactory(user=world.coordinator, unit=nodes[0], role=Role.COORDINATOR)
    stations = [n for n in nodes if n.kind == UnitKind.STATION]
    for station in stations[:3]:
        services.unit_update(
            actor=world.superuser,
            unit=station,
            data={"address": f"福建省漳州市南靖县{station.name}村委会旁", "contact_name": "王小明"},
        )
    services.unit_set_active(actor=world.superuser, unit=stations[-1], active=False)
    return nodes[0]


def _login(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "coord")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


def _cell_widths(page: Any, selector: str) -> list[float]:
    return page.eval_on_selector_all(
        selector, "cells => cells.map(c => c.getBoundingClientRect().width)"
    )


@pytest.mark.parametrize("path", ["/dashboard/", "/units/{county}/", "/audit/"])
def test_the_audit_table_is_readable_on_a_phone(
    county: Any, live_server: Any, page: Any, path: str
) -> None:
    _login(page, live_server.url)
    page.goto(live_server.url + path.format(county=county.pk))
    widths = _cell_widths(page, "main table tbody td")
    assert len(widths) >= 4 * 3
    assert min(widths) >= MIN_CELL_WIDTH, widths
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_tree_figures_stay_on_one_line_on_a_phone(
    county: Any, live_server: Any, page: Any
) -> None:
    _login(page, live_server.url)
    page.goto(f"{live_server.url}/units/?within={county.pk}")
    heights = page.eval_on_selector_all(
        "#unit-tree summary span.small",
        """spans => spans.map(s => {
            const style = getComputedStyle(s);
            return s.getBoundingClientRect().height / parseFloat(style.lineHeight);
        })""",
    )
    assert len(heights) == 4  # the centre and its three towns
    assert max(heights) < 1.5, heights  # one line each, however narrow the row
    assert "(1 inactive)" in page.content() or "1个已停用" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
