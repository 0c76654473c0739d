"""Couriers, their offers and tasks, the dispatch state of each order, the zones dispatchers
lease, and the downsampled trail of active deliveries.

The live position of a courier is kept in Redis (see dispatch.services.locations for why);
`Courier.position` is the last position flushed to PostGIS, which candidate search reads.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GistIndex
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Courier(models.Model):
    class Vehicle(models.TextChoices):
        BICYCLE = "bicycle", _("Bicycle")
        EBIKE = "ebike", _("E-bike")
        MOTORBIKE = "motorbike", _("Motorbike")
        CAR = "car", _("Car")

    class State(models.TextChoices):
        OFFLINE = "offline", _("Offline")
        IDLE = "idle", _("Idle")
        OFFERED = "offered", _("Offered")
        TO_STORE = "to_store", _("To store")
        AT_STORE = "at_store", _("At store")
        TO_CUSTOMER = "to_customer", _("To customer")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courier")
    vehicle = models.CharField(_("vehicle"), max_length=12, choices=Vehicle.choices, default=Vehicle.EBIKE)
    speed_kmh = models.PositiveSmallIntegerField(_("speed (km/h)"), default=15)
    capacity = models.PositiveSmallIntegerField(_("concurrent orders"), default=3)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.OFFLINE)
    # Bumped on every state change: the compare-and-swap of dispatch.transitions names it.
    version = models.PositiveIntegerField(default=1)
    # The current shift: set on going online, cleared on going offline.
    shift_started_at = models.DateTimeField(null=True, blank=True)
    # The last position flushed to PostGIS (the live one is kept where writes are cheap). Its
    # GiST index is the partial one in Meta, not the field's own.
    position = models.PointField(_("position"), geography=True, srid=4326, null=True, blank=True, spatial_index=False)
    position_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("courier")
        verbose_name_plural = _("couriers")
        indexes = [
            models.Index(fields=["state"]),
            # Candidate search (dispatch.selectors._candidates_sql) walks this index nearest
            # first and only ever wants idle couriers: busy ones, often most of the fleet, are
            # not in it, so the walk never visits and rejects them, and their position flushes
            # do not touch it. The predicate is availability's own first condition
            # (selectors._is_idle); nothing else searches couriers by position. Written as an
            # expression because GeoDjango's spatial-index SQL for `fields=` drops `condition`
            # (PostgreSQL stores `(position)` as the plain column all the same).
            GistIndex(F("position"), condition=Q(state="idle"), name="courier_idle_position_gist"),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def meters_per_minute(self) -> float:
        return self.speed_kmh * 1000 / 60


class CourierEvent(models.Model):
    """One row per courier state change: who moved the courier from what to what, and why."""

    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["courier", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.courier_id}: {self.from_state} → {self.to_state}"


class DispatchZone(models.Model):
    """An area whose stores one dispatcher at a time plans for (under a lease). Without any zone
    the whole city is one implicit zone."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    area = models.MultiPolygonField(_("area"), srid=4326)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("dispatch zone")
        verbose_name_plural = _("dispatch zones")

    def __str__(self) -> str:
        return self.name


class DispatchLease(models.Model):
    """Which dispatcher process plans a zone now. `token` (the fencing token) grows each time
    the lease changes hands; every write a dispatcher makes for the zone checks, in its own
    transaction, that its token is still the current one, so a paused process that lost its
    lease cannot write."""

    zone_key = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=128)
    token = models.BigIntegerField(default=1)
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.zone_key}: {self.holder} #{self.token}"


class OrderDispatch(models.Model):
    """The dispatch state of one order: looking for a courier, offered, in the open pool,
    assigned, done."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Looking for a courier")
        OFFERED = "offered", _("Offered to a courier")
        POOL = "pool", _("In the open pool")
        ASSIGNED = "assigned", _("Courier assigned")
        DONE = "done", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    order = models.OneToOneField("delivery.Order", on_delete=models.CASCADE, related_name="dispatch")
    store = models.ForeignKey("delivery.Store", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.WAITING)
    version = models.PositiveIntegerField(default=1)
    # Raised by each declined or lapsed offer: late and refused orders go first.
    priority = models.PositiveSmallIntegerField(default=0)
    failures = models.PositiveSmallIntegerField(default=0)
    # Couriers who declined it or let an offer lapse: never offered it again.
    excluded_couriers = ArrayField(models.BigIntegerField(), default=list, blank=True)
    courier = models.ForeignKey(Courier, on_delete=models.SET_NULL, null=True, blank=True, related_name="dispatches")
    # The code the diner tells the courier at the door (shown only to the diner).
    dropoff_code = models.CharField(max_length=4)
    fee_cents = models.PositiveIntegerField(default=0)  # the courier's earnings for this order
    arrived_store_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "store"]),
            models.Index(fields=["courier", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.state}"


class Offer(models.Model):
    """Work proposed to one courier: one order or a bundle, with a deadline."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="offers")
    orders = models.ManyToManyField("delivery.Order", related_name="offers")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    # Order ids in drop-off sequence.
    sequence = ArrayField(models.BigIntegerField(), default=list)
    pickup_distance_m = models.PositiveIntegerField(default=0)
    dropoff_distance_m = models.PositiveIntegerField(default=0)
    earnings_cents = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    zone_key = models.CharField(max_length=64, blank=True)
    fencing_token = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["courier", "status"]),
        ]
        constraints = [
            # At most one open offer per courier.
            models.UniqueConstraint(
                fields=["courier"], condition=models.Q(status="pending"), name="offer_one_pending_per_courier"
            ),
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} → {self.courier_id} ({self.status})"


class OfferEvent(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    from_status = models.CharField(max_length=12)
    to_status = models.CharField(max_length=12)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.offer_id}: {self.from_status} → {self.to_status}"


class CourierProblem(models.Model):
    class Kind(models.TextChoices):
        STORE_CLOSED = "store_closed", _("Store closed or not ready")
        CANNOT_FIND = "cannot_find", _("Cannot find the customer")
        ACCIDENT = "accident", _("Accident or vehicle problem")
        DAMAGED = "damaged", _("Food damaged")
        OTHER = "other", _("Other")

    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="problems")
    order = models.ForeignKey("delivery.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.courier_id}: {self.kind}"


class TrailPoint(models.Model):
    """The downsampled path of a courier while carrying an order (for after-sales and ETA
    learning); written in batches by the location flush, never per ping."""

    courier = models.ForeignKey(Courier, on_delete=models.CASCADE, related_name="trail")
    order = models.ForeignKey("delivery.Order", on_delete=models.CASCADE, related_name="trail")
    point = models.PointField(geography=True, srid=4326, spatial_index=False)
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["order", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.order_id} @ {self.recorded_at:%H:%M:%S}"
