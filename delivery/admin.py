"""The operator's Django admin for the marketplace. State changes go through services (admission)
or stay read-only (orders change only through their state machine)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from delivery.models import (
    Coupon,
    DeliveryFeeBand,
    HoursException,
    MenuCategory,
    MenuItem,
    OpeningHours,
    Option,
    OptionGroup,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Refund,
    RefundRequest,
    Review,
    SetMeal,
    SetMealComponent,
    Store,
    StoreMembership,
)
from delivery.services.stores import StoreRefused, store_admit, store_send_back


class StoreMembershipInline(admin.TabularInline[StoreMembership, Store]):
    model = StoreMembership
    raw_id_fields = ("user",)
    extra = 0


class FeeBandInline(admin.TabularInline[DeliveryFeeBand, Store]):
    model = DeliveryFeeBand
    extra = 0


class OpeningHoursInline(admin.TabularInline[OpeningHours, Store]):
    model = OpeningHours
    extra = 0


class HoursExceptionInline(admin.TabularInline[HoursException, Store]):
    model = HoursException
    extra = 0


@admin.register(Store)
class StoreAdmin(GISModelAdmin[Store]):
    list_display = ("name_zh", "name_en", "status", "address", "rating_count")
    list_filter = ("status",)
    search_fields = ("name_zh", "name_en", "address")
    readonly_fields = ("status", "rating_count", "rating_sum", "rating_30d_count", "rating_30d_sum")
    inlines = [StoreMembershipInline, FeeBandInline, OpeningHoursInline, HoursExceptionInline]
    actions = ["admit", "send_back"]

    @admin.action(description=_("Admit the selected stores (they go live)"))
    def admit(self, request: HttpRequest, queryset: QuerySet[Store]) -> None:
        for store in queryset:
            try:
                store_admit(operator=request.user, store=store)  # type: ignore[arg-type]
                self.message_user(request, _("%(store)s is live.") % {"store": store}, messages.SUCCESS)
            except StoreRefused as refused:
                detail = "; ".join(refused.reasons) or refused.message
                self.message_user(request, f"{store}: {detail}", messages.ERROR)

    @admin.action(description=_("Send the selected stores back to their owners"))
    def send_back(self, request: HttpRequest, queryset: QuerySet[Store]) -> None:
        for store in queryset:
            try:
                store_send_back(operator=request.user, store=store)  # type: ignore[arg-type]
            except StoreRefused as refused:
                self.message_user(request, f"{store}: {refused.message}", messages.ERROR)


class OptionInline(admin.TabularInline[Option, OptionGroup]):
    model = Option
    extra = 0


@admin.register(OptionGroup)
class OptionGroupAdmin(admin.ModelAdmin[OptionGroup]):
    list_display = ("name_zh", "item", "min_choices", "max_choices")
    raw_id_fields = ("item",)
    inlines = [OptionInline]


@admin.register(MenuItem)
class MenuItemAdmin(admin.ModelAdmin[MenuItem]):
    list_display = ("name_zh", "name_en", "store", "price_cents", "available")
    list_filter = ("available",)
    search_fields = ("name_zh", "name_en", "store__name_zh")
    raw_id_fields = ("store", "category")


@admin.register(MenuCategory)
class MenuCategoryAdmin(admin.ModelAdmin[MenuCategory]):
    list_display = ("name_zh", "name_en", "store", "position")
    raw_id_fields = ("store",)


class SetMealComponentInline(admin.TabularInline[SetMealComponent, SetMeal]):
    model = SetMealComponent
    raw_id_fields = ("item",)
    extra = 0


@admin.register(SetMeal)
class SetMealAdmin(admin.ModelAdmin[SetMeal]):
    list_display = ("name_zh", "store", "price_cents", "available")
    raw_id_fields = ("store", "category")
    inlines = [SetMealComponentInline]


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin[Coupon]):
    list_display = ("code", "kind", "store", "funded_by", "threshold_cents", "discount_cents", "valid_to", "active")
    list_filter = ("kind", "funded_by", "active")
    raw_id_fields = ("store",)


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    """Read-only: orders move only through their state machine."""

    list_display = ("number", "store", "status", "total_cents", "placed_at", "eta_at")
    list_filter = ("status",)
    search_fields = ("number", "store__name_zh")
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, OrderEventInline]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin[Payment]):
    list_display = ("provider_ref", "order", "provider", "status", "amount_cents", "refunded_cents", "created_at")
    list_filter = ("provider", "status")
    readonly_fields = [f.name for f in Payment._meta.fields]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin[Refund]):
    list_display = ("pk", "payment", "amount_cents", "status", "reason", "created_at")
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(RefundRequest)
class RefundRequestAdmin(admin.ModelAdmin[RefundRequest]):
    list_display = ("pk", "order", "status", "amount_cents", "respond_by", "created_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in RefundRequest._meta.fields]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin[Review]):
    list_display = ("order", "store", "store_stars", "courier_stars", "created_at")
    readonly_fields = [f.name for f in Review._meta.fields]
