"""Server-rendered pages of the practice network. Thin: selectors read, services write."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_GET, require_POST

from activities.public import home_sections, unit_sections
from portal import imports
from portal.cache import (
    ACTIVITIES,
    NETWORK,
    ORDERS,
    VOLUNTEERS,
    cache_public_page,
    versioned_value,
)
from portal.errors import Conflict, PermissionDenied, ValidationFailed
from portal.http import AuthenticatedRequest, attachment
from portal.models import ImportJob
from portal.pagination import paginate, query_without_page
from portal.xlsx import XLSX_CONTENT_TYPE, write_workbook

# A unit's public page lists its teams and counts its volunteers (and the home page too).
from volunteers.stats import subtree_totals, volunteer_figures
from volunteers.teams import public_teams_of

from . import audit, selectors, services, spreadsheets
from .choices import ALLOWED_PARENT_KINDS, AuditAction, Role, UnitKind
from .filtersets import AuditFilterSet, UnitFilterSet
from .forms import (
    RoleGrantForm,
    UnitForm,
    UnitImportForm,
    UnitMoveForm,
    UserCreateForm,
    UserEditForm,
)
from .models import Unit
from .permissions import (
    Action,
    can,
    dominates,
    has_any_role,
    manageable_accounts,
    require,
    require_manages_account,
)
from .qr import qr_svg

# Top-level units per page of the tree page (each shown with its sub-units), units per page
# of its search results, and top-level units the home page lists with their figures.
TREE_ROOTS_PER_PAGE = 50
# Above this many top-level trees their lists start closed: a page is then a list of names.
TREE_ROOTS_OPEN = 10
SEARCH_PER_PAGE = 50
HOME_ROOTS = 20
# Menu headlines printed on a station's QR poster.
POSTER_MENU = 8


def _tree_depth(top: Unit | None, roots: int) -> int:
    """Levels shown below the focus on the tree page: a county down to its stations (two
    levels), but only one under a region (a province has ~80 counties and ~1,000
    institutes) and under the tops of several trees sharing the installation — none under
    them when there are more than ``TREE_ROOTS_OPEN``: the page is then a list of the
    tops, each opening on its own page (a page of 50 counties with their towns was 190 KB
    and ~100 ms of CPU; see docs/performance.md)."""
    if top is None:
        if roots > TREE_ROOTS_OPEN:
            return 0
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


def _volunteer_totals() -> dict[str, Any]:
    figures = volunteer_figures(None)
    return {key: figures[key] for key in ("volunteers", "teams", "volunteer_hours")}


@cache_public_page(NETWORK, VOLUNTEERS, ACTIVITIES)
def home(request: HttpRequest) -> HttpResponse:
    # The first HOME_ROOTS trees are listed, whatever the size of the database. The figures
    # are the whole network's: counted once after each write (one index-only count), then
    # read from the cache under the network version, like the pages themselves.
    roots, more = selectors.roots_with_counts(limit=HOME_ROOTS)
    counts = versioned_value("network-counts", (NETWORK,), selectors.network_counts)
    service = versioned_value("volunteer-counts", (NETWORK, VOLUNTEERS), _volunteer_totals)
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
            "service": service,
            "levels": [(k, label, counts[k]) for k, label in UnitKind.choices],
            "roots": roots,
            "more_roots": more,
            "focus": focus,
            "chart": [{"name": u.name, "stations": u.station_count, "id": u.pk} for u in chart],
            "categories": selectors.categories(),
            # "Find my station" picks the town right here when the network is one county
            # (its towns are the chart's units: no query more).
            "find_towns": (
                [u for u in chart if u.kind == UnitKind.INSTITUTE]
                if focus is not None and focus.kind == UnitKind.CENTRE
                else []
            ),
            # The next planned and the latest approved activities (once per write).
            **home_sections(),
        },
    )


@cache_public_page(NETWORK)
def unit_tree(request: HttpRequest) -> HttpResponse:
    filterset = UnitFilterSet(request.GET or None, queryset=selectors.units_visible(request.user))
    top = None
    if request.GET.get("within"):
        # The filterset's id field: "1.5" or an id out of range is a 400 page, not a 500.
        form = filterset.form
        if not form.is_valid() and "within" in form.errors:
            raise BadRequest(form.errors["within"][0])
        within = form.cleaned_data["within"]
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
        page = paginate(request, filterset.qs.order_by("tree_id", "lft"), SEARCH_PER_PAGE)
        results = list(page.object_list)
        paths = selectors.unit_paths(results)
        for unit in results:
            unit.path_names = paths[unit.pk]
        context["results"] = results
        context["page"] = page
    elif not searching:
        page = None
        if top is None:
            # Many trees share the installation: a page of them at a time, each as deep as
            # _tree_depth says; deeper levels open on demand (``?within=``).
            page = paginate(
                request,
                selectors.visible_roots(request.user).values_list("tree_id", flat=True),
                TREE_ROOTS_PER_PAGE,
            )
            depth = _tree_depth(None, page.paginator.count)
            if page.paginator.count > TREE_ROOTS_OPEN:
                context["open_below"] = 0
            nodes = selectors.unit_subtree(
                request.user, top=None, depth=depth, trees=page.object_list
            )
        else:
            nodes = selectors.unit_subtree(request.user, top=top, depth=_tree_depth(top, 1))
        context["rows"], context["closing"] = selectors.tree_rows(
            nodes, open_below=context["open_below"]
        )
        context["page"] = page
    context["query"] = query_without_page(request)
    return render(request, "practice/unit_tree.html", context)


@cache_public_page(NETWORK, VOLUNTEERS, ORDERS, ACTIVITIES)
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    unit = get_object_or_404(Unit, pk=pk)
    user = request.user
    staff = can(user, Action.VIEW, unit)
    if not unit.is_active and not staff:
        # A QR poster may still hang on a closed station's door: tell residents where to
        # go instead (410 Gone: the unit no longer serves the public; no staff data).
        return render(
            request, "practice/unit_closed.html", selectors.closed_unit_context(unit), status=410
        )
    if user.is_authenticated:
        shown = _unit_public_figures(unit, user)
    else:
        # What visitors see is kept under the versions of the data it shows, so even with
        # the page cache off the page reads no count per request (computed once per write).
        shown = versioned_value(
            f"unit-public:{unit.pk}",
            (NETWORK, VOLUNTEERS, ORDERS),
            functools.partial(_unit_public_figures, unit, None),
        )
    return render(
        request,
        "practice/unit_detail.html",
        {
            "unit": unit,
            **shown,
            **unit_sections(unit),
            "staff": staff,
            "may": {
                "change": can(user, Action.CHANGE, unit),
                "add_child": can(user, Action.ADD_CHILD, unit) and unit.kind != UnitKind.POINT,
                "move": can(user, Action.MOVE, unit),
                "delete": can(user, Action.DELETE, unit),
                "roles": can(user, Action.MANAGE_ROLES, unit),
            },
            "audit": audit.with_lines(selectors.audit_for_unit(unit)) if staff else [],
        },
    )


def _unit_public_figures(unit: Unit, user: Any) -> dict[str, Any]:
    """A unit page's ancestors, sub-units with their counts, figures, teams, service menu
    and completed services (for staff, ``user`` marks the inactive units below)."""
    from orders.views_public import unit_order_summary

    counts = selectors.network_counts(within=unit)
    return {
        "ancestors": list(selectors.unit_ancestors(unit)),
        "children": list(selectors.children_with_counts(unit, user=user)),
        "counts": counts,
        "active_below": sum(counts.values()),
        "teams": public_teams_of(unit),
        "service": subtree_totals(unit),
        **unit_order_summary(unit),
    }


def unit_qr(request: HttpRequest, pk: int) -> HttpResponse:
    """An SVG QR code of the unit's public page, to print on the station's door."""
    unit = get_object_or_404(selectors.units_visible(request.user).only("pk"), pk=pk)
    response = HttpResponse(
        qr_svg(request.build_absolute_uri(unit.get_absolute_url())), content_type="image/svg+xml"
    )
    response["Cache-Control"] = "public, max-age=86400"
    return response


@cache_public_page(NETWORK, ORDERS)
def unit_poster(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable A4 sheet: the unit's name, the QR code of its order page (the stable
    ``/units/<id>/order/``), the menu's headlines, address, telephone and hours."""
    from orders.selectors import menu_for_unit

    unit = get_object_or_404(selectors.units_visible(request.user), pk=pk)
    url = request.build_absolute_uri(reverse("order-create", args=[unit.pk]))
    return render(
        request,
        "practice/unit_poster.html",
        {
            "unit": unit,
            "url": url,
            # The QR code inline (segno's SVG: no script, no style attribute).
            "qr": mark_safe(qr_svg(url).decode()),  # noqa: S308 - our own SVG of our URL
            "menu": list(menu_for_unit(unit)[:POSTER_MENU]),
        },
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
            "audit": audit.with_lines(selectors.audit_in_scope(request.user)),
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
    return render(
        request,
        "practice/unit_move.html",
        {"form": form, "unit": unit, "below": selectors.count_below(unit)},
    )


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
    """Upload a workbook of units for this one: list its problems by row, or keep it and
    show what it would do (:func:`unit_import_job`). Nothing is written before the
    person confirms."""
    unit = _staff_unit(request, pk, Action.ADD_CHILD)
    posted = request.method == "POST"
    form = UnitImportForm(request.POST if posted else None, request.FILES if posted else None)
    rejected: ValidationFailed | None = None
    if posted and form.is_valid():
        rows = form.cleaned_data["file"]
        try:
            plan = services.unit_import_plan(actor=request.user, parent=unit, rows=rows)
            plan.raise_problems()
        except ValidationFailed as exc:
            rejected = exc
        else:
            job = imports.create_job(
                kind=UNIT_IMPORT,
                actor=request.user,
                target_id=unit.pk,
                filename=form.filename,
                payload={"rows": [row.to_json() for row in rows]},
                plan=plan.summary(),
                digest=plan.digest,
            )
            return redirect("unit-import-job", pk=unit.pk, job=job.pk)
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
            "statuses": spreadsheets.status_guide(),
            "max_rows": spreadsheets.MAX_ROWS,
            "max_megabytes": spreadsheets.MAX_FILE_BYTES // (1024 * 1024),
        },
    )


# The function that applies a confirmed import of units (see portal.imports).
UNIT_IMPORT = "practice.services.unit_import_job"
# Rows of each list a preview shows (the counts say how many there are in all).
PREVIEW_ROWS = 200


def _unit_import_job(request: AuthenticatedRequest, pk: int, job: int) -> tuple[Unit, ImportJob]:
    """The unit (404 outside scope) and the person's own import job for it (else 404)."""
    unit = _staff_unit(request, pk, Action.ADD_CHILD)
    found = get_object_or_404(
        ImportJob, pk=job, actor=request.user, kind=UNIT_IMPORT, target_id=unit.pk
    )
    return unit, found


def _shown_value(key: str, value: Any) -> str:
    if key == "kind":
        return str(dict(UnitKind.choices).get(value, value))
    if key == "is_active":
        return str(spreadsheets.STATUS_LABELS[bool(value)])
    return "" if value is None else str(value)


def _preview(plan: dict[str, Any]) -> dict[str, Any]:
    """The stored plan, laid out for the page (labels, first rows of each list)."""
    labels = {f.name: f.verbose_name for f in Unit._meta.get_fields() if hasattr(f, "verbose_name")}
    labels["is_active"] = pgettext("spreadsheet column", "Status")
    changed = [
        {
            **entry,
            "changes": [
                (labels.get(key, key), _shown_value(key, old), _shown_value(key, new))
                for key, (old, new) in entry["changes"].items()
            ],
        }
        for entry in plan.get("changed", [])[:PREVIEW_ROWS]
    ]
    created = [
        {
            **entry,
            "kind": _shown_value("kind", entry["kind"]),
            "status": _shown_value("is_active", entry["active"]),
        }
        for entry in plan.get("created", [])[:PREVIEW_ROWS]
    ]
    counts = {key: len(plan.get(key, [])) for key in ("created", "changed", "unchanged")}
    return {
        "created": created,
        "changed": changed,
        "unchanged": plan.get("unchanged", [])[:PREVIEW_ROWS],
        "counts": counts,
        "more": {key: max(0, n - PREVIEW_ROWS) for key, n in counts.items()},
    }


@login_required
@require_GET
def unit_import_job(request: AuthenticatedRequest, pk: int, job: int) -> HttpResponse:
    """An import's page: its preview to confirm, its progress, then its result."""
    unit, found = _unit_import_job(request, pk, job)
    problems = found.error.get("detail", {}).get("non_field_errors", []) if found.error else []
    return render(
        request,
        "practice/unit_import_job.html",
        {
            "unit": unit,
            "job": found,
            "preview": _preview(found.plan),
            "progress": imports.status(found),
            "problems": problems,
        },
    )


@login_required
@require_POST
def unit_import_confirm(request: AuthenticatedRequest, pk: int, job: int) -> HttpResponse:
    """Apply a previewed import (in the background; at once when the queue is down)."""
    unit, found = _unit_import_job(request, pk, job)
    imports.confirm(found)
    return redirect("unit-import-job", pk=unit.pk, job=found.pk)


@login_required
@require_POST
def unit_import_run(request: AuthenticatedRequest, pk: int, job: int) -> HttpResponse:
    """Run an import no background worker has taken, in this request."""
    unit, found = _unit_import_job(request, pk, job)
    imports.run_stalled(found)
    return redirect("unit-import-job", pk=unit.pk, job=found.pk)


@login_required
@require_GET
def unit_import_status(request: AuthenticatedRequest, pk: int, job: int) -> JsonResponse:
    """The job's state and progress, polled by the import page (``import-job.js``)."""
    _unit, found = _unit_import_job(request, pk, job)
    return JsonResponse(imports.status(found))


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


def _confirmed_count(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


@login_required
def unit_deactivate_subtree(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Deactivate a unit and every unit below it, after a page saying how many."""
    unit = _staff_unit(request, pk, Action.CHANGE)
    error = None
    if request.method == "POST":
        expected = _confirmed_count(request.POST.get("expected", ""))
        try:
            if expected is None:
                raise Conflict(_("Please confirm again."), code="count_changed")
            count = services.unit_deactivate_subtree(
                actor=request.user, unit=unit, expected=expected
            )
        except Conflict as exc:
            error = str(exc.message)
            unit.refresh_from_db()
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)d unit was deactivated; the public no longer sees it.",
                    "%(count)d units were deactivated; the public no longer sees them.",
                    count,
                )
                % {"count": count},
            )
            return redirect(unit)
    below = selectors.count_below(unit)
    return render(
        request,
        "practice/unit_deactivate_subtree.html",
        {
            "unit": unit,
            "ancestors": selectors.unit_ancestors(unit),
            "count": below["active"] + (1 if unit.is_active else 0),
            "error": error,
        },
    )


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
        users = manageable_accounts(request.user).filter(is_active=True).order_by("username")
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
    assignments = list(selectors.role_assignments_for(request.user, unit=unit))
    return render(
        request,
        "practice/unit_roles.html",
        {
            "unit": unit,
            "assignments": assignments,
            # Roles the user stands above: not their own, not a peer's on the same unit.
            "revocable": {a.pk for a in assignments if may_manage and dominates(request.user, a)},
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
    except (ValidationFailed, PermissionDenied) as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("The role was revoked."))
    back = request.POST.get("next") or reverse("unit-roles", args=[assignment.unit_id])
    return HttpResponseRedirect(back if back.startswith("/") and not back.startswith("//") else "/")


@login_required
def user_list(request: AuthenticatedRequest) -> HttpResponse:
    if not has_any_role(request.user, Role.COORDINATOR):
        require(request.user, Action.MANAGE_USERS, None)
    users = selectors.account_rows(
        request.user, selectors.users_in_scope(request.user).order_by("username")
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
    # Seen in the list is not managed: a peer's or an outsider's account (and its phone
    # number) is not shown in full, let alone edited.
    require_manages_account(request.user, account)
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


# --- the audit trail -----------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


def _audit_filterset(
    request: AuthenticatedRequest, pk: int | None
) -> tuple[Unit | None, AuditFilterSet]:
    """The audit entries the user may read (about unit ``pk``'s subtree, or everything in
    their scope) with the query string's filters; 404 for a unit outside their scope and
    for someone with no scope at all."""
    unit = _staff_unit(request, pk, Action.VIEW) if pk is not None else None
    if unit is None and not has_any_role(request.user):
        raise Http404
    entries = selectors.audit_entries(request.user, within=unit)
    return unit, AuditFilterSet(request.GET, queryset=entries, request=request)


def _indented(units: Iterable[Unit]) -> list[tuple[str, str]]:
    """(id, name indented by its depth) for a drop-down of units in tree order."""
    units = list(units)
    top = min((u.level for u in units), default=0)
    return [(str(u.pk), "\u3000" * (u.level - top) + u.name) for u in units]


@login_required
@require_GET
def audit_log(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    """The audit trail, filtered and paged: a unit's subtree, or all of the user's scope."""
    unit, filterset = _audit_filterset(request, pk)
    entries = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = paginate(request, entries, AUDIT_PAGE_SIZE)
    return render(
        request,
        "practice/audit_list.html",
        {
            "unit": unit,
            "ancestors": selectors.unit_ancestors(unit) if unit else [],
            "filterset": filterset,
            "page": page,
            "entries": audit.with_lines(page.object_list),
            "actions": AuditAction.choices,
            "actors": selectors.audit_actors(filterset.queryset),
            "unit_choices": _indented(selectors.audit_unit_choices(request.user))
            if unit is None
            else [],
            "query": query_without_page(request),
        },
    )


# Rows in one export of the audit trail (the newest ones); narrow the dates for older ones.
AUDIT_EXPORT_LIMIT = 10_000


@login_required
@require_GET
def audit_export(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    """The filtered audit trail as an Excel workbook (the newest entries, at most
    ``AUDIT_EXPORT_LIMIT``)."""
    unit, filterset = _audit_filterset(request, pk)
    if not filterset.is_valid():  # the list page says what is wrong
        page = reverse("unit-audit", args=[pk]) if pk is not None else reverse("audit")
        return HttpResponseRedirect(f"{page}?{request.GET.urlencode()}")
    entries = filterset.qs[:AUDIT_EXPORT_LIMIT].iterator(chunk_size=1000)
    today = timezone.localdate()
    # Translators: a file name, without its extension.
    label = pgettext("file name", "audit-log")
    if unit is None:
        filename, fallback = f"{label}-{today:%Y%m%d}.xlsx", f"audit-log-{today:%Y%m%d}.xlsx"
    else:
        name, _ascii = spreadsheets.export_filenames(unit, today)
        filename, fallback = f"{label}-{name}", f"audit-log-{unit.pk}-{today:%Y%m%d}.xlsx"
    content = write_workbook(
        # Translators: the name of the sheet in an exported workbook (at most 31 characters).
        title=pgettext("spreadsheet", "Audit log"),
        headers=[str(header) for header in audit.EXPORT_HEADERS],
        rows=audit.export_rows(entries),
        widths=audit.EXPORT_WIDTHS,
    )
    return attachment(content, content_type=XLSX_CONTENT_TYPE, filename=filename, fallback=fallback)
