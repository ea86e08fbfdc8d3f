"""The admin shows volunteers read-only (masked ID numbers and phones); every change goes
through the pages and the API, whose services check the policy and write the audit."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Volunteer

SHOWN_FIELDS: tuple[str, ...] = (
    "number",
    "name",
    "id_number_masked",
    "gender",
    "birth_date",
    "phone_masked",
    "unit",
    "user",
    "status",
    "status_reason",
    "skills",
    "available_time",
    "self_registered",
    "registered_by",
    "decided_by",
    "decided_at",
    "confirmed_hours",
    "points_balance",
    "created_at",
    "updated_at",
)


@admin.register(Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "name",
        "id_number_masked",
        "phone_masked",
        "unit",
        "status",
        "created_at",
    ]
    list_filter = ["status", "self_registered"]
    search_fields = ["number", "name"]
    list_select_related = ["unit"]
    show_full_result_count = False
    fields = SHOWN_FIELDS
    readonly_fields = SHOWN_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
