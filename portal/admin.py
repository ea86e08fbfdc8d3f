"""Django admin of the portal app: the SMS outbox, where developers read the messages the
development backend "sent" (``portal.sms.DevelopmentBackend``). Read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import SmsMessage


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "phone_masked", "purpose", "status", "attempts", "sent_at"]
    list_filter = ["status", "purpose"]
    date_hierarchy = "created_at"
    # The number only masked; never searchable (it is stored encrypted).
    fields = (
        "phone_masked",
        "purpose",
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
