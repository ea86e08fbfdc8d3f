"""Reads in process: the public pages and the units API, anonymously, through
``django.test.Client`` (the full middleware stack), and a hello-world view through the same
client: the floor of any request."""

from __future__ import annotations

from django.test.utils import override_settings

from .common import Context, Measurement, Ratio, Scope, Section, settle, timed
from .urls import HELLO_PATH


class Reads(Section):
    name = "reads"
    help = "the tree page, unit page, home and API list through the test client"
    ratios = [
        Ratio("/ (home), province ÷ county", "province.page.home", "county.page.home"),
        Ratio("/units/, province ÷ county", "province.page.tree", "county.page.tree"),
        Ratio(
            "/units/?within=root, province ÷ county",
            "province.page.tree_within_root",
            "county.page.tree_within_root",
        ),
        Ratio(
            "/units/?within=county, county in province ÷ alone",
            "province.page.tree_within_county",
            "county.page.tree_within_root",
        ),
        Ratio(
            "/units/<county>/, county in province ÷ alone",
            "province.page.detail_county",
            "county.page.detail_county",
        ),
        Ratio("API list, province ÷ county", "province.api.list", "county.api.list"),
        Ratio(
            "API ?within=root, province ÷ county",
            "province.api.within_root",
            "county.api.within_root",
        ),
        Ratio(
            "API ?within=county, county in province ÷ alone",
            "province.api.within_county",
            "county.api.within_root",
        ),
        Ratio("/units/ at county size ÷ hello world", "county.page.tree", "hello"),
        Ratio("/units/ at province size ÷ hello world", "province.page.tree", "hello"),
        Ratio("API list at county size ÷ hello world", "county.api.list", "hello"),
        Ratio("API list at province size ÷ hello world", "province.api.list", "hello"),
    ]

    def scope(self, ctx: Context, scope: Scope) -> None:
        settle(analyze=True)
        name, root, county = scope.name, scope.root, scope.county
        get(ctx, f"{name}.page.home", f"GET / ({name})", "/")
        get(ctx, f"{name}.page.tree", f"GET /units/ ({name})", "/units/")
        get(
            ctx,
            f"{name}.page.tree_within_root",
            f"GET /units/?within=root ({name})",
            f"/units/?within={root.pk}",
        )
        if county.pk != root.pk:
            get(
                ctx,
                f"{name}.page.tree_within_county",
                f"GET /units/?within=county ({name})",
                f"/units/?within={county.pk}",
            )
        get(
            ctx,
            f"{name}.page.detail_county",
            f"GET /units/<county>/ ({name})",
            f"/units/{county.pk}/",
        )
        get(
            ctx,
            f"{name}.api.list",
            f"API list page_size=200 ({name})",
            "/api/v1/units/?page_size=200",
        )
        get(
            ctx,
            f"{name}.api.within_root",
            f"API ?within=root ({name})",
            f"/api/v1/units/?page_size=200&within={root.pk}",
        )
        if county.pk != root.pk:
            get(
                ctx,
                f"{name}.api.within_county",
                f"API ?within=county ({name})",
                f"/api/v1/units/?page_size=200&within={county.pk}",
            )

    def finish(self, ctx: Context) -> None:
        ctx.write("Ceiling: a hello-world view through the same client and middleware")
        with override_settings(ROOT_URLCONF="portal.bench.urls"):
            get(ctx, "hello", "GET hello world", HELLO_PATH)


def get(ctx: Context, key: str, label: str, url: str) -> None:
    """Time an anonymous GET of ``url`` through the test client (full middleware stack)."""
    measurement = Measurement(key, label, info={"url": url})
    try:
        measurement.queries, _sql, response = ctx.captured(lambda: ctx.client.get(url))
    except Exception as exc:  # reported in the table; the bench goes on
        measurement.error = f"{type(exc).__name__}: {exc}"[:200]
        ctx.store(measurement)
        return
    if response.status_code != 200:
        measurement.error = f"HTTP {response.status_code}"
        ctx.store(measurement)
        return
    measurement.info["bytes"] = len(response.content)
    measurement.info["detail"] = f"{len(response.content) / 1024:.0f} KB"
    for _ in range(ctx.repeat):
        elapsed, _response = timed(lambda: ctx.client.get(url))
        measurement.samples_ms.append(elapsed)
    ctx.store(measurement)
