"""Server-rendered pages of the practice network. Thin: selectors read, services write."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from portal.errors import ValidationFailed
from portal.http import AuthenticatedRequest

from . import selectors, services, spreadsheets
from .choices import ALLOWED_PARENT_KINDS, Role, UnitKind
from .filtersets import UnitFilterSet
from .forms import (
    RoleGrantForm,
    UnitForm,
    UnitImportForm,
    UnitMoveForm,
    UserCreateForm,
    UserEditForm,
)
from .models import RoleAssignment, Unit
from .permissions import Action, can, has_any_role, require
from .qr import qr_svg


def _tree_depth(top: Unit | None, roots: int) -> int:
    """Levels shown below the focus on the tree page: a county down to its stations (two
    levels), but only one under a region (a province has ~80 counties and ~1,000
    institutes) and under the tops of several trees sharing the installation."""
    if top is None:
        return 1 if roots > 1 else 2
    return 1 if top.kind == UnitKind.REGION else 2


def _show_errors(form: BaseForm, exc: ValidationFailed) -> None:
    if not exc.detail:
        form.add_error(None, str(exc.message))
        return
    for field, errors in exc.detail.items():
        for error in errors:
            form.add_error(field if field in form.fields else None, error)


def _staff_unit(request: HttpRequest, pk: int, action: Action) -> Unit:
    """The unit if it is inside the user's staff scope (else 404) and the role allows ``action``."""
    unit = get_object_or_404(Unit.objects.for_user(request.user, Action.VIEW), pk=pk)
    require(request.user, action, unit)
    return unit


# --- public pages ------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    counts = selectors.network_counts()
    roots = selectors.roots_with_counts()
    focus = roots[0] if len(roots) == 1 else None
    if focus is not None:
        # Points hold no stations: the chart compares the units that do.
        chart = selectors.children_with_counts(
            focus, kinds=[UnitKind.REGION, UnitKind.CENTRE, UnitKind.INSTITUTE]
        )
    else:
        chart = roots
    return render(
        request,
        "practice/home.html",
        {
            "counts": counts,
            "levels": [(k, label, counts[k]) for k, label in UnitKind.choices],
            "roots": roots,
            "focus": focus,
            "chart": [{"name": u.name, "stations": u.station_count, "id": u.pk} for u in chart],
            "categories": selectors.categories(),
        },
    )


def unit_tree(request: HttpRequest) -> HttpResponse:
    filterset = UnitFilterSet(request.GET or None, queryset=selectors.units_visible(request.user))
    top = None
    within = request.GET.get("within")
    if within and within.isdigit():
        top = get_object_or_404(selectors.units_visible(request.user), pk=within)
    searching = bool(request.GET.get("q", "").strip() or request.GET.get("kind"))
    context: dict[str, Any] = {
        "filterset": filterset,
        "top": top,
        "searching": searching,
        "open_below": (top.level if top else 0) + 1,
        "perms_root": can(request.user, Action.ADD_CHILD, None),
    }
    if searching and filterset.is_valid():
        results = list(filterset.qs.order_by("tree_id", "lft")[:200])
        paths = selectors.unit_paths(results)
        for unit in results:
            unit.path_names = paths[unit.pk]
        context["results"] = results
    else:
        depth = _tree_depth(top, selectors.root_count() if top is None else 1)
        context["roots"] = selectors.unit_subtree(request.user, top=top, depth=depth)
        context["ancestors"] = selectors.unit_ancestors(top) if top else []
    return render(request, "practice/unit_tree.html", context)


def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(selectors.units_visible(request.user), pk=pk)
    user = request.user
    staff = can(user, Action.VIEW, unit)
    return render(
        request,
        "practice/unit_detail.html",
        {
            "unit": unit,
            "ancestors": selectors.unit_ancestors(unit),
            "children": selectors.children_with_counts(unit, user=user),
            "counts": selectors.network_counts(within=unit),
            "staff": staff,
            "may": {
                "change": can(user, Action.CHANGE, unit),
                "add_child": can(user, Action.ADD_CHILD, unit) and unit.kind != UnitKind.POINT,
                "move": can(user, Action.MOVE, unit),
                "delete": can(user, Action.DELETE, unit),
                "roles": can(user, Action.MANAGE_ROLES, unit),
            },
            "audit": selectors.audit_for_unit(unit) if staff else [],
        },
    )


def unit_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """An SVG QR code of the unit's public page, to print on the station's door."""
    unit = get_object_or_404(selectors.units_visible(request.user).only("pk"), pk=pk)
    response = HttpResponse(
        qr_svg(request.build_absolute_uri(unit.get_absolute_url())), content_type="image/svg+xml"
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


def unit_poster(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable A4 sheet: the unit's name, QR code, address, telephone and hours."""
    unit = get_object_or_404(selectors.units_visible(request.user), pk=pk)
    return render(
        request,
        "practice/unit_poster.html",
        {"unit": unit, "url": request.build_absolute_uri(unit.get_absolute_url())},
    )


# --- staff pages -------------------------------------------------------------------------


@login_required
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    return render(
        request,
        "practice/dashboard.html",
        {
            "grants": selectors.user_grants(request.user),
            "is_coordinator": has_any_role(request.user, Role.COORDINATOR),
            "audit": selectors.audit_in_scope(request.user),
        },
    )


@login_required
def unit_create(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    parent = _staff_unit(request, pk, Action.ADD_CHILD) if pk is not None else None
    if parent is None:
        require(request.user, Action.ADD_CHILD, None)
    form = UnitForm(request.POST or None, parent=parent)
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.unit_create(actor=request.user, parent=parent, **form.cleaned_data)
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("“%(name)s” was created.") % {"name": unit.name})
            return redirect(unit)
    return render(
        request, "practice/unit_form.html", {"form": form, "parent": parent, "unit": None}
    )


@login_required
def unit_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    unit = _staff_unit(request, pk, Action.CHANGE)
    form = UnitForm(request.POST or None, instance=unit)
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.unit_update(actor=request.user, unit=unit, data=form.cleaned_data)
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect(unit)
    return render(
        request, "practice/unit_form.html", {"form": form, "parent": unit.parent, "unit": unit}
    )


@login_required
def unit_move(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    unit = _staff_unit(request, pk, Action.MOVE)
    candidates = (
        Unit.objects.for_user(request.user, Action.ADD_CHILD)
        .filter(kind__in=[k for k in ALLOWED_PARENT_KINDS[unit.kind] if k], is_active=True)
        .exclude(tree_id=unit.tree_id, lft__gte=unit.lft, lft__lte=unit.rght)
        .exclude(pk=unit.parent_id)
        .order_by("tree_id", "lft")
    )
    form = UnitMoveForm(request.POST or None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.unit_move(
                actor=request.user, unit=unit, parent=form.cleaned_data["parent"]
            )
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("“%(name)s” was moved.") % {"name": unit.name})
            return redirect(unit)
    return render(request, "practice/unit_move.html", {"form": form, "unit": unit})


@login_required
@require_GET
def unit_export(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The units below this one as an Excel workbook."""
    unit = _staff_unit(request, pk, Action.VIEW)
    return spreadsheets.download(unit, selectors.units_for_export(unit))


@login_required
@require_GET
def unit_import_template(request: AuthenticatedRequest) -> HttpResponse:
    return spreadsheets.template_download()


@login_required
def unit_import(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Create units under this one from an Excel workbook: all of them, or none."""
    unit = _staff_unit(request, pk, Action.ADD_CHILD)
    posted = request.method == "POST"
    form = UnitImportForm(request.POST if posted else None, request.FILES if posted else None)
    rejected: ValidationFailed | None = None
    if posted and form.is_valid():
        try:
            nodes = services.unit_import_rows(
                actor=request.user, parent=unit, rows=form.cleaned_data["file"]
            )
        except ValidationFailed as exc:
            rejected = exc
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d unit was imported under “%(name)s”.",
                    "%(count)d units were imported under “%(name)s”.",
                    len(nodes),
                )
                % {"count": len(nodes), "name": unit.name},
            )
            return redirect(unit)
    return render(
        request,
        "practice/unit_import.html",
        {
            "form": form,
            "unit": unit,
            "rejected": rejected,
            "problems": rejected.detail.get("non_field_errors", []) if rejected else [],
            "columns": spreadsheets.column_guide(),
            "kinds": spreadsheets.kind_guide(),
            "max_rows": spreadsheets.MAX_ROWS,
            "max_megabytes": spreadsheets.MAX_FILE_BYTES // (1024 * 1024),
        },
    )


@login_required
@require_POST
def unit_set_active(request: AuthenticatedRequest, pk: int, active: bool) -> HttpResponse:
    unit = _staff_unit(request, pk, Action.CHANGE)
    try:
        services.unit_set_active(actor=request.user, unit=unit, active=active)
    except ValidationFailed as exc:
        messages.error(request, str(exc.message))
    else:
        if active:
            messages.success(request, _("“%(name)s” is active again.") % {"name": unit.name})
        else:
            messages.success(
                request,
                _("“%(name)s” was deactivated; the public no longer sees it.")
                % {"name": unit.name},
            )
    return redirect(unit)


@login_required
def unit_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    unit = _staff_unit(request, pk, Action.DELETE)
    error = None
    if request.method == "POST":
        parent = unit.parent
        try:
            services.unit_delete(actor=request.user, unit=unit)
        except ValidationFailed as exc:
            error = str(exc.message)
        else:
            messages.success(request, _("“%(name)s” was deleted.") % {"name": unit.name})
            return redirect(parent) if parent else redirect("unit-tree")
    return render(request, "practice/unit_confirm_delete.html", {"unit": unit, "error": error})


@login_required
def unit_roles(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    unit = _staff_unit(request, pk, Action.VIEW)
    may_manage = can(request.user, Action.MANAGE_ROLES, unit)
    form = None
    if may_manage:
        users = selectors.users_in_scope(request.user).filter(is_active=True).order_by("username")
        form = RoleGrantForm(request.POST or None, users=users)
        if request.method == "POST" and form.is_valid():
            try:
                services.role_grant(
                    actor=request.user,
                    user=form.cleaned_data["user"],
                    unit=unit,
                    role=form.cleaned_data["role"],
                )
            except ValidationFailed as exc:
                _show_errors(form, exc)
            else:
                messages.success(request, _("The role was granted."))
                return redirect("unit-roles", pk=unit.pk)
    elif request.method == "POST":
        require(request.user, Action.MANAGE_ROLES, unit)
    return render(
        request,
        "practice/unit_roles.html",
        {
            "unit": unit,
            "assignments": selectors.role_assignments_for(request.user, unit=unit),
            "form": form,
            "may_manage": may_manage,
        },
    )


@login_required
@require_POST
def role_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    assignment = get_object_or_404(selectors.role_assignments_for(request.user), pk=pk)
    try:
        services.role_revoke(actor=request.user, assignment=assignment)
    except ValidationFailed as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The role was revoked."))
    back = request.POST.get("next") or reverse("unit-roles", args=[assignment.unit_id])
    return HttpResponseRedirect(back if back.startswith("/") and not back.startswith("//") else "/")


@login_required
def user_list(request: AuthenticatedRequest) -> HttpResponse:
    if not has_any_role(request.user, Role.COORDINATOR):
        require(request.user, Action.MANAGE_USERS, None)
    users = (
        selectors.users_in_scope(request.user)
        .prefetch_related(
            Prefetch("role_assignments", queryset=RoleAssignment.objects.select_related("unit"))
        )
        .order_by("username")
    )
    return render(request, "practice/user_list.html", {"users": users})


@login_required
def user_create(request: AuthenticatedRequest) -> HttpResponse:
    if not has_any_role(request.user, Role.COORDINATOR):
        require(request.user, Action.MANAGE_USERS, None)
    units = Unit.objects.for_user(request.user, Action.MANAGE_ROLES).order_by("tree_id", "lft")
    form = UserCreateForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_create(
                actor=request.user,
                username=data["username"],
                password=data["password"],
                name=data["name"],
                phone=data["phone"],
                unit=data["unit"],
                role=data["role"] or None,
            )
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(
                request, _("The account “%(name)s” was created.") % {"name": user.username}
            )
            return redirect("user-list")
    return render(request, "practice/user_form.html", {"form": form, "account": None})


@login_required
def user_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(selectors.users_in_scope(request.user), pk=pk)
    initial = {"name": account.name, "phone": account.phone, "is_active": account.is_active}
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(actor=request.user, user=account, data=form.cleaned_data)
        except ValidationFailed as exc:
            _show_errors(form, exc)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect("user-list")
    return render(request, "practice/user_form.html", {"form": form, "account": account})
