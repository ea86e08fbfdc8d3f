"""``manage.py activity_summary [--rebuild] [--check]``: the statistics' summary table.

``--rebuild`` rewrites :class:`~activities.models.ActivitySummary` from the records
(approved activities, confirmed service records) in one transaction, set-based
(:func:`activities.summary.rebuild`); ``--check`` (also the default) compares the two
(:func:`activities.summary.differences`), prints the cells that differ and exits with
status 1 when any does. Both: rebuild, then check. The nightly Celery task
``activities.tasks.check_activity_summary`` runs the check.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from activities import summary

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Rebuild the activity summary table from the records (--rebuild) and/or check that "
        "it equals them (--check, the default; exit status 1 when it does not)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="Rewrite the summary from the records."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Compare the summary with the records; exit 1 when they differ.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check = options["check"] or not options["rebuild"]
        if options["rebuild"]:
            started = time.monotonic()
            rows = summary.rebuild()
            self.stdout.write(
                f"Summary rebuilt: {rows} row(s) in {time.monotonic() - started:.1f} s."
            )
        if not check:
            return
        wrong = summary.differences(limit=SHOWN + 1)
        if not wrong:
            self.stdout.write("The summary equals the records.")
            return
        for cell in wrong[:SHOWN]:
            self.stderr.write(
                f"unit {cell['unit']} · {cell['day']} · platform {cell['category']}: "
                f"records {_figures(cell['expected'])}, summary {_figures(cell['summary'])}"
            )
        more = "more than " if len(wrong) > SHOWN else ""
        raise CommandError(
            f"The summary differs from the records in {more}{min(len(wrong), SHOWN)} cell(s); "
            "run `manage.py activity_summary --rebuild`.",
            returncode=1,
        )


def _figures(values: dict[str, Any]) -> str:
    return " ".join(f"{name}={value}" for name, value in values.items())
