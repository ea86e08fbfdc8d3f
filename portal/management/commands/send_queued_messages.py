"""``manage.py send_queued_messages``: send the outbox's messages whose task was lost.

A message is written to the outbox before its task is queued; when the queue was down or
a worker died, it stays ``queued``. Run this every minute or so (cron, or Celery beat's
``send-queued-messages`` entry while the queue works); it sends, in this process, every message
still queued ``--minutes`` after it was written (default ``OUTBOX_RESEND_AFTER_MINUTES``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal import outbox


class Command(BaseCommand):
    help = "Send the text messages and emails still queued in the outbox after a few minutes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--minutes",
            type=int,
            default=None,
            help="Only messages written at least this long ago (default: the setting).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        minutes = options["minutes"]
        older_than = None if minutes is None else dt.timedelta(minutes=max(minutes, 0))
        sent = outbox.send_queued(older_than=older_than)
        self.stdout.write(f"{sent} message(s) sent.")
