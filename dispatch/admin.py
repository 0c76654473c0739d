"""Dispatch in the admin. Zones are drawn here; courier profiles (vehicle, speed, capacity) are
edited here. Everything with a state machine or written only by the dispatcher (courier state,
offers, order dispatch, leases, events, trails) is read-only: it moves through dispatch's
services, which write the event rows and push to the apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.http import HttpRequest

from dispatch.models import (
    Courier,
    CourierEvent,
    CourierProblem,
    DispatchLease,
    DispatchZone,
    Offer,
    OfferEvent,
    OrderDispatch,
)


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CourierEventInline(ReadOnlyInline):
    model = CourierEvent
    fields = ("created_at", "from_state", "to_state", "reason", "actor")
    readonly_fields = fields
    ordering = ("-created_at",)


@admin.register(Courier)
class CourierAdmin(GISModelAdmin[Courier]):
    """The profile is editable; the state, shift and position move only through services."""

    list_display = ("user", "vehicle", "state", "capacity", "position_at")
    list_filter = ("state", "vehicle")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    readonly_fields = ("state", "version", "shift_started_at", "position", "position_at", "created_at", "updated_at")
    inlines = [CourierEventInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CourierEvent)
class CourierEventAdmin(ReadOnlyAdmin):
    list_display = ("courier", "from_state", "to_state", "reason", "actor", "created_at")
    list_filter = ("to_state",)
    raw_id_fields = ("courier", "actor")


@admin.register(DispatchZone)
class DispatchZoneAdmin(GISModelAdmin[DispatchZone]):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(DispatchLease)
class DispatchLeaseAdmin(ReadOnlyAdmin):
    """Which dispatcher holds which zone (fenced: written only by the dispatchers)."""

    list_display = ("zone_key", "holder", "token", "expires_at", "updated_at")


class OfferEventInline(ReadOnlyInline):
    model = OfferEvent
    fields = ("created_at", "from_status", "to_status", "reason", "actor")
    readonly_fields = fields


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ("pk", "courier", "status", "earnings_cents", "expires_at", "zone_key", "created_at")
    list_filter = ("status", "zone_key")
    raw_id_fields = ("courier", "orders")
    date_hierarchy = "created_at"
    inlines = [OfferEventInline]


@admin.register(OrderDispatch)
class OrderDispatchAdmin(ReadOnlyAdmin):
    # The drop-off code is the diner's secret: never listed, never shown here.
    list_display = ("order", "store", "state", "courier", "priority", "failures", "created_at")
    list_filter = ("state",)
    search_fields = ("order__number",)
    raw_id_fields = ("order", "store", "courier")
    exclude = ("dropoff_code",)


@admin.register(CourierProblem)
class CourierProblemAdmin(ReadOnlyAdmin):
    list_display = ("courier", "kind", "order", "created_at")
    list_filter = ("kind",)
    raw_id_fields = ("courier", "order")
