"""Every write to the practice network goes through these functions.

Each is keyword-only, told who acts (``actor``), checks the policy, runs in one
transaction holding the tree lock where the tree changes, and writes an audit entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from portal.cache import NETWORK, bump_on_commit
from portal.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from portal.errors import field_error as _fail
from portal.validators import normalize_mobile, validate_mobile

from . import tree
from .choices import ALLOWED_PARENT_KINDS, AuditAction, Role, UnitKind
from .models import (
    UNIT_EDITABLE_FIELDS,
    AuditEntry,
    RoleAssignment,
    Unit,
    User,
    parent_rule_message,
)
from .permissions import (
    Action,
    can,
    dominates,
    forget_grants,
    has_any_role,
    may_manage_account,
    require,
    require_manages_account,
)
from .selectors import users_in_scope

if TYPE_CHECKING:
    from portal.models import ImportJob

__all__ = [
    "ImportPlan",
    "ImportResult",
    "password_change_own",
    "record_audit",
    "role_grant",
    "role_revoke",
    "unit_create",
    "unit_deactivate_subtree",
    "unit_delete",
    "unit_import_apply",
    "unit_import_job",
    "unit_import_plan",
    "unit_import_rows",
    "unit_import_tree",
    "unit_move",
    "unit_set_active",
    "unit_update",
    "user_create",
    "user_update",
]


def _audit(
    *,
    actor: User | None,
    action: str,
    unit: Unit | None,
    object_repr: str,
    changes: Mapping[str, Any] | None = None,
) -> None:
    _audit_entry(
        actor=actor, action=action, unit=unit, object_repr=object_repr, changes=changes
    ).save()


# The one audit writer, for the other apps' services (volunteers, requests, activities).
record_audit = _audit


def _unit_written(
    *,
    actor: User | None,
    action: str,
    unit: Unit | None,
    object_repr: str,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Audit a write to the network and invalidate the public pages showing it (the page
    cache's network version moves when — and only if — the transaction commits)."""
    bump_on_commit(NETWORK)
    _audit(actor=actor, action=action, unit=unit, object_repr=object_repr, changes=changes)


def _audit_entry(
    *,
    actor: User | None,
    action: str,
    unit: Unit | None,
    object_repr: str,
    changes: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        unit=unit,
        object_repr=object_repr[:200],
        changes={k: _jsonable(v) for k, v in (changes or {}).items()},
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _validated(instance: Unit | RoleAssignment | User, **kwargs: Any) -> None:
    """``full_clean()``, raising the portal's 400 with per-field messages."""
    try:
        instance.full_clean(**kwargs)
    except ValidationError as exc:
        raise ValidationFailed(detail=_messages(exc)) from exc


def _validated_unit(unit: Unit) -> None:
    """Field validators and the tree rules of ``Unit.clean()``, then the one database
    constraint a user can run into: the name among siblings. The check constraints (kind,
    root kind, coordinate ranges) restate what the field validators and ``clean()`` have
    already refused, so they are left to the database rather than queried one by one."""
    try:
        unit.full_clean(exclude=["lft", "rght", "tree_id", "level"], validate_constraints=False)
    except ValidationError as exc:
        raise ValidationFailed(detail=_messages(exc)) from exc
    siblings = Unit.objects.filter(parent=unit.parent, name=unit.name)
    if unit.pk is not None:
        siblings = siblings.exclude(pk=unit.pk)
    if siblings.exists():
        if unit.parent is None:
            raise _fail("name", _("A top-level unit with this name already exists."))
        raise _fail("name", _("A unit with this name already exists here."))


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if k == "__all__" else k): [str(m) for m in v]
            for k, v in exc.message_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


# --- units -------------------------------------------------------------------------------


def unit_create(*, actor: User, parent: Unit | None, **fields: Any) -> Unit:
    """Create a unit under ``parent`` (``None``: a new top-level tree, superusers only)."""
    if parent is not None and not can(actor, Action.ADD_CHILD, parent):
        # The parent comes from the input, not from the address: refuse it (403) like a
        # move's destination, rather than answer "not found".
        raise PermissionDenied(_("You may not place units under that parent."))
    require(actor, Action.ADD_CHILD, parent)
    unknown = set(fields) - set(UNIT_EDITABLE_FIELDS) - {"is_active"}
    if unknown:
        raise ValueError(f"unit_create got unexpected fields: {sorted(unknown)}")
    with transaction.atomic():
        if parent is None:
            tree.lock_forest()
        else:
            parent = tree.locked_units(parent.pk)[parent.pk]
            _require_active_parent(parent)
        unit = Unit(parent=parent, **fields)
        _validated_unit(unit)
        unit.save()
        _unit_written(
            actor=actor,
            action=AuditAction.UNIT_CREATED,
            unit=unit,
            object_repr=unit.name,
            changes={k: fields[k] for k in fields},
        )
    return unit


def _require_active_parent(parent: Unit) -> None:
    # Keeps the public tree whole: an inactive unit never has active sub-units.
    if not parent.is_active:
        raise _fail(
            "parent",
            _("“%(name)s” is inactive; reactivate it before adding units under it.")
            % {"name": parent.name},
            code="parent_inactive",
        )


def _check_kind_change(unit: Unit, new_kind: str) -> None:
    child_kinds = set(unit.get_children().values_list("kind", flat=True).distinct())
    for child_kind in child_kinds:
        if new_kind not in ALLOWED_PARENT_KINDS[child_kind]:
            message = parent_rule_message(child_kind, new_kind)
            raise _fail(
                "kind",
                _("Its sub-units would break the rules: %(rule)s") % {"rule": message},
                code="invalid_kind",
            )


def unit_update(*, actor: User, unit: Unit, data: Mapping[str, Any]) -> Unit:
    """Edit a unit's details (not its parent: see :func:`unit_move`)."""
    require(actor, Action.CHANGE, unit)
    unknown = set(data) - set(UNIT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unit_update got unexpected fields: {sorted(unknown)}")
    with transaction.atomic():
        # Renaming a root reorders the roots, which renumbers trees: lock them all.
        forest = unit.parent_id is None and "name" in data
        fresh = tree.locked_units(unit.pk, forest=forest)[unit.pk]
        if fresh.parent_id is None and not forest:
            fresh = tree.locked_units(unit.pk, forest=True)[unit.pk]
        changes = {}
        for name, value in data.items():
            if getattr(fresh, name) != value:
                changes[name] = [getattr(fresh, name), value]
                setattr(fresh, name, value)
        if not changes:
            return fresh
        if "kind" in changes:
            parent_kind = fresh.parent.kind if fresh.parent else None
            if parent_kind not in ALLOWED_PARENT_KINDS[fresh.kind]:
                raise _fail(
                    "kind", parent_rule_message(fresh.kind, parent_kind), code="invalid_kind"
                )
            _check_kind_change(fresh, fresh.kind)
        _validated_unit(fresh)
        fresh.save()
        _unit_written(
            actor=actor,
            action=AuditAction.UNIT_CHANGED,
            unit=fresh,
            object_repr=fresh.name,
            changes=changes,
        )
    return fresh


def unit_move(*, actor: User, unit: Unit, parent: Unit | None) -> Unit:
    """Give ``unit`` (and its subtree) a new parent; ``None`` makes it a top-level tree."""
    require(actor, Action.MOVE, unit)
    if not can(actor, Action.ADD_CHILD, parent):
        raise PermissionDenied(_("You may not place units under that parent."))
    with transaction.atomic():
        pks = [unit.pk] + ([parent.pk] if parent is not None else [])
        # Making a root, or putting a root under another unit, renumbers trees.
        forest = parent is None or unit.parent_id is None
        locked = tree.locked_units(*pks, forest=forest)
        if locked[unit.pk].parent_id is None and not forest:
            locked = tree.locked_units(*pks, forest=True)
        fresh = locked[unit.pk]
        new_parent = locked[parent.pk] if parent is not None else None
        old_parent_id = fresh.parent_id
        if old_parent_id == (new_parent.pk if new_parent else None):
            return fresh
        if new_parent is not None and fresh.is_active:
            _require_active_parent(new_parent)
        old_path = " / ".join(a.name for a in fresh.get_ancestors())
        fresh.parent = new_parent
        _validated_unit(fresh)
        try:
            with transaction.atomic():
                fresh.save()
        except IntegrityError as exc:  # e.g. a sibling of the same name won a race
            raise _fail("parent", _("A unit with this name already exists there.")) from exc
        forget_grants(actor)
        _unit_written(
            actor=actor,
            action=AuditAction.UNIT_MOVED,
            unit=fresh,
            object_repr=fresh.name,
            changes={"parent": [old_path, new_parent.name if new_parent else None]},
        )
    return fresh


def unit_set_active(*, actor: User, unit: Unit, active: bool) -> Unit:
    """Deactivate (hide from the public) or reactivate a unit."""
    require(actor, Action.CHANGE, unit)
    with transaction.atomic():
        fresh = tree.locked_units(unit.pk)[unit.pk]
        if fresh.is_active == active:
            return fresh
        if not active and fresh.get_descendants().filter(is_active=True).exists():
            raise _fail(
                "is_active",
                _("Deactivate or move its active sub-units first."),
                code="has_active_children",
            )
        if active and fresh.parent is not None and not fresh.parent.is_active:
            raise _fail(
                "is_active",
                _("Its parent unit is inactive; reactivate the parent first."),
                code="parent_inactive",
            )
        fresh.is_active = active
        fresh.save(update_fields=["is_active", "updated_at"])
        _unit_written(
            actor=actor,
            action=AuditAction.UNIT_REACTIVATED if active else AuditAction.UNIT_DEACTIVATED,
            unit=fresh,
            object_repr=fresh.name,
        )
    return fresh


def unit_deactivate_subtree(*, actor: User, unit: Unit, expected: int | None = None) -> int:
    """Deactivate ``unit`` and every active unit below it at once; return how many.

    One transaction under the tree lock, one UPDATE, one audit entry
    (``unit.deactivated`` with ``{"units": n}``). ``expected`` is the number the actor
    confirmed: if the subtree changed meanwhile, nothing is done and 409 ``count_changed``
    tells the new number. The same rule as deactivating one unit (``change``), which a
    role on ``unit`` or above gives for the whole subtree.
    """
    require(actor, Action.CHANGE, unit)
    with transaction.atomic():
        fresh = tree.locked_units(unit.pk)[unit.pk]
        count = (
            Unit.objects.within(fresh)
            .filter(is_active=True)
            .update(is_active=False, updated_at=timezone.now())
        )
        if expected is not None and count != expected:  # raising undoes the UPDATE
            raise Conflict(
                ngettext(
                    "The units changed meanwhile: %(count)d unit would now be deactivated; "
                    "please confirm again.",
                    "The units changed meanwhile: %(count)d units would now be deactivated; "
                    "please confirm again.",
                    count,
                )
                % {"count": count},
                code="count_changed",
            )
        if count:
            _unit_written(
                actor=actor,
                action=AuditAction.UNIT_DEACTIVATED,
                unit=fresh,
                object_repr=fresh.name,
                changes={"units": count},
            )
    return count


def unit_delete(*, actor: User, unit: Unit) -> None:
    """Delete a unit that has no sub-units and no records."""
    require(actor, Action.DELETE, unit)
    with transaction.atomic():
        fresh = tree.locked_units(unit.pk)[unit.pk]
        if fresh.descendant_total:
            raise _fail(
                "non_field_errors",
                _("“%(name)s” still has %(count)d sub-units; move or delete them first.")
                % {"name": fresh.name, "count": fresh.descendant_total},
                code="has_children",
            )
        parent = fresh.parent
        name = fresh.name
        try:
            with transaction.atomic():
                fresh.delete()
        except ProtectedError as exc:
            raise _fail(
                "non_field_errors",
                _(
                    "“%(name)s” still has records (volunteers, teams, activities…); "
                    "it can be deactivated instead."
                )
                % {"name": name},
                code="has_records",
            ) from exc
        _unit_written(actor=actor, action=AuditAction.UNIT_DELETED, unit=parent, object_repr=name)


# --- bulk imports ------------------------------------------------------------------------

# A problem found in an import: (spreadsheet row, or 0 for a nested import; message).
Problem = tuple[int, str]

# An import with more problems than this lists only the first ones (the count says all).
MAX_REPORTED_PROBLEMS = 50


def unit_import_tree(*, actor: User, parent: Unit | None, spec: tree.NodeSpec) -> list[Unit]:
    """Create a whole subtree in a handful of queries (one INSERT per level).

    Everything is validated first; any error rejects the whole import.
    """
    require(actor, Action.ADD_CHILD, parent)
    if parent is not None:
        return _import_under(actor=actor, parent=parent, specs=[spec], problems=[])
    problems: list[Problem] = []
    _validate_spec(spec, None, "", problems)
    if problems:
        raise _rejected(problems)
    with transaction.atomic():
        tree.lock_forest()
        if Unit.objects.filter(parent=None, name=spec.fields["name"]).exists():
            raise _fail("name", _("A top-level unit with this name already exists."))
        nodes = tree.build_nodes(spec, tree_id=tree.new_tree_id(spec.fields["name"]))
        tree.insert_nodes(nodes)
        _unit_written(
            actor=actor,
            action=AuditAction.UNIT_IMPORTED,
            unit=nodes[0],
            object_repr=nodes[0].name,
            changes={"units": len(nodes)},
        )
    return nodes


def unit_import_rows(*, actor: User, parent: Unit, rows: Sequence[tree.UnitRow]) -> ImportResult:
    """Apply a spreadsheet's rows under ``parent`` at once (see :func:`unit_import_apply`)."""
    return unit_import_apply(actor=actor, parent=parent, rows=rows)


def unit_import_plan(*, actor: User, parent: Unit, rows: Sequence[tree.UnitRow]) -> ImportPlan:
    """What importing ``rows`` under ``parent`` would do, without writing anything.

    A row with an ID updates that unit, a row without one creates a unit under the
    nearest earlier row bearing the name its parent column gives (``parent`` itself when
    it gives none). Every row is checked — IDs, kinds and the tree rules, names among
    siblings (in the file and in the database), statuses, the field validators — and the
    problems are listed by row in ``plan.problems``. An import never moves and never
    deletes units: a row whose parent is not its unit's parent is a problem, and units
    the sheet does not name are left as they are. ``parent`` must be active.
    """
    require(actor, Action.ADD_CHILD, parent)
    unknown = {key for row in rows for key in row.fields} - set(UNIT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unit_import_plan got unexpected fields: {sorted(unknown)}")
    if not rows:
        raise ValidationFailed(_("There are no units to import."), code="invalid_import")
    _require_active_parent(parent)
    below = {u.pk: u for u in Unit.objects.within(parent, include_self=False)}
    problems: list[Problem] = []
    nodes = _place_rows(rows, actor=actor, parent=parent, below=below, problems=problems)
    tops = [node for node in nodes if node.placed and node.up is None]
    for node in tops:
        _validate_spec(node.spec, parent.kind, parent.name, problems)
    _check_siblings(parent.name, parent.name, [node.spec for node in tops], problems)
    _check_names_kept(parent, nodes, below, problems)
    _check_kinds_kept(nodes, below, problems)
    _check_statuses(parent, nodes, below, problems)
    return ImportPlan(parent=parent, nodes=nodes, problems=problems)


def unit_import_apply(
    *,
    actor: User,
    parent: Unit,
    rows: Sequence[tree.UnitRow],
    expected_digest: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Import ``rows`` under ``parent``, all or nothing, in one transaction.

    The plan (:func:`unit_import_plan`) is made again under the tree lock; any problem
    rejects the whole file (400 ``invalid_import``). With ``expected_digest`` (the digest
    of the plan a person confirmed) a plan that has changed since — someone edited the
    units meanwhile — is refused (409 ``import_outdated``). Then the changed units are
    updated, the new ones inserted (:func:`tree.insert_children`, one shift per gap) and
    one audit entry on ``parent`` records the counts. ``progress(done, total)`` is told
    how far the writing has come.
    """
    report = progress or (lambda done, total: None)
    require(actor, Action.ADD_CHILD, parent)
    try:
        with transaction.atomic():
            fresh = tree.locked_units(parent.pk)[parent.pk]
            plan = unit_import_plan(actor=actor, parent=fresh, rows=rows)
            if plan.problems:
                raise _rejected(plan.problems)
            if expected_digest is not None and plan.digest != expected_digest:
                raise Conflict(
                    _(
                        "The units have changed since this preview was made; upload the "
                        "file again to see what the import would do now."
                    ),
                    code="import_outdated",
                )
            unchanged = len(plan.unchanged)
            total = len(plan.changed) + len(plan.created)
            report(0, total)
            changed = _write_changes(plan)
            report(len(changed), total)
            created = _write_new(plan)
            if changed or created:
                bump_on_commit(NETWORK)
            report(total, total)
            result = ImportResult(
                parent_id=fresh.pk, created=created, changed=changed, unchanged=unchanged
            )
            _audit(
                actor=actor,
                action=AuditAction.UNIT_IMPORTED,
                unit=fresh,
                object_repr=fresh.name,
                changes={
                    "created": len(created),
                    "changed": len(changed),
                    "unchanged": result.unchanged,
                },
            )
    except IntegrityError as exc:  # a sibling of the same name was added meanwhile
        raise _fail(
            "non_field_errors",
            _("A unit with one of these names was added here meanwhile; try again."),
        ) from exc
    return result


def unit_import_job(job: ImportJob, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Apply a confirmed import job of units (``portal.imports`` runs it, in a Celery
    task or in the request): the rows stored at upload, under the unit they were
    previewed for, as long as the plan is still the one confirmed."""
    parent = Unit.objects.filter(pk=job.target_id).first()
    if parent is None:
        raise NotFound()
    rows = [tree.UnitRow.from_json(data) for data in job.payload.get("rows", [])]
    result = unit_import_apply(
        actor=job.actor, parent=parent, rows=rows, expected_digest=job.digest, progress=progress
    )
    return result.as_dict()


@dataclass(eq=False)
class _Node:
    """A sheet row, placed: the unit it updates (``None``: a new unit) and the row above
    it that it names as parent (``None``: the unit imported into)."""

    row: tree.UnitRow
    spec: tree.NodeSpec  # cleaned fields, children rows: what the validators check
    unit: Unit | None
    up: _Node | None
    path: str
    placed: bool = True  # False: its parent is not defined in an earlier row
    children: list[_Node] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """The status the unit will have."""
        if isinstance(self.row.active, bool):
            return self.row.active
        return self.unit.is_active if self.unit is not None else True

    def changes(self) -> dict[str, list[Any]]:
        """Field → [old, new] for an existing unit."""
        if self.unit is None:
            return {}
        changes = {
            key: [getattr(self.unit, key), value]
            for key, value in self.spec.fields.items()
            if getattr(self.unit, key) != value
        }
        if self.active != self.unit.is_active:
            changes["is_active"] = [self.unit.is_active, self.active]
        return changes


@dataclass
class ImportPlan:
    """What an import would create, change and leave alone, and its problems by row."""

    parent: Unit
    nodes: list[_Node] = field(repr=False)
    problems: list[Problem]

    @property
    def created(self) -> list[_Node]:
        return [n for n in self.nodes if n.placed and n.unit is None]

    @property
    def changed(self) -> list[_Node]:
        return [n for n in self.nodes if n.unit is not None and n.changes()]

    @property
    def unchanged(self) -> list[_Node]:
        return [n for n in self.nodes if n.unit is not None and not n.changes()]

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """The plan as JSON: what a preview shows and a confirmation refers to."""
        return {
            "created": [
                {
                    "row": n.row.row,
                    "path": n.path,
                    "kind": n.spec.fields.get("kind"),
                    "active": n.active,
                }
                for n in self.created
            ],
            "changed": [
                {
                    "row": n.row.row,
                    "id": n.unit.pk,
                    "path": n.path,
                    "changes": {k: _jsonable(v) for k, v in n.changes().items()},
                }
                for n in self.changed
                if n.unit is not None
            ],
            "unchanged": [
                {"row": n.row.row, "id": n.unit.pk, "path": n.path}
                for n in self.unchanged
                if n.unit is not None
            ],
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.summary(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def raise_problems(self) -> None:
        if self.problems:
            raise _rejected(self.problems)


@dataclass(frozen=True)
class ImportResult:
    parent_id: int
    created: list[Unit]
    changed: list[int]  # ids of the units updated
    unchanged: int

    def as_dict(self) -> dict[str, Any]:
        """The API's answer: counts, the ids created directly under the unit imported into
        (in name order) and the ids changed."""
        return {
            "created": len(self.created),
            "units": [u.pk for u in self.created if u.parent_id == self.parent_id],
            "changed": len(self.changed),
            "changed_units": self.changed,
            "unchanged": self.unchanged,
        }


def _place_rows(
    rows: Sequence[tree.UnitRow],
    *,
    actor: User,
    parent: Unit,
    below: Mapping[int, Unit],
    problems: list[Problem],
) -> list[_Node]:
    """Rows → nodes: each row's unit (by ID) and its parent row (by name)."""
    nodes: list[_Node] = []
    named: dict[str, _Node] = {}  # the latest row bearing each name
    claimed: dict[int, int] = {}  # unit id → the row that names it
    for row in rows:
        spec = tree.NodeSpec(_cleaned(row.fields), row=row.row)
        where = _location(spec, "")
        unit = _row_unit(row, actor, below, claimed, where, problems)
        parent_name = row.parent.strip()
        up = named.get(parent_name) if parent_name else None
        name = str(spec.fields.get("name") or "").strip()
        node = _Node(row, spec, unit, up, f"{up.path} / {name}" if up else name)
        if parent_name and up is None:
            node.placed = False
            message = _(
                "The parent unit “%(name)s” is not defined in an earlier row (leave it empty "
                "for a unit directly under “%(unit)s”)."
            ) % {"name": parent_name, "unit": parent.name}
            problems.append((row.row, _problem(where, message)))
        elif up is not None:
            up.children.append(node)
            up.spec.children.append(spec)
        if unit is not None and node.placed:
            _check_not_moved(node, parent, below, where, problems)
        nodes.append(node)
        if name:
            named[name] = node
    return nodes


def _row_unit(
    row: tree.UnitRow,
    actor: User,
    below: Mapping[int, Unit],
    claimed: dict[int, int],
    where: str,
    problems: list[Problem],
) -> Unit | None:
    """The unit a row's ID names, if the actor may change it under the unit imported into.

    An unknown ID, a unit elsewhere and a unit outside the actor's scope get the same
    answer: the import tells nothing about units it may not touch.
    """
    if row.id is None:
        return None
    unit = below.get(row.id) if isinstance(row.id, int) else None
    if unit is None or not can(actor, Action.CHANGE, unit):
        message = _(
            "There is no unit with the ID “%(id)s” here that you may update; leave the ID "
            "empty for a new unit."
        ) % {"id": str(row.id)[:20]}
        problems.append((row.row, _problem(where, message)))
        return None
    if unit.pk in claimed:
        message = _("The ID %(id)d is also in row %(row)d.") % {
            "id": unit.pk,
            "row": claimed[unit.pk],
        }
        problems.append((row.row, _problem(where, message)))
        return None
    claimed[unit.pk] = row.row
    return unit


def _check_not_moved(
    node: _Node, parent: Unit, below: Mapping[int, Unit], where: str, problems: list[Problem]
) -> None:
    """An import does not move units: a row's parent must be its unit's parent."""
    if node.unit is None:
        return
    if node.up is None:
        sheet_parent: int | None = parent.pk
    else:
        sheet_parent = node.up.unit.pk if node.up.unit is not None else None
    if sheet_parent == node.unit.parent_id:
        return
    current = below.get(node.unit.parent_id or 0, parent)
    message = _(
        "“%(name)s” is under “%(parent)s”; an import does not move units. Correct its parent "
        "column, or move it with Move on its page."
    ) % {"name": node.unit.name, "parent": current.name}
    problems.append((node.row.row, _problem(where, message)))


def _cleaned(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The row's values as the model holds them (as written where they do not convert:
    the validators report those)."""
    cleaned: dict[str, Any] = {}
    for key, value in fields.items():
        try:
            cleaned[key] = Unit._meta.get_field(key).to_python(value)
        except ValidationError:
            cleaned[key] = value
    if isinstance(cleaned.get("name"), str):
        cleaned["name"] = cleaned["name"].strip()
    return cleaned


def _children_of(below: Mapping[int, Unit]) -> dict[int | None, list[Unit]]:
    children: dict[int | None, list[Unit]] = {}
    for unit in below.values():
        children.setdefault(unit.parent_id, []).append(unit)
    return children


def _check_names_kept(
    parent: Unit, nodes: list[_Node], below: Mapping[int, Unit], problems: list[Problem]
) -> None:
    """Rows whose name a unit the sheet does not name already bears under the same parent
    (rows among themselves are checked by ``_check_siblings``)."""
    in_sheet = {n.unit.pk for n in nodes if n.unit is not None}
    children = _children_of(below)
    groups: list[tuple[Unit, list[_Node]]] = [
        (parent, [n for n in nodes if n.placed and n.up is None])
    ]
    groups += [(n.unit, n.children) for n in nodes if n.unit is not None]
    for up, rows in groups:
        taken = {u.name for u in children.get(up.pk, []) if u.pk not in in_sheet}
        for node in rows:
            name = node.spec.fields.get("name")
            if name in taken:
                message = _("A unit called “%(name)s” already exists under “%(parent)s”.") % {
                    "name": name,
                    "parent": up.name,
                }
                problems.append((node.row.row, _problem(_location(node.spec, ""), message)))


def _check_kinds_kept(
    nodes: list[_Node], below: Mapping[int, Unit], problems: list[Problem]
) -> None:
    """A new kind must suit the sub-units the sheet does not name (those it names are
    checked against it by ``_validate_spec``)."""
    in_sheet = {n.unit.pk for n in nodes if n.unit is not None}
    children = _children_of(below)
    for node in nodes:
        kind = node.spec.fields.get("kind")
        if node.unit is None or kind == node.unit.kind or kind not in ALLOWED_PARENT_KINDS:
            continue
        for child in children.get(node.unit.pk, []):
            if child.pk not in in_sheet and kind not in ALLOWED_PARENT_KINDS[child.kind]:
                message = _("Its sub-units would break the rules: %(rule)s") % {
                    "rule": parent_rule_message(child.kind, kind)
                }
                problems.append((node.row.row, _problem(_location(node.spec, ""), message)))
                break


def _check_statuses(
    parent: Unit, nodes: list[_Node], below: Mapping[int, Unit], problems: list[Problem]
) -> None:
    """The tree stays whole for the public: no active unit under an inactive one, and no
    new unit under an inactive one, once the sheet's statuses are applied."""
    labels = pgettext("list separator", ", ").join(
        (pgettext("unit status", "Active"), pgettext("unit status", "Inactive"))
    )
    active = {pk: unit.is_active for pk, unit in below.items()}
    active[parent.pk] = parent.is_active
    by_unit = {n.unit.pk: n for n in nodes if n.unit is not None}
    for node in nodes:
        if isinstance(node.row.active, str):
            message = _("Unknown status “%(status)s”; the status must be one of: %(statuses)s.") % {
                "status": node.row.active[:20],
                "statuses": labels,
            }
            problems.append((node.row.row, _problem(_location(node.spec, ""), message)))
        if node.unit is not None:
            active[node.unit.pk] = node.active
    blamed: set[int] = set()
    for pk, unit in below.items():
        if not active[pk] or active[unit.parent_id or 0]:
            continue
        own = by_unit.get(pk)
        blame: _Node | None
        if own is not None and not unit.is_active:  # the sheet reactivates it
            blame, message = own, _("Its parent unit is inactive; reactivate the parent first.")
        else:  # the sheet deactivates its parent
            blame = by_unit.get(unit.parent_id or 0, own)
            message = _("Deactivate or move its active sub-units first.")
        if blame is not None and blame.row.row not in blamed:
            blamed.add(blame.row.row)
            problems.append((blame.row.row, _problem(_location(blame.spec, ""), message)))
    for node in nodes:
        if node.unit is not None or not node.placed:
            continue
        up = node.up
        if up is None:
            up_active = active[parent.pk]
        else:
            up_active = active[up.unit.pk] if up.unit is not None else up.active
        if not up_active:
            name = parent.name if up is None else str(up.spec.fields.get("name"))
            message = _("“%(name)s” is inactive; reactivate it before adding units under it.") % {
                "name": name
            }
            problems.append((node.row.row, _problem(_location(node.spec, ""), message)))


def _write_changes(plan: ImportPlan) -> list[int]:
    """Update the units the plan changes; returns their ids.

    Renamed units are saved one by one, re-read first (django-mptt moves a renamed unit
    among its siblings, shifting the tree); when names are swapped between siblings each
    of them first takes a placeholder name. The others are updated in bulk.
    """
    changed = [(n.unit, n.changes()) for n in plan.changed if n.unit is not None]
    renamed = [(unit, changes) for unit, changes in changed if "name" in changes]
    current = {(u.parent_id, u.name) for u in Unit.objects.within(plan.parent, include_self=False)}
    if any((unit.parent_id, changes["name"][1]) in current for unit, changes in renamed):
        for unit, _changes in renamed:
            _save_fresh(unit.pk, {"name": f"~import~{unit.pk}"})
    for unit, changes in renamed:
        _save_fresh(unit.pk, {key: new for key, (_old, new) in changes.items()})
    rest = [(unit, changes) for unit, changes in changed if "name" not in changes]
    if rest:
        now = timezone.now()
        keys: set[str] = set()
        for unit, changes in rest:
            for key, (_old, new) in changes.items():
                setattr(unit, key, new)
                keys.add(key)
            unit.updated_at = now
        Unit.objects.bulk_update(
            [u for u, _c in rest], [*sorted(keys), "updated_at"], batch_size=500
        )
    return [unit.pk for unit, _changes in changed]


def _save_fresh(pk: int, values: Mapping[str, Any]) -> None:
    unit = Unit.objects.get(pk=pk)
    for key, value in values.items():
        setattr(unit, key, value)
    unit.save()


def _write_new(plan: ImportPlan) -> list[Unit]:
    """Insert the new units, one ``insert_children`` per existing unit that receives any."""
    groups: dict[int, list[tree.NodeSpec]] = {}
    for node in plan.created:
        if node.up is None:
            groups.setdefault(plan.parent.pk, []).append(_new_spec(node))
        elif node.up.unit is not None:
            groups.setdefault(node.up.unit.pk, []).append(_new_spec(node))
    created: list[Unit] = []
    for pk, specs in groups.items():
        # Re-read: the renames and the inserts before this one have shifted the tree.
        created.extend(tree.insert_children(Unit.objects.get(pk=pk), specs))
    return created


def _new_spec(node: _Node) -> tree.NodeSpec:
    return tree.NodeSpec(
        {**node.spec.fields, "is_active": node.active},
        [_new_spec(child) for child in node.children],
        row=node.row.row,
    )


def _import_under(
    *, actor: User, parent: Unit, specs: list[tree.NodeSpec], problems: list[Problem]
) -> list[Unit]:
    for spec in specs:
        _validate_spec(spec, parent.kind, parent.name, problems)
    _check_siblings(parent.name, parent.name, specs, problems)
    _check_taken(parent, specs, problems)
    if problems:
        raise _rejected(problems)
    try:
        with transaction.atomic():
            fresh = tree.locked_units(parent.pk)[parent.pk]
            _require_active_parent(fresh)
            nodes = tree.insert_children(fresh, specs)
            _unit_written(
                actor=actor,
                action=AuditAction.UNIT_IMPORTED,
                unit=fresh,
                object_repr=fresh.name,
                changes={"created": len(nodes)},
            )
    except IntegrityError as exc:  # a sibling of the same name was added meanwhile
        raise _fail(
            "non_field_errors",
            _("A unit with one of these names was added here meanwhile; try again."),
        ) from exc
    return nodes


def _validate_spec(
    spec: tree.NodeSpec, parent_kind: str | None, path: str, problems: list[Problem]
) -> None:
    fields = spec.fields
    name = str(fields.get("name") or "").strip()
    fields["name"] = name
    here = f"{path} / {name}" if path else name
    where = _location(spec, here)
    row = spec.row or 0
    kind = fields.get("kind")
    exclude = ["parent", "lft", "rght", "tree_id", "level"]
    if kind and kind not in UnitKind.values:
        exclude.append("kind")  # said below, with the kinds there are
        problems.append((row, _problem(where, _unknown_kind(kind))))
    candidate = Unit(**fields)
    try:
        candidate.clean_fields(exclude=exclude)
    except ValidationError as exc:
        for field, messages in _messages(exc).items():
            problems.extend((row, _problem(where, _field_message(field, m))) for m in messages)
    # Write what the fields cleaned: NFC text, ASCII digits in codes, as stored.
    fields.update((key, getattr(candidate, key)) for key in list(fields) if key not in exclude)
    # Under a row of an unknown kind the rule cannot be said (that row's problem is).
    known_parent = parent_kind is None or parent_kind in UnitKind.values
    if (
        kind in ALLOWED_PARENT_KINDS
        and known_parent
        and parent_kind not in ALLOWED_PARENT_KINDS[kind]
    ):
        problems.append((row, _problem(where, parent_rule_message(kind, parent_kind))))
    _check_siblings(name, here, spec.children, problems)
    for child in spec.children:
        _validate_spec(child, kind, here, problems)


def _check_siblings(
    parent_name: str, path: str, children: list[tree.NodeSpec], problems: list[Problem]
) -> None:
    seen: set[str] = set()
    for child in children:
        name = str(child.fields.get("name") or "").strip()
        if name in seen:
            message = _("Two sub-units of “%(parent)s” are both called “%(name)s”.") % {
                "parent": parent_name,
                "name": name,
            }
            where = _location(child, f"{path} / {name}")
            problems.append((child.row or 0, _problem(where, message)))
        if name:
            seen.add(name)


def _check_taken(parent: Unit, specs: list[tree.NodeSpec], problems: list[Problem]) -> None:
    """Names of new units that a child of ``parent`` already bears (one query)."""
    taken = set(Unit.objects.filter(parent=parent).values_list("name", flat=True))
    for spec in specs:
        name = spec.fields["name"]
        if name in taken:
            message = _("A unit called “%(name)s” already exists under “%(parent)s”.") % {
                "name": name,
                "parent": parent.name,
            }
            where = _location(spec, f"{parent.name} / {name}")
            problems.append((spec.row or 0, _problem(where, message)))


def _location(spec: tree.NodeSpec, path: str) -> str:
    if spec.row is not None:
        return _("Row %(row)d") % {"row": spec.row}
    return path or "?"


def _problem(where: str, message: str) -> str:
    return _("%(where)s: %(problem)s") % {"where": where, "problem": message}


def _field_message(field: str, message: str) -> str:
    if field == "non_field_errors":
        return message
    label = Unit._meta.get_field(field).verbose_name
    return _("%(field)s: %(message)s") % {"field": label, "message": message}


def _unknown_kind(kind: Any) -> str:
    # Translators: separates the items of a list, e.g. "institute, station".
    kinds = pgettext("list separator", ", ").join(str(label) for _k, label in UnitKind.choices)
    return _("Unknown kind “%(kind)s”; the kind must be one of: %(kinds)s.") % {
        "kind": kind,
        "kinds": kinds,
    }


def _rejected(problems: list[Problem]) -> ValidationFailed:
    messages = [message for _row, message in sorted(problems, key=lambda p: p[0])]
    count = len(messages)
    return ValidationFailed(
        # One problem: say it, as every other single error is said.
        messages[0]
        if count == 1
        else ngettext(
            "The import was rejected: %(count)d problem.",
            "The import was rejected: %(count)d problems.",
            count,
        )
        % {"count": count},
        code="invalid_import",
        detail={"non_field_errors": messages[:MAX_REPORTED_PROBLEMS]},
    )


# --- roles -------------------------------------------------------------------------------


def role_grant(*, actor: User, user: User, unit: Unit, role: str) -> RoleAssignment:
    """Grant ``role`` on ``unit`` (and so its subtree) to ``user``.

    Only to an account the actor already manages (``permissions.manageable_accounts``):
    never to a superuser, to an equal or to an account holding a role outside the actor's
    reach — otherwise a grant would hand the actor that account (and its password). Any
    other account is answered as if it did not exist.
    """
    if not can(actor, Action.MANAGE_ROLES, unit):
        raise PermissionDenied(_("Only a coordinator of this unit or above may grant roles here."))
    if not (actor.is_superuser or may_manage_account(actor, user)):
        raise _fail("user", _("Choose one of the accounts you manage."), code="invalid_user")
    if not user.is_active:
        raise _fail("user", _("This account is disabled."), code="user_inactive")
    if RoleAssignment.objects.filter(user=user, unit=unit, role=role).exists():
        raise _fail(
            "role", _("This user already holds this role on this unit."), code="duplicate_role"
        )
    assignment = RoleAssignment(user=user, unit=unit, role=role, granted_by=actor)
    _validated(assignment)
    with transaction.atomic():
        try:
            with transaction.atomic():
                assignment.save()
        except IntegrityError as exc:
            raise _fail(
                "role", _("This user already holds this role on this unit."), code="duplicate_role"
            ) from exc
        forget_grants(user)
        _audit(
            actor=actor,
            action=AuditAction.ROLE_GRANTED,
            unit=unit,
            object_repr=str(assignment),
            changes={"user": user.username, "role": role},
        )
    return assignment


def role_revoke(*, actor: User, assignment: RoleAssignment) -> None:
    if not can(actor, Action.MANAGE_ROLES, assignment.unit):
        raise PermissionDenied(_("Only a coordinator of this unit or above may revoke roles here."))
    if assignment.user_id == actor.pk and not actor.is_superuser:
        raise _fail(
            "non_field_errors",
            _("You cannot revoke your own role; ask a coordinator above you."),
            code="own_role",
        )
    if not dominates(actor, assignment):
        # A peer (a coordinator on the same unit) or a role above the actor's own.
        raise PermissionDenied(
            _("This role is at or above your own; ask a coordinator above you to revoke it.")
        )
    with transaction.atomic():
        _audit(
            actor=actor,
            action=AuditAction.ROLE_REVOKED,
            unit=assignment.unit,
            object_repr=str(assignment),
            changes={"user": assignment.user.username, "role": assignment.role},
        )
        assignment.delete()
        forget_grants(assignment.user)


# --- staff accounts ----------------------------------------------------------------------


def _require_manages(actor: User, user: User) -> None:
    """404 for an account the actor cannot see, 403 for one they see but do not manage."""
    if actor.is_superuser:
        return
    if not users_in_scope(actor).filter(pk=user.pk).exists():
        raise NotFound()
    require_manages_account(actor, user)


def _clean_phone(phone: str) -> str:
    if not phone:
        return ""
    try:
        validate_mobile(phone)
    except ValidationError as exc:
        raise _fail("phone", exc.messages[0], code="invalid_phone") from exc
    return normalize_mobile(phone)


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(
            exc.messages[0], code="weak_password", detail={"password": exc.messages}
        ) from exc


def user_create(
    *,
    actor: User,
    username: str,
    password: str,
    name: str = "",
    phone: str = "",
    unit: Unit | None = None,
    role: str | None = None,
) -> User:
    """Create a staff account; with ``unit`` and ``role``, grant that role at once."""
    if not (actor.is_superuser or has_any_role(actor, Role.COORDINATOR)):
        raise PermissionDenied(_("Only coordinators create staff accounts."))
    if (unit is None) != (role is None):
        raise _fail("role", _("Give both a unit and a role, or neither."))
    if unit is not None and not can(actor, Action.MANAGE_ROLES, unit):
        raise PermissionDenied(_("Only a coordinator of this unit or above may grant roles here."))
    user = User(username=(username or "").strip(), name=(name or "").strip(), created_by=actor)
    user.phone = _clean_phone(phone)
    _validated(user, exclude=["password"])
    _check_password(password, user)
    user.set_password(password)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise _fail(
                "username", _("This username is taken."), code="duplicate_username"
            ) from exc
        _audit(
            actor=actor,
            action=AuditAction.USER_CREATED,
            unit=unit,
            object_repr=user.username,
            changes={"name": user.name},
        )
        if unit is not None and role is not None:
            role_grant(actor=actor, user=user, unit=unit, role=role)
    return user


def user_update(*, actor: User, user: User, data: Mapping[str, Any]) -> User:
    """Change an account: ``name``, ``phone``, ``is_active``, ``password``.

    On another person's account the actor must manage it (see ``permissions``); setting
    their password ends their sessions (Django checks each session against the password
    hash) and deletes their API token. On one's own account, a new password needs the
    current one (``old_password``), and one cannot disable oneself.
    """
    own = user.pk == actor.pk
    if own:
        if "is_active" in data and not data["is_active"]:
            raise _fail("is_active", _("You cannot disable your own account."), code="own_account")
        if data.get("password"):
            _check_old_password(user, data.get("old_password") or "")
    else:
        _require_manages(actor, user)
    changes: dict[str, Any] = {}
    if "name" in data and data["name"] != user.name:
        changes["name"] = [user.name, data["name"]]
        user.name = (data["name"] or "").strip()
    if "phone" in data:
        phone = _clean_phone(data["phone"])
        if phone != user.phone:
            changes["phone"] = "changed"  # never the number itself in the audit trail
            user.phone = phone
    if "is_active" in data and bool(data["is_active"]) != user.is_active:
        changes["is_active"] = [user.is_active, bool(data["is_active"])]
        user.is_active = bool(data["is_active"])
    if data.get("password"):
        _check_password(data["password"], user)
        user.set_password(data["password"])
        changes["password"] = "reset"  # noqa: S105 - an audit note, not a password
    if not changes:
        return user
    _validated(user, exclude=["password"])
    with transaction.atomic():
        user.save()
        if "password" in changes or ("is_active" in changes and not user.is_active):
            _end_api_access(user)
        _audit(
            actor=actor,
            action=AuditAction.USER_CHANGED,
            unit=_home_unit(user),
            object_repr=user.username,
            changes=changes,
        )
    return user


def password_change_own(*, user: User, old_password: str, new_password: str) -> User:
    """A person changes their own password (pages and ``/users/me/``): the current one is
    required, the new one must pass the validators; their API token is deleted and their
    other sessions end (the caller keeps its own session with ``update_session_auth_hash``).
    """
    return user_update(
        actor=user, user=user, data={"password": new_password, "old_password": old_password}
    )


def _check_old_password(user: User, old_password: str) -> None:
    if not old_password:
        raise _fail(
            "old_password",
            _("Give your current password to set a new one."),
            code="old_password_required",
        )
    if not user.check_password(old_password):
        raise _fail("old_password", _("Your current password is wrong."), code="wrong_password")


def _end_api_access(user: User) -> None:
    """Delete the account's API token: a new password or a disabled account ends it."""
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user=user).delete()


def _home_unit(user: User) -> Unit | None:
    """The unit of the account's topmost role, so its changes show in that unit's audit log."""
    first = (
        RoleAssignment.objects.filter(user=user)
        .select_related("unit")
        .order_by("unit__level", "unit__tree_id", "unit__lft")
        .first()
    )
    return first.unit if first is not None else None
