"""Django admin of the portal app: the outbox, where developers read the messages the
development SMS backend "sent" (``portal.sms.DevelopmentBackend``) and the emails. Read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "channel",
        "address_masked",
        "purpose",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["channel", "status", "purpose"]
    date_hierarchy = "created_at"
    # The address only masked; never searchable (it is stored encrypted).
    fields = (
        "channel",
        "address_masked",
        "purpose",
        "subject",
        "text",
        "status",
        "attempts",
        "last_error",
        "provider_id",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
