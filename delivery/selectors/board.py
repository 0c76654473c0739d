"""Reads for the store's live board: its orders now, its controls, its performance over a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from delivery.models import Order, Review, Store, TicketPrint
from delivery.services.board import accept_deadline

S = Order.Status

# The columns of the board, in order; picked-up orders stay in view for a while.
BOARD_STATES = (S.PAID, S.ACCEPTED, S.PREPARING, S.READY, S.PICKED_UP)
PICKED_UP_SHOWN = timedelta(hours=2)


def order_pickup_at(order: Order) -> datetime | None:
    """When the kitchen promised the food: accepted plus the prep time."""
    if order.accepted_at is None or order.prep_minutes is None:
        return None
    return order.accepted_at + timedelta(minutes=order.prep_minutes)


def order_is_late(order: Order, now: datetime) -> bool:
    """Late: a new order close to its accept deadline, food not ready by its pickup time, or an
    order not delivered by the time promised to the diner."""
    if order.status == S.PAID and order.paid_at is not None:
        return now >= order.paid_at + accept_deadline() * 0.6
    pickup = order_pickup_at(order)
    if order.status in {S.ACCEPTED, S.PREPARING} and pickup is not None and now > pickup:
        return True
    return order.status in {S.ACCEPTED, S.PREPARING, S.READY, S.PICKED_UP} and now > order.eta_at


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def board_order_data(order: Order, *, now: datetime, auto_printed: bool) -> dict[str, Any]:
    """One order as the board shows it (JSON-ready)."""
    return {
        "id": order.pk,
        "number": order.number,
        "status": order.status,
        "version": order.version,
        "placed_at": _iso(order.placed_at),
        "paid_at": _iso(order.paid_at),
        "accept_by": _iso(order.paid_at + accept_deadline()) if order.paid_at and order.status == S.PAID else None,
        "accepted_at": _iso(order.accepted_at),
        "prep_minutes": order.prep_minutes,
        "pickup_at": _iso(order_pickup_at(order)),
        "eta_at": _iso(order.eta_at),
        "late": order_is_late(order, now),
        "total_cents": order.total_cents,
        "note": order.note,
        "contact_name": order.contact_name,
        "contact_phone": order.contact_phone_masked,
        "courier": order.courier_id,
        "auto_printed": auto_printed,
        "lines": [
            {
                "name_zh": line.name_zh,
                "name_en": line.name_en,
                "quantity": line.quantity,
                "options": [f"{o.get('option_zh', '')}" for o in line.options],
                "options_en": [f"{o.get('option_en') or o.get('option_zh', '')}" for o in line.options],
                "components": [f"{c.get('name_zh', '')} ×{c.get('quantity', 1)}" for c in line.components],
                "allergens": list(line.allergens),
                "note": line.note,
            }
            for line in order.lines.all()
        ],
    }


def board_orders(*, store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """The store's orders the board shows now, oldest first: every new, accepted, preparing and
    ready order, and those picked up in the last two hours."""
    now = now or timezone.now()
    queryset = (
        Order.objects.filter(store=store, status__in=BOARD_STATES)
        .exclude(status=S.PICKED_UP, picked_up_at__lt=now - PICKED_UP_SHOWN)
        .prefetch_related("lines")
        .order_by("paid_at", "id")
    )
    orders = list(queryset)
    printed = set(
        TicketPrint.objects.filter(order__in=orders, kind=TicketPrint.Kind.AUTO).values_list("order_id", flat=True)
    )
    # How the search for a courier goes (dispatch's read; imported here, as delivery.eta does,
    # because dispatch builds on delivery and not the other way round).
    from dispatch.selectors import dispatch_board_status

    dispatch = dispatch_board_status(order_ids=[o.pk for o in orders])
    return [
        {**board_order_data(o, now=now, auto_printed=o.pk in printed), "dispatch": dispatch.get(o.pk)} for o in orders
    ]


def board_store_data(store: Store, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    paused = store.paused_at(now)
    return {
        "id": store.pk,
        "name": store.display_name,
        "status": store.status,
        "default_prep_minutes": store.default_prep_minutes,
        "busy_extra_minutes": store.busy_extra_minutes,
        "paused": paused,
        "pause_reason": store.pause_reason if paused else "",
        "paused_until": _iso(store.paused_until) if paused else None,
        "self_delivery": store.self_delivery,
        "accept_deadline_seconds": int(accept_deadline().total_seconds()),
    }


@dataclass(frozen=True)
class StorePerformance:
    start: datetime
    end: datetime
    orders: int  # paid orders in the period (the ones the store had to answer)
    accepted: int
    rejected: int
    auto_rejected: int
    acceptance_rate: float | None
    mean_prep_minutes: float | None  # accepted to ready
    mean_promised_minutes: float | None
    late_ready: int  # ready after the promised pickup time
    ratings: int
    mean_rating: float | None


def store_performance(*, store: Store, start: datetime, end: datetime) -> StorePerformance:
    """Acceptance rate, prep time against the promise, late orders and ratings for orders paid
    in [start, end)."""
    paid = Order.objects.filter(store=store, paid_at__gte=start, paid_at__lt=end)
    counts = paid.aggregate(
        orders=Count("pk", distinct=True),
        accepted=Count("pk", filter=Q(accepted_at__isnull=False), distinct=True),
        rejected=Count("pk", filter=Q(status=S.REJECTED), distinct=True),
        # Rejected by the deadline, not by a person: the system's event row says so.
        auto_rejected=Count(
            "pk",
            filter=Q(status=S.REJECTED, events__actor_role="system", events__to_status=S.REJECTED),
            distinct=True,
        ),
    )
    prep = ExpressionWrapper(F("ready_at") - F("accepted_at"), output_field=DurationField())
    ready = paid.filter(ready_at__isnull=False, accepted_at__isnull=False, prep_minutes__isnull=False)
    times = ready.aggregate(prep=Avg(prep), promised=Avg("prep_minutes"))
    late = sum(
        1
        for accepted_at, ready_at, minutes in ready.values_list("accepted_at", "ready_at", "prep_minutes")
        if ready_at and accepted_at and minutes is not None and ready_at > accepted_at + timedelta(minutes=minutes)
    )
    reviews = Review.objects.filter(store=store, created_at__gte=start, created_at__lt=end).aggregate(
        n=Count("pk"), mean=Avg("store_stars")
    )
    answered = counts["orders"]
    return StorePerformance(
        start=start,
        end=end,
        orders=answered,
        accepted=counts["accepted"],
        rejected=counts["rejected"],
        auto_rejected=counts["auto_rejected"],
        acceptance_rate=round(counts["accepted"] / answered, 4) if answered else None,
        mean_prep_minutes=round(times["prep"].total_seconds() / 60, 1) if times["prep"] else None,
        mean_promised_minutes=round(float(times["promised"]), 1) if times["promised"] is not None else None,
        late_ready=late,
        ratings=reviews["n"],
        mean_rating=round(float(reviews["mean"]), 2) if reviews["mean"] is not None else None,
    )
