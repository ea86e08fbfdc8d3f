"""Background tasks of the practice network."""

import logging

from celery import shared_task

from .models import Unit
from .tree import tree_problems

__all__ = ["check_tree_integrity"]

logger = logging.getLogger(__name__)


@shared_task
def check_tree_integrity() -> dict[str, object]:
    """Verify every tree's nested-set invariants (nightly, from Celery beat).

    Returns the number of trees and units checked and the problems found; problems are
    logged as errors so monitoring picks them up.
    """
    tree_ids = list(Unit.objects.order_by().values_list("tree_id", flat=True).distinct())
    problems: list[str] = []
    for tree_id in tree_ids:
        problems.extend(tree_problems(tree_id))
    for problem in problems:
        logger.error("tree integrity: %s", problem)
    return {"trees": len(tree_ids), "units": Unit.objects.count(), "problems": problems}
