"""``manage.py bench``: what the portal's operations cost and how that grows with the size
of the database. The sections live in :mod:`portal.bench`; this command parses the
arguments and runs them (``docs/performance.md`` tells what each measures)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.bench.load import DEFAULT_SIZES, MODES, LoadOptions
from portal.bench.runner import ALL_SECTIONS, run


def _names(value: str, allowed: list[str] | tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise CommandError(
            f"Unknown {what}: {', '.join(unknown) or value!r}; choose from {', '.join(allowed)}."
        )
    return names


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(n) for n in value.split(",") if n.strip())
    except ValueError:
        raise CommandError(
            f"--load-sizes takes counts of counties, e.g. 1,80,400; not {value!r}."
        ) from None
    if not sizes or min(sizes) < 1:
        raise CommandError("--load-sizes: every size is at least 1 county.")
    return sizes


class Command(BaseCommand):
    help = (
        "Benchmark tree writes, pages and API, uploads, and the portal under load at county "
        "to province size, in throwaway test databases."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sections",
            default=",".join(ALL_SECTIONS),
            help=f"comma-separated, from {', '.join(ALL_SECTIONS)} (default: all)",
        )
        parser.add_argument(
            "--repeat", type=int, default=7, help="timed runs per operation (median shown)"
        )
        parser.add_argument(
            "--counties", type=int, default=80, help="counties in the province tree"
        )
        parser.add_argument(
            "--volunteers",
            type=int,
            default=50_391,
            help="volunteers the volunteers section imports (default: Nanjing County's 50,391)",
        )
        parser.add_argument(
            "--activities",
            type=int,
            default=1_000_000,
            help="approved activities the activities section puts in the province",
        )
        parser.add_argument("--json", metavar="PATH", help="also write the raw figures here")
        load = parser.add_argument_group("load section")
        load.add_argument(
            "--load-sizes",
            default=",".join(map(str, DEFAULT_SIZES)),
            help="counties (each its own tree of 204 units) at each size measured",
        )
        load.add_argument(
            "--load-seconds", type=int, default=5, help="at most this many seconds per URL"
        )
        load.add_argument(
            "--load-requests", type=int, default=5000, help="at most this many requests per URL"
        )
        load.add_argument("--concurrency", type=int, default=8, help="requests in flight")
        load.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        load.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
        load.add_argument(
            "--load-modes",
            default=",".join(MODES),
            help=f"comma-separated, from {', '.join(MODES)}",
        )
        load.add_argument(
            "--port", type=int, default=0, help="gunicorn's port (default: a free one)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        repeat, counties = options["repeat"], options["counties"]
        if repeat < 1 or counties < 1:
            raise CommandError("--repeat and --counties must be at least 1.")
        if options["activities"] < 1:
            raise CommandError("--activities must be at least 1.")
        if options["volunteers"] <= 500:
            raise CommandError("--volunteers must be more than 500 (the small size measured).")
        numbers = ("load_seconds", "load_requests", "concurrency", "workers", "threads")
        if any(options[name] <= 0 for name in numbers):
            raise CommandError(
                "--load-seconds, --load-requests, --concurrency, --workers and --threads "
                "must be positive."
            )
        load = LoadOptions(
            sizes=_sizes(options["load_sizes"]),
            seconds=options["load_seconds"],
            requests=options["load_requests"],
            concurrency=options["concurrency"],
            workers=options["workers"],
            threads=options["threads"],
            port=options["port"],
            modes=_names(options["load_modes"], MODES, "load mode"),
        )
        run(
            sections=_names(options["sections"], ALL_SECTIONS, "section"),
            repeat=repeat,
            counties=counties,
            volunteers=options["volunteers"],
            activities=options["activities"],
            load=load,
            json_path=options.get("json"),
            write=self.stdout.write,
        )
