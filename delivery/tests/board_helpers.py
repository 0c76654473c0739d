"""Helpers for the board's tests: a real store with a menu and paid orders."""

from __future__ import annotations

import uuid

from accounts.models import User
from delivery.models import Order, Payment, Store
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import MenuStore
from delivery.transitions import order_transition


def place_paid_order(diner: User, menu: MenuStore, *, note: str = "") -> Order:
    """A real order placed on `menu`'s store and paid (a succeeded sandbox payment)."""
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(
            LineRequest(item_id=menu.noodles.pk, option_ids=(menu.large.pk, menu.mild.pk), quantity=1, note="少葱"),
            LineRequest(item_id=menu.tea.pk),
        ),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
        note=note,
    )
    order = order_place(diner=diner, request=request, idempotency_key=str(uuid.uuid4())).order
    Payment.objects.create(
        order=order,
        provider="sandbox",
        provider_ref=f"sbx_{order.pk}_{uuid.uuid4().hex[:6]}",
        amount_cents=order.total_cents,
        status=Payment.Status.SUCCEEDED,
    )
    return order_transition(order_id=order.pk, to=Order.Status.PAID, actor=None, actor_role="system").order


def refresh(store: Store) -> Store:
    store.refresh_from_db()
    return store
