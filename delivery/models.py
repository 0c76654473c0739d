"""The marketplace: stores, menus, carts, coupons, orders, payments, reviews, refunds, ledger.

Money is integer cents (分) of settings.CURRENCY everywhere; times are timezone-aware.
An order is a snapshot: its lines copy names and prices at placement, so later menu edits never
change what was bought. State changes go through delivery.transitions (one table, compare-and-
swap updates, an OrderEvent per change); nothing here changes state in save() or signals.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def bilingual(zh: str, en: str) -> str:
    """The English form when English is the active language and there is one, else the Chinese."""
    return en if en and (get_language() or "").startswith("en") else zh


class Bilingual(models.Model):
    """Names in Simplified Chinese and English; `display_name` follows the active language."""

    name_zh = models.CharField(_("name (Chinese)"), max_length=128)
    name_en = models.CharField(_("name (English)"), max_length=128, blank=True)

    class Meta:
        abstract = True

    @property
    def display_name(self) -> str:
        return bilingual(self.name_zh, self.name_en)


# --- Stores --------------------------------------------------------------------------------


class PauseReason(models.TextChoices):
    MANUAL = "manual", _("Paused by the store")
    NO_BOARD = "no_board", _("No order board was connected")
    MISSED_ORDERS = "missed_orders", _("Orders were missed in a row")


class Store(Bilingual):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_REVIEW = "pending_review", _("Pending review")
        LIVE = "live", _("Live")
        PAUSED = "paused", _("Paused")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    address = models.CharField(_("address"), max_length=255)
    location = models.PointField(_("map pin"), geography=True, srid=4326)
    # The delivery zone, in lon/lat (geometry, so `covers` runs on its GiST index). Drawn by the
    # store, or generated from `delivery_radius_m` by delivery.services.store_zone_set_radius.
    zone = models.MultiPolygonField(_("delivery zone"), srid=4326, null=True, blank=True)
    delivery_radius_m = models.PositiveIntegerField(_("delivery radius (m)"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    default_prep_minutes = models.PositiveSmallIntegerField(_("default prep time (minutes)"), default=15)
    min_order_cents = models.PositiveIntegerField(_("minimum order (cents)"), default=0)
    packaging_fee_cents = models.PositiveIntegerField(_("packaging fee (cents)"), default=0)
    # Platform commission in basis points (1/100 of a percent); None: the platform default.
    commission_bp = models.PositiveIntegerField(_("commission (basis points)"), null=True, blank=True)
    # Rating aggregates, kept by delivery.services on each review (30-day figures also nightly).
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    rating_30d_count = models.PositiveIntegerField(default=0)
    rating_30d_sum = models.PositiveIntegerField(default=0)
    # The live board's controls (delivery.services.board). Busy mode adds minutes to every prep
    # time and promised ETA; a pause stops orders until `paused_until` (None: until resumed).
    busy_extra_minutes = models.PositiveSmallIntegerField(_("busy mode: extra minutes"), default=0)
    pause_reason = models.CharField(_("paused because"), max_length=16, choices=PauseReason.choices, blank=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    # Orders auto-rejected in a row (reset by an accept): enough of them pause the store.
    missed_in_row = models.PositiveSmallIntegerField(default=0)
    # The store's own riders deliver: its board marks orders picked up and delivered.
    self_delivery = models.BooleanField(_("delivers with its own riders"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        indexes = [models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating_sum__lte=5 * models.F("rating_count")), name="store_rating_sum_max"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    def paused_at(self, now: datetime) -> bool:
        """Paused now: a reason is set and its time (if any) has not passed."""
        return bool(self.pause_reason) and (self.paused_until is None or self.paused_until > now)

    @property
    def rating_mean(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 2) if self.rating_count else None


class StoreMembership(models.Model):
    """A user's role at one store; restaurant staff act only on stores they are members of."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MANAGER = "manager", _("Manager")
        STAFF = "staff", _("Staff")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_memberships")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("store membership")
        verbose_name_plural = _("store memberships")
        constraints = [models.UniqueConstraint(fields=["user", "store"], name="store_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.store} ({self.role})"


class DeliveryFeeBand(models.Model):
    """The delivery fee for drop-offs up to `up_to_m` metres from the store (nearest band wins)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="fee_bands")
    up_to_m = models.PositiveIntegerField(_("up to (m)"))
    fee_cents = models.PositiveIntegerField(_("fee (cents)"))

    class Meta:
        ordering = ["up_to_m"]
        constraints = [models.UniqueConstraint(fields=["store", "up_to_m"], name="fee_band_unique")]

    def __str__(self) -> str:
        return f"≤{self.up_to_m} m: {self.fee_cents}"


class OpeningHours(models.Model):
    """One opening period on a weekday (0 = Monday), local time. `closes` at or before `opens`
    runs past midnight into the next day. A day may have several periods (lunch, dinner)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=[(i, str(i)) for i in range(7)])
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = _("opening hours")

    def __str__(self) -> str:
        return f"{self.weekday} {self.opens}-{self.closes}"


class HoursException(models.Model):
    """A date whose hours differ (holiday closure, special hours). With `closed`, no periods;
    else `opens`-`closes` replaces the weekday's periods for that date."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="hours_exceptions")
    date = models.DateField(_("date"))
    closed = models.BooleanField(_("closed all day"), default=True)
    opens = models.TimeField(_("opens"), null=True, blank=True)
    closes = models.TimeField(_("closes"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=128, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["store", "date"], name="hours_exception_unique"),
            models.CheckConstraint(
                condition=Q(closed=True) | (Q(opens__isnull=False) & Q(closes__isnull=False)),
                name="hours_exception_open_has_times",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date} {'closed' if self.closed else f'{self.opens}-{self.closes}'}"


# --- Menus ---------------------------------------------------------------------------------


class Allergen(models.TextChoices):
    GLUTEN = "gluten", _("Gluten")
    CRUSTACEANS = "crustaceans", _("Crustaceans")
    EGGS = "eggs", _("Eggs")
    FISH = "fish", _("Fish")
    PEANUTS = "peanuts", _("Peanuts")
    SOY = "soy", _("Soy")
    MILK = "milk", _("Milk")
    TREE_NUTS = "tree_nuts", _("Tree nuts")
    SESAME = "sesame", _("Sesame")
    CELERY = "celery", _("Celery")
    MUSTARD = "mustard", _("Mustard")
    SULPHITES = "sulphites", _("Sulphites")
    MOLLUSCS = "molluscs", _("Molluscs")


class MenuCategory(Bilingual):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="menu_categories")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["store", "position", "id"]
        verbose_name_plural = _("menu categories")

    def __str__(self) -> str:
        return self.display_name


class MenuItem(Bilingual):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="menu_items")
    category = models.ForeignKey(MenuCategory, on_delete=models.PROTECT, related_name="items")
    description = models.TextField(_("description"), blank=True)
    price_cents = models.PositiveIntegerField(_("price (cents)"))
    photo = models.ImageField(_("photo"), upload_to="menu/", blank=True)
    allergens = ArrayField(models.CharField(max_length=16, choices=Allergen.choices), default=list, blank=True)
    available = models.BooleanField(_("available"), default=True)
    # Sold out ("86") until this time, then available again (delivery.services.board); None while
    # unavailable: until the store says so.
    sold_out_until = models.DateTimeField(_("sold out until"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__position", "position", "id"]

    def __str__(self) -> str:
        return self.display_name


class OptionGroup(Bilingual):
    """Choices on an item (size, spice): the diner picks between min and max of its options."""

    item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, related_name="option_groups")
    min_choices = models.PositiveSmallIntegerField(default=0)
    max_choices = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_choices__lte=models.F("max_choices")), name="option_group_min_le_max"
            ),
            models.CheckConstraint(condition=Q(max_choices__gte=1), name="option_group_max_ge_1"),
        ]

    def __str__(self) -> str:
        return self.display_name


class Option(Bilingual):
    group = models.ForeignKey(OptionGroup, on_delete=models.CASCADE, related_name="options")
    # May be negative (a smaller size); the line price never goes below zero (pricing checks).
    price_delta_cents = models.IntegerField(_("price difference (cents)"), default=0)
    available = models.BooleanField(_("available"), default=True)
    sold_out_until = models.DateTimeField(_("sold out until"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.display_name


class SetMeal(Bilingual):
    """套餐: several items at one price."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="set_meals")
    category = models.ForeignKey(MenuCategory, on_delete=models.PROTECT, related_name="set_meals")
    description = models.TextField(_("description"), blank=True)
    price_cents = models.PositiveIntegerField(_("price (cents)"))
    photo = models.ImageField(_("photo"), upload_to="menu/", blank=True)
    available = models.BooleanField(_("available"), default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.display_name


class SetMealComponent(models.Model):
    set_meal = models.ForeignKey(SetMeal, on_delete=models.CASCADE, related_name="components")
    item = models.ForeignKey(MenuItem, on_delete=models.PROTECT, related_name="in_set_meals")
    quantity = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["set_meal", "item"], name="set_meal_component_unique")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item}"


# --- Carts and coupons ---------------------------------------------------------------------


class Cart(models.Model):
    """One open cart per diner and store."""

    diner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="carts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["diner", "store"], name="cart_unique_per_store")]

    def __str__(self) -> str:
        return f"cart {self.diner} @ {self.store}"


class CartLine(models.Model):
    """An item with its chosen options, or a set meal."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(MenuItem, on_delete=models.CASCADE, null=True, blank=True)
    set_meal = models.ForeignKey(SetMeal, on_delete=models.CASCADE, null=True, blank=True)
    option_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    quantity = models.PositiveSmallIntegerField(default=1)
    note = models.CharField(max_length=140, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(item__isnull=False) & Q(set_meal__isnull=True))
                | (Q(item__isnull=True) & Q(set_meal__isnull=False)),
                name="cart_line_item_xor_set_meal",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.item or self.set_meal}"


class Coupon(models.Model):
    class Kind(models.TextChoices):
        NEW_DINER = "new_diner", _("New diner")
        SPEND_SAVE = "spend_save", _("Spend X, save Y (满减)")

    class FundedBy(models.TextChoices):
        PLATFORM = "platform", _("Platform")
        STORE = "store", _("Store")

    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # A store's own coupon applies only there; a platform coupon (store empty) applies anywhere.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="coupons")
    funded_by = models.CharField(_("funded by"), max_length=10, choices=FundedBy.choices)
    threshold_cents = models.PositiveIntegerField(_("minimum subtotal (cents)"), default=0)
    discount_cents = models.PositiveIntegerField(_("discount (cents)"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"))
    per_diner_limit = models.PositiveSmallIntegerField(_("uses per diner"), default=1)
    total_limit = models.PositiveIntegerField(_("uses in all"), null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(valid_from__lt=models.F("valid_to")), name="coupon_validity_ordered"),
            models.CheckConstraint(
                condition=~Q(funded_by="store") | Q(store__isnull=False), name="coupon_store_funded_has_store"
            ),
        ]

    def __str__(self) -> str:
        return self.code


# --- Orders --------------------------------------------------------------------------------


class Order(models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", _("Placed")
        PAID = "paid", _("Paid")
        ACCEPTED = "accepted", _("Accepted")
        PREPARING = "preparing", _("Preparing")
        READY = "ready", _("Ready")
        PICKED_UP = "picked_up", _("Picked up")
        DELIVERED = "delivered", _("Delivered")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")

    number = models.CharField(_("order number"), max_length=24, unique=True)
    diner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PLACED)
    # Bumped on every change; board and tracking events carry it so clients drop stale pushes.
    version = models.PositiveIntegerField(default=1)

    subtotal_cents = models.PositiveIntegerField()
    packaging_cents = models.PositiveIntegerField(default=0)
    delivery_fee_cents = models.PositiveIntegerField(default=0)
    discount_cents = models.PositiveIntegerField(default=0)
    total_cents = models.PositiveIntegerField()
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, null=True, blank=True, related_name="orders")
    # Who pays the discount: the platform's share and the store's share (their sum is the discount).
    discount_platform_cents = models.PositiveIntegerField(default=0)
    discount_store_cents = models.PositiveIntegerField(default=0)

    delivery_address = models.CharField(_("delivery address"), max_length=255)
    delivery_point = models.PointField(_("drop-off"), geography=True, srid=4326)
    delivery_distance_m = models.PositiveIntegerField(default=0)
    contact_name = models.CharField(_("contact name"), max_length=64, blank=True)
    # The phone is kept only hashed (to match) and masked (to show): couriers see the mask.
    contact_phone_hash = models.CharField(max_length=64, blank=True)
    contact_phone_masked = models.CharField(_("contact phone"), max_length=20, blank=True)
    note = models.CharField(_("note to the store"), max_length=200, blank=True)

    # The courier carrying it now (dispatch sets it); reviews rate this courier.
    courier = models.ForeignKey(
        "dispatch.Courier", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    eta_at = models.DateTimeField(_("promised delivery time"))
    prep_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    # Every state's time (service levels, and ETA learning, read these).
    placed_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    preparing_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [
            models.Index(fields=["store", "status"]),
            models.Index(fields=["diner", "-placed_at"]),
            models.Index(fields=["status", "placed_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    total_cents=models.F("subtotal_cents")
                    + models.F("packaging_cents")
                    + models.F("delivery_fee_cents")
                    - models.F("discount_cents")
                ),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(discount_cents=models.F("discount_platform_cents") + models.F("discount_store_cents")),
                name="order_discount_shares_add_up",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """What was bought, copied at placement (names, unit price, chosen options)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(MenuItem, on_delete=models.SET_NULL, null=True, blank=True)
    set_meal = models.ForeignKey(SetMeal, on_delete=models.SET_NULL, null=True, blank=True)
    name_zh = models.CharField(max_length=128)
    name_en = models.CharField(max_length=128, blank=True)
    # [{"group": "辣度 Spice", "option": "微辣 Mild", "price_delta_cents": 0}, ...]
    options = models.JSONField(default=list, blank=True)
    # Set meals: [{"name_zh": ..., "name_en": ..., "quantity": n}, ...]
    components = models.JSONField(default=list, blank=True)
    allergens = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    unit_price_cents = models.PositiveIntegerField()
    quantity = models.PositiveSmallIntegerField()
    line_total_cents = models.PositiveIntegerField()
    refunded_quantity = models.PositiveSmallIntegerField(default=0)
    note = models.CharField(max_length=140, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(line_total_cents=models.F("unit_price_cents") * models.F("quantity")),
                name="order_line_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")), name="order_line_refund_le_qty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name_zh}"


class OrderEvent(models.Model):
    """One row per status change: who moved the order from what to what, and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    # "diner", "store", "courier", "operator", "system" (timers, webhooks).
    actor_role = models.CharField(max_length=16)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"])]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} → {self.to_status}"


class TicketPrint(models.Model):
    """One kitchen ticket printed for an order: automatically on accept (at most one per order,
    whatever the number of boards open: the partial unique constraint is the claim) or again on
    demand."""

    class Kind(models.TextChoices):
        AUTO = "auto", _("Automatic")
        MANUAL = "manual", _("Reprint")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="ticket_prints")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    printed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    device = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(kind="auto"), name="ticket_print_one_auto"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.created_at:%H:%M:%S}"


class IdempotencyRecord(models.Model):
    """The first answer to a request carrying an Idempotency-Key, per user: the same key with the
    same body returns the same order; the same key with another body is refused."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class CouponRedemption(models.Model):
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    diner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coupon_redemptions")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="coupon_redemption")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["coupon", "diner"])]

    def __str__(self) -> str:
        return f"{self.coupon} → {self.order}"


# --- Payments and refunds ------------------------------------------------------------------


class SettlementStatus(models.TextChoices):
    """Where money stands with the provider, for payments and refunds alike."""

    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Payment(models.Model):
    Status = SettlementStatus

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=32)
    provider_ref = models.CharField(max_length=128)
    amount_cents = models.PositiveIntegerField()
    refunded_cents = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_ref"], name="payment_provider_ref_unique"),
            models.CheckConstraint(
                condition=Q(refunded_cents__lte=models.F("amount_cents")), name="payment_refund_le_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.provider_ref}"


class Refund(models.Model):
    Status = SettlementStatus

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_cents = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    # [{"line": <OrderLine id>, "quantity": n}, ...]; empty: the whole remaining amount.
    lines = models.JSONField(default=list, blank=True)
    provider_ref = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"refund {self.amount_cents} of {self.payment}"


class WebhookReceipt(models.Model):
    """Every provider event id handled once: a replayed webhook finds its receipt and stops."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_receipt_unique")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"


# --- After delivery ------------------------------------------------------------------------


class Review(models.Model):
    """One per delivered order: the store and, separately, the courier; the store replies once."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="review")
    diner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="reviews")
    store_stars = models.PositiveSmallIntegerField()
    store_text = models.TextField(blank=True)
    courier = models.ForeignKey(
        "dispatch.Courier", on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews"
    )
    courier_stars = models.PositiveSmallIntegerField(null=True, blank=True)
    courier_text = models.TextField(blank=True)
    reply_text = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["store", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(store_stars__gte=1) & Q(store_stars__lte=5), name="review_store_stars_1_5"
            ),
            models.CheckConstraint(
                condition=Q(courier_stars__isnull=True) | (Q(courier_stars__gte=1) & Q(courier_stars__lte=5)),
                name="review_courier_stars_1_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_stars}★ {self.order}"


class RefundRequest(models.Model):
    """A diner's after-sales request on a delivered order: the store accepts or contests before
    `respond_by`, else the platform decides."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACCEPTED = "accepted", _("Accepted by the store")
        CONTESTED = "contested", _("Contested by the store")
        APPROVED = "approved", _("Approved by the platform")
        DECLINED = "declined", _("Declined by the platform")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refund_requests")
    diner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refund_requests")
    reason = models.CharField(max_length=200)
    # [{"line": <OrderLine id>, "quantity": n}, ...]
    lines = models.JSONField(default=list)
    amount_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    store_response = models.CharField(max_length=200, blank=True)
    respond_by = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "respond_by"])]

    def __str__(self) -> str:
        return f"refund request {self.pk} on {self.order_id}"


class RefundRequestPhoto(models.Model):
    request = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="refunds/")
    created_at = models.DateTimeField(auto_now_add=True)


# --- Ledger (对账) ---------------------------------------------------------------------------


class LedgerEntry(models.Model):
    """What a store earns, per order and business day; reconciliation sums these rows.

    A delivered order books its sale (items and packaging: the delivery fee is the platform's),
    minus the discount the store funds, minus the platform's commission on what remains; a
    refund books minus the part of it that was the store's money. A day's payout is the sum of
    its rows. Platform-funded discounts and delivery fees never touch the store's ledger."""

    class Kind(models.TextChoices):
        SALE = "sale", _("Sale")
        COMMISSION = "commission", _("Commission")
        STORE_DISCOUNT = "store_discount", _("Store-funded discount")
        REFUND = "refund", _("Refund")

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="ledger_entries")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount_cents = models.IntegerField()
    business_date = models.DateField()
    # Makes each entry once-only: retried services cannot book twice.
    dedupe_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["store", "business_date"])]

    def __str__(self) -> str:
        return f"{self.business_date} {self.kind} {self.amount_cents}"
