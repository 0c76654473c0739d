"""Operators keep the violation code lists in the admin; inspections are read-only there
(they change through services: the form, the contest, the sweep)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from compliance.inspections.models import Inspection, InspectionEvent, InspectionViolation, ViolationCode


@admin.register(ViolationCode)
class ViolationCodeAdmin(admin.ModelAdmin[ViolationCode]):
    list_display = ("scheme", "code", "description", "points", "critical", "active")
    list_filter = ("scheme", "critical", "active")
    search_fields = ("code", "description", "description_en")


class ViolationInline(admin.TabularInline[InspectionViolation, Inspection]):
    model = InspectionViolation
    extra = 0
    can_delete = False
    readonly_fields = ("code", "description", "points", "critical")


class EventInline(admin.TabularInline[InspectionEvent, Inspection]):
    model = InspectionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("action", "from_state", "to_state", "actor", "reason", "created_at")


@admin.register(Inspection)
class InspectionAdmin(admin.ModelAdmin[Inspection]):
    list_display = ("store", "inspected_on", "kind", "scheme", "score", "grade", "grade_state")
    list_filter = ("scheme", "kind", "grade_state", "failed")
    search_fields = ("store__name_zh", "store__name_en", "external_ref")
    raw_id_fields = ("store", "inspector")
    inlines = (ViolationInline, EventInline)

    def has_change_permission(self, request: HttpRequest, obj: Inspection | None = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
