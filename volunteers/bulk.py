"""Many volunteers at once: the one bulk insert behind the spreadsheet import and the demo.

Each volunteer gets what registration gives one: a number from its id
(``Volunteer.number_for``) and a login account named after it. The accounts have no
usable password unless one is given (the person sets one with "forgot password" by SMS).
Inserts run in batches: a constant number of statements per batch, whatever the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.hashers import make_password
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat, LPad
from django.utils import timezone

from practice.models import Category, User

from .models import Volunteer

__all__ = ["BATCH", "insert_volunteers"]

BATCH = 2000


def insert_volunteers(
    volunteers: Sequence[Volunteer],
    categories: Sequence[Sequence[Category]],
    *,
    passwords: dict[int, str] | None = None,
) -> list[Volunteer]:
    """Insert ``volunteers`` (validated, unsaved, hashes and masks filled in), number them,
    give each an account and its ``categories`` (one list per volunteer). ``passwords``:
    the index of a volunteer in ``volunteers`` → a password for its account. Call inside a
    transaction."""
    if len(categories) != len(volunteers):
        raise ValueError("insert_volunteers needs one list of categories per volunteer.")
    year = timezone.localdate().year
    prefix = Volunteer.number_for(0, year)[:-8]
    unusable = make_password(None)
    hashed = {index: make_password(p) for index, p in (passwords or {}).items()}
    saved: list[Volunteer] = []
    for start in range(0, len(volunteers), BATCH):
        batch = list(volunteers[start : start + BATCH])
        created = Volunteer.objects.bulk_create(batch)
        if created and created[0].pk is None:  # a database that returns no ids
            by_hash = dict(
                Volunteer.objects.filter(
                    id_number_hash__in=[v.id_number_hash for v in batch]
                ).values_list("id_number_hash", "pk")
            )
            for volunteer in created:
                volunteer.pk = by_hash[volunteer.id_number_hash]
        ids = [volunteer.pk for volunteer in created]
        rows = Volunteer.objects.filter(pk__in=ids)
        rows.update(number=Concat(Value(prefix), LPad(Cast("pk", CharField()), 8, Value("0"))))
        numbers = [Volunteer.number_for(volunteer.pk, year) for volunteer in created]
        for volunteer, number in zip(created, numbers, strict=True):
            volunteer.number = number
        User.objects.bulk_create(
            [
                User(
                    username=numbers[offset],
                    name=volunteer.name,
                    phone=volunteer.phone,
                    password=hashed.get(start + offset, unusable),
                )
                for offset, volunteer in enumerate(created)
            ]
        )
        rows.update(
            user=Subquery(User.objects.filter(username=OuterRef("number")).values("pk")[:1])
        )
        accounts = dict(User.objects.filter(username__in=numbers).values_list("username", "pk"))
        for volunteer, number in zip(created, numbers, strict=True):
            volunteer.user_id = accounts[number]
        through = Volunteer.categories.through
        through.objects.bulk_create(
            [
                through(volunteer_id=volunteer.pk, category_id=category.pk)
                for volunteer, chosen in zip(
                    created, categories[start : start + BATCH], strict=True
                )
                for category in chosen
            ]
        )
        saved.extend(created)
    return saved
