"""Background work of order — menu — deliver."""

from celery import shared_task

__all__ = ["mark_overdue_requests"]


@shared_task(ignore_result=True)
def mark_overdue_requests() -> int:
    """Mark late requests overdue and tell the level above, once each (Celery beat)."""
    from orders.services import requests_mark_overdue

    return requests_mark_overdue()
