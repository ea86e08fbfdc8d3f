"""Every write to the practice network goes through these functions.

Each is keyword-only, told who acts (``actor``), checks the policy, runs in one
transaction holding the tree lock where the tree changes, and writes an audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from portal.errors import NotFound, PermissionDenied, ValidationFailed
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
from .permissions import Action, can, forget_grants, has_any_role, require, scope_q
from .selectors import users_in_scope

__all__ = [
    "role_grant",
    "role_revoke",
    "unit_create",
    "unit_delete",
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


def _fail(field: str, message: str, *, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, detail={field: [message]})


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
        _audit(
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
        _audit(
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
        _audit(
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
        _audit(
            actor=actor,
            action=AuditAction.UNIT_REACTIVATED if active else AuditAction.UNIT_DEACTIVATED,
            unit=fresh,
            object_repr=fresh.name,
        )
    return fresh


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
        _audit(actor=actor, action=AuditAction.UNIT_DELETED, unit=parent, object_repr=name)


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
        _audit(
            actor=actor,
            action=AuditAction.UNIT_IMPORTED,
            unit=nodes[0],
            object_repr=nodes[0].name,
            changes={"units": len(nodes)},
        )
    return nodes


def unit_import_rows(*, actor: User, parent: Unit, rows: Sequence[tree.UnitRow]) -> list[Unit]:
    """Create the units of a spreadsheet's rows under ``parent``, all or nothing.

    A row's parent is the nearest earlier row bearing the name it gives, or ``parent``
    itself when it gives none. Every row is checked first — kinds and the tree rules,
    names among siblings (in the file and under ``parent``), the field validators — and
    any problem, reported by row number, rejects the whole file. Then one transaction
    writes every unit (see :func:`tree.insert_children`) and an audit entry per unit placed
    directly under ``parent``.
    """
    require(actor, Action.ADD_CHILD, parent)
    unknown = {key for row in rows for key in row.fields} - set(UNIT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"unit_import_rows got unexpected fields: {sorted(unknown)}")
    if not rows:
        raise ValidationFailed(_("There are no units to import."), code="invalid_import")
    problems: list[Problem] = []
    specs = _nest_rows(rows, parent=parent, problems=problems)
    return _import_under(actor=actor, parent=parent, specs=specs, problems=problems)


def _nest_rows(
    rows: Sequence[tree.UnitRow], *, parent: Unit, problems: list[Problem]
) -> list[tree.NodeSpec]:
    """Rows → the subtrees going directly under ``parent``."""
    tops: list[tree.NodeSpec] = []
    named: dict[str, tree.NodeSpec] = {}  # the latest row bearing each name
    for row in rows:
        spec = tree.NodeSpec(dict(row.fields), row=row.row)
        parent_name = row.parent.strip()
        if not parent_name:
            tops.append(spec)
        elif parent_name in named:
            named[parent_name].children.append(spec)
        else:
            message = _(
                "The parent unit “%(name)s” is not defined in an earlier row (leave it empty "
                "for a unit directly under “%(unit)s”)."
            ) % {"name": parent_name, "unit": parent.name}
            problems.append((row.row, _problem(_location(spec, ""), message)))
        name = str(row.fields.get("name") or "").strip()
        if name:
            named[name] = spec
    return tops


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
            AuditEntry.objects.bulk_create(
                _audit_entry(
                    actor=actor,
                    action=AuditAction.UNIT_IMPORTED,
                    unit=top,
                    object_repr=top.name,
                    changes={"units": top.descendant_total + 1},
                )
                for top in nodes
                if top.parent_id == fresh.pk
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
    try:
        Unit(**fields).clean_fields(exclude=exclude)
    except ValidationError as exc:
        for field, messages in _messages(exc).items():
            problems.extend((row, _problem(where, _field_message(field, m))) for m in messages)
    if kind in ALLOWED_PARENT_KINDS and parent_kind not in ALLOWED_PARENT_KINDS[kind]:
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
    """Grant ``role`` on ``unit`` (and so its subtree) to ``user``."""
    if not can(actor, Action.MANAGE_ROLES, unit):
        raise PermissionDenied(_("Only a coordinator of this unit or above may grant roles here."))
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
    if actor.is_superuser:
        return
    if not users_in_scope(actor).filter(pk=user.pk).exists():
        raise NotFound()
    outside = RoleAssignment.objects.filter(user=user).exclude(
        scope_q(actor, Action.MANAGE_USERS, prefix="unit__")
    )
    if outside.exists():
        raise PermissionDenied(
            _("This account also holds roles outside your area; ask a coordinator above you.")
        )


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
    """Change a staff account: ``name``, ``phone``, ``is_active``, ``password``."""
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
        if user.pk == actor.pk:
            raise _fail("is_active", _("You cannot disable your own account."), code="own_account")
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
        if "is_active" in changes and not user.is_active:
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user=user).delete()
        _audit(
            actor=actor,
            action=AuditAction.USER_CHANGED,
            unit=None,
            object_repr=user.username,
            changes=changes,
        )
    return user
