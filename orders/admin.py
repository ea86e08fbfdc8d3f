"""The admin shows the menu and the requests read-only: every change goes through the pages
and the API, whose services check the policy, write the timeline and send the notices.
Open311 clients are kept here: issuing a key shows it once; only its hash is stored."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import MenuItem, Open311Client, RequestEvent, ServiceRequest
from .open311 import hash_key

__all__ = ["MenuItemAdmin", "Open311ClientAdmin", "ServiceRequestAdmin", "issue_key"]

KEY_BYTES = 32


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MenuItem)
class MenuItemAdmin(ReadOnlyAdmin):
    list_display = ["title", "unit", "category", "is_active", "updated_at"]
    list_filter = ["is_active", "category"]
    search_fields = ["title"]
    list_select_related = ["unit", "category"]
    show_full_result_count = False
    fields = readonly_fields = (
        "unit",
        "category",
        "title",
        "description",
        "teams",
        "is_active",
        "created_by",
        "created_at",
        "updated_at",
    )


class RequestEventInline(admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "at",
        "action",
        "from_status",
        "to_status",
        "actor",
        "actor_kind",
        "note",
        "public",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ReadOnlyAdmin):
    """Read-only, the phone only masked (the tracking code alone proves nothing: following,
    cancelling and rating a request need the phone too)."""

    list_display = ["pk", "title", "unit", "status", "channel", "team", "created_at"]
    list_filter = ["status", "channel", "needs_review"]
    search_fields = ["title"]
    list_select_related = ["unit", "team"]
    show_full_result_count = False
    inlines = [RequestEventInline]
    fields = readonly_fields = (
        "unit",
        "category",
        "menu_item",
        "title",
        "description",
        "contact_name",
        "contact_phone_masked",
        "desired_date",
        "address",
        "latitude",
        "longitude",
        "channel",
        "filed_by",
        "status",
        "team",
        "due_date",
        "dispatched_at",
        "dispatched_by",
        "responded_at",
        "claimed_by",
        "claimed_at",
        "delivered_at",
        "summary",
        "beneficiaries",
        "rating",
        "rating_comment",
        "closed_at",
        "needs_review",
        "overdue_at",
        "created_at",
        "updated_at",
    )


def issue_key(client: Open311Client) -> str:
    """A new random key for ``client`` (the old one stops working); returns it — the only
    time it exists in clear. The caller saves ``client``."""
    key = secrets.token_urlsafe(KEY_BYTES)
    client.key_hash = hash_key(key)
    client.key_prefix = key[:8]
    return key


def _show_key(request: HttpRequest, client: Open311Client, key: str) -> None:
    messages.warning(
        request,
        gettext(
            "The API key of “%(name)s” is %(key)s — copy it now: it is shown only this once "
            "and cannot be recovered (only its hash is kept)."
        )
        % {"name": client.name, "key": key},
    )


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "is_active", "created_at", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "key_prefix"]
    fields = ["name", "is_active", "key_prefix", "created_at", "last_used_at"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    actions = ["reissue_keys"]

    def save_model(self, request: HttpRequest, obj: Open311Client, form: Any, change: bool) -> None:
        key = None if change and obj.key_hash else issue_key(obj)
        super().save_model(request, obj, form, change)
        if key is not None:
            _show_key(request, obj, key)

    @admin.action(description=_("Issue new API keys (the old ones stop working)"))
    def reissue_keys(self, request: HttpRequest, queryset: QuerySet[Open311Client]) -> None:
        for client in queryset:
            key = issue_key(client)
            client.save(update_fields=["key_hash", "key_prefix"])
            _show_key(request, client, key)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deactivate instead: the client's name stays readable in the history.
        return False
