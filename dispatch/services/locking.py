"""One lock order for every write that spans an order and its dispatch.

Rows are locked in this order everywhere: Order, then OrderDispatch, then Offer, then Courier.
The marketplace's `order_transition` takes the order's row first (its compare-and-swap UPDATE),
and its hooks then take the dispatch, the offer and the courier: a cancelled order leaves
dispatch in the same transaction. A dispatch path that took the offer or the courier first and
the order last could deadlock with a cancel (accept did: offer, courier, dispatch, then the
order). So every dispatch path that will touch orders locks those orders' rows first, in
primary-key order, which also keeps two such paths from deadlocking on each other.
"""

from __future__ import annotations

from collections.abc import Iterable

from delivery.models import Order
from dispatch.models import Offer, OrderDispatch


def orders_lock(order_ids: Iterable[int]) -> None:
    """Lock the orders' rows for the current transaction, in primary-key order. FOR NO KEY UPDATE,
    the lock an UPDATE of the order takes: rows that merely point at the order (events, offer
    links) can still be written."""
    ids = sorted(set(order_ids))
    if ids:
        locked = Order.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
        list(locked.values_list("pk", flat=True))


def offer_orders_lock(offer_id: int) -> None:
    """Lock the orders of an offer (an offer's orders never change once it is made)."""
    orders_lock(Offer.orders.through.objects.filter(offer_id=offer_id).values_list("order_id", flat=True))


def courier_tasks_lock(courier_id: int) -> list[int]:
    """Lock the orders assigned to a courier; returns their ids."""
    ids = list(
        OrderDispatch.objects.filter(courier_id=courier_id, state=OrderDispatch.State.ASSIGNED).values_list(
            "order_id", flat=True
        )
    )
    orders_lock(ids)
    return ids
