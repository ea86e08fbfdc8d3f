"""Runs the sections the command was asked for and prints (and writes) their figures."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.test.utils import override_settings

from . import common
from .activities import Activities
from .load import LoadOptions, run_load
from .orders import Orders
from .reads import Reads
from .tree import TreeWrites
from .uploads import Uploads
from .volunteers import Volunteers

# The in-process sections, in the order they run for each tree (and finish).
SECTIONS: dict[str, type[common.Section]] = {
    section.name: section
    for section in (TreeWrites, Reads, Uploads, Volunteers, Orders, Activities)
}
LOAD = "load"
ALL_SECTIONS = [*SECTIONS, LOAD]


def run(
    *,
    sections: Sequence[str],
    repeat: int,
    counties: int,
    load: LoadOptions,
    json_path: str | None,
    write: Callable[[str], None],
    volunteers: int = 50_391,
    activities: int = 1_000_000,
) -> dict[str, Any]:
    with common.own_cache_keys():
        return _run(
            sections=sections,
            repeat=repeat,
            counties=counties,
            volunteers=volunteers,
            activities=activities,
            load=load,
            json_path=json_path,
            write=write,
        )


def _run(
    *,
    sections: Sequence[str],
    repeat: int,
    counties: int,
    volunteers: int,
    load: LoadOptions,
    activities: int = 1_000_000,
    json_path: str | None,
    write: Callable[[str], None],
) -> dict[str, Any]:
    started = time.perf_counter()
    report: dict[str, Any] = {}
    chosen = [SECTIONS[name]() for name in SECTIONS if name in sections]
    if chosen:
        report.update(
            run_in_process(
                chosen,
                repeat=repeat,
                counties=counties,
                volunteers=volunteers,
                activities=activities,
                write=write,
            )
        )
    if LOAD in sections:
        # A database of its own: the sizes are whole counties, each its own tree.
        with common.throwaway_database(write) as database:
            report["load"] = {"database": database, "meta": common.meta()}
            report["load"].update(run_load(load, write))
        if "skipped" in report["load"] and list(sections) == [LOAD]:
            raise CommandError(report["load"]["skipped"])
        if "table" in report["load"]:
            write("")
            write("Load: req/s, latency, and the share of hello-world's req/s")
            for line in report["load"]["table"]:
                write(line)
            write("")
            write("Targets of issue 6:")
            for line in report["load"]["verdicts"]:
                write("  " + line)
    total = round(time.perf_counter() - started, 1)
    report.setdefault("meta", {})["total_seconds"] = total
    write("")
    write(f"Total {total} s; the throwaway databases are gone.")
    if "skipped" in report.get("load", {}):
        write(f"LOAD SECTION SKIPPED: {report['load']['skipped']}")
    if json_path:
        target = Path(json_path)
        target.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
        write(f"Raw figures: {target}")
    return report


def run_in_process(
    sections: list[common.Section],
    *,
    repeat: int,
    counties: int,
    write: Callable[[str], None],
    volunteers: int = 50_391,
    activities: int = 1_000_000,
) -> dict[str, Any]:
    """The county, then the province, through every chosen section; in one throwaway
    database, with the settings ``manage.py`` runs with but ``DEBUG`` off."""
    ratios = [r for section in sections for r in section.ratios]
    # Production-like: no DEBUG query log or debug pages; the test client's host allowed.
    # The anonymous page cache is off: these figures are the cost of rendering the pages
    # (the load section measures them cached too).
    with (
        override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"], PAGE_CACHE_SECONDS=0),
        common.throwaway_database(write) as database,
    ):
        meta = common.meta(database_name=database, repeat=repeat, counties=counties)
        ctx = common.Context(
            repeat=repeat,
            counties=counties,
            volunteers=volunteers,
            activities=activities,
            write=write,
        )
        gc.collect()
        for scope in common.scopes(ctx):
            for section in sections:
                section.scope(ctx, scope)
        for section in sections:
            section.finish(ctx)
    write("")
    write(
        f"{meta['database']} · Python {meta['python']} · Django {meta['django']} · "
        f"{meta['cpus']} CPUs ({meta['cpu']}) · {meta['date']}"
    )
    write(
        f"Trees: county {ctx.sizes.get('county')} units, province "
        f"{ctx.sizes.get('province')} units ({counties} counties); "
        f"median of {repeat} runs; queries from one warm-up run."
    )
    write("")
    for line in common.table(ctx.results, ratios):
        write(line)
    for case, text in ctx.explain.items():
        write("")
        write(f"Plan of the shifting UPDATE in the province tree, {case}:")
        for line in text.splitlines():
            write(f"  {line}")
    return {"meta": meta, **common.as_json(ctx, ratios)}
