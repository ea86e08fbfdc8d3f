"""Django admin. Unit writes go through the services so the tree lock and audit trail apply."""

from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from mptt.admin import MPTTModelAdmin

from portal.cache import NETWORK, bump_on_commit

from . import services
from .models import UNIT_EDITABLE_FIELDS, AuditEntry, Category, RoleAssignment, Unit, User


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)  # the admin site only lets staff accounts in


@admin.register(Unit)
class UnitAdmin(MPTTModelAdmin):
    list_display = ["tree_name", "kind", "division_code", "contact_name", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "division_code", "address"]
    # Django's own change list, in tree order: MPTT's would indent the names with style=""
    # attributes, which the Content-Security-Policy refuses. A class indents them instead.
    change_list_template = None

    class Media:
        css = {"all": ["portal/admin.css"]}

    @admin.display(description=_("name"))
    def tree_name(self, unit: Unit) -> SafeString:
        return format_html('<span class="tree-level-{}">{}</span>', min(unit.level, 9), unit.name)

    def save_model(self, request: HttpRequest, obj: Unit, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data[f] for f in UNIT_EDITABLE_FIELDS if f in form.cleaned_data}
        if not change:
            saved = services.unit_create(actor=_actor(request), parent=obj.parent, **data)
            obj.pk = saved.pk
            return
        original = Unit.objects.get(pk=obj.pk)
        unit = original
        if obj.parent_id != original.parent_id:
            unit = services.unit_move(actor=_actor(request), unit=unit, parent=obj.parent)
        unit = services.unit_update(actor=_actor(request), unit=unit, data=data)
        if obj.is_active != unit.is_active:
            services.unit_set_active(actor=_actor(request), unit=unit, active=obj.is_active)

    def delete_model(self, request: HttpRequest, obj: Unit) -> None:
        services.unit_delete(actor=_actor(request), unit=obj)

    def has_delete_permission(self, request: HttpRequest, obj: Unit | None = None) -> bool:
        # Bulk delete would bypass the "no sub-units, no records" rule; delete one at a time.
        return obj is not None and super().has_delete_permission(request, obj)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "name", "is_active", "is_staff", "is_superuser", "last_login"]
    search_fields = ["username", "name"]
    ordering = ["username"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("name", "phone", "email")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "unit", "granted_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__name", "unit__name"]
    autocomplete_fields = ["user", "unit"]
    readonly_fields = ["granted_by", "created_at"]

    def save_model(
        self, request: HttpRequest, obj: RoleAssignment, form: Any, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = services.role_grant(
            actor=_actor(request), user=obj.user, unit=obj.unit, role=obj.role
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: RoleAssignment) -> None:
        services.role_revoke(actor=_actor(request), assignment=obj)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    """The service platforms have no service module: the admin is their one writer, and
    the home page shows them, so every change invalidates the cached public pages."""

    list_display = ["code", "name", "name_en", "sort_order", "is_active"]
    list_editable = ["sort_order", "is_active"]

    def save_model(self, request: HttpRequest, obj: Category, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        bump_on_commit(NETWORK)

    def delete_model(self, request: HttpRequest, obj: Category) -> None:
        super().delete_model(request, obj)
        bump_on_commit(NETWORK)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Category]) -> None:
        super().delete_queryset(request, queryset)
        bump_on_commit(NETWORK)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_repr", "unit"]
    list_filter = ["action"]
    search_fields = ["object_repr"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
