"""Background work of the activities: the nightly check of the statistics' summary."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.utils.translation import gettext as _

__all__ = ["check_activity_summary"]

logger = logging.getLogger(__name__)

SHOWN = 20


@shared_task(ignore_result=True)
def check_activity_summary() -> dict[str, Any]:
    """Compare the summary table with the records (nightly, from Celery beat). When they
    differ, log an error per differing cell (at most 20) and tell the superusers in their
    inbox; ``manage.py activity_summary --rebuild`` repairs it. Returns what it found."""
    from portal import notify
    from practice.models import User

    from .summary import differences

    wrong = differences(limit=SHOWN + 1)
    for cell in wrong[:SHOWN]:
        logger.error(
            "activity summary differs: unit %s day %s platform %s: records %s, summary %s",
            cell["unit"],
            cell["day"],
            cell["category"],
            cell["expected"],
            cell["summary"],
        )
    if wrong:
        with notify.in_portal_language():
            notify.notify_users(
                users=User.objects.filter(is_superuser=True, is_active=True),
                subject=_("The activity statistics differ from the records"),
                text=_(
                    "The nightly check found %(count)s day(s) where the activity summary "
                    "table does not equal the approved activities and confirmed hours. Run "
                    "“manage.py activity_summary --rebuild” on the server, then look for the "
                    "cause in the log (activities.tasks)."
                )
                % {"count": f"{SHOWN}+" if len(wrong) > SHOWN else len(wrong)},
                purpose="summary_check",
            )
    return {"differences": len(wrong)}
