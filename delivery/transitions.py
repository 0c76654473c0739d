"""The order state machine: one table of allowed moves, one compare-and-swap service.

Every move is `order_transition`: an UPDATE ... WHERE status = <from> (so two devices, a timer
and a webhook racing on one order cannot both win), the state's timestamp and a version bump in
the same statement, an OrderEvent row in the same transaction, and the pushes after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.realtime import events_push_on_commit, group_for_order, group_for_store, group_for_user
from delivery.models import Order, OrderEvent
from delivery.services.ledger import ledger_post_delivered

S = Order.Status

# from-state -> the states it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLACED: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.PREPARING, S.READY, S.CANCELLED}),
    S.PREPARING: frozenset({S.READY}),
    S.READY: frozenset({S.PICKED_UP}),
    S.PICKED_UP: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

# The timestamp each state stamps when entered.
STAMPS: dict[str, str] = {
    S.PAID: "paid_at",
    S.ACCEPTED: "accepted_at",
    S.PREPARING: "preparing_at",
    S.READY: "ready_at",
    S.PICKED_UP: "picked_up_at",
    S.DELIVERED: "delivered_at",
    S.REJECTED: "rejected_at",
    S.CANCELLED: "cancelled_at",
    S.REFUNDED: "refunded_at",
    S.PARTIALLY_REFUNDED: "refunded_at",
}

# States a diner still waits in (the store's board and the tracking page show these).
ACTIVE = frozenset({S.PLACED, S.PAID, S.ACCEPTED, S.PREPARING, S.READY, S.PICKED_UP})
# A move into itself that records something new (another partial refund) is not a no-op.
REPEATABLE = frozenset({S.PARTIALLY_REFUNDED})

# Called inside the transaction of every real move with (order after the move, from-status,
# actor); other apps add theirs in AppConfig.ready(): dispatch withdraws the courier's offer or
# task of an order that was cancelled, rejected or refunded.
TRANSITION_HOOKS: list[Callable[[Order, str, User | None], None]] = []


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


class TransitionRefused(Exception):
    """The move is not allowed from the order's current state (or the order moved meanwhile)."""

    def __init__(self, order: Order, to_status: str) -> None:
        self.order = order
        self.to_status = to_status
        self.code = "order_state_conflict"
        super().__init__(f"Order {order.number} is {order.status}; it cannot become {to_status}.")


@dataclass(frozen=True)
class TransitionResult:
    order: Order
    changed: bool  # False: the order was already in that state (a retried request)


def order_transition(
    *,
    order_id: int,
    to: str,
    actor: User | None,
    actor_role: str,
    reason: str = "",
    expected_from: frozenset[str] | None = None,
    fields: dict[str, Any] | None = None,
) -> TransitionResult:
    """Move an order to `to` if the table allows it from its current state.

    Compare-and-swap: the update names the state read, so of two racing moves exactly one wins;
    the loser re-reads: already in `to` means an idempotent success (changed=False), anything
    else raises TransitionRefused. Entering `delivered` books the store's ledger in the same
    transaction. `expected_from` narrows the allowed sources (accept only from
    paid, say); `fields` are written in the same statement (prep time, reason). Writes one
    OrderEvent; pushes `order.updated` to the store, the diner and the order's group on commit.
    """
    now = timezone.now()
    with transaction.atomic():
        for _attempt in range(3):
            order = Order.objects.get(pk=order_id)
            current = order.status
            if current == to and to not in REPEATABLE:
                return TransitionResult(order=order, changed=False)
            allowed = can_transition(current, to) and (expected_from is None or current in expected_from)
            if not allowed:
                raise TransitionRefused(order, to)
            updates: dict[str, Any] = {"status": to, "version": F("version") + 1, **(fields or {})}
            if to in STAMPS:
                updates[STAMPS[to]] = now
            if Order.objects.filter(pk=order_id, status=current, version=order.version).update(**updates):
                break
            # Someone else moved it between our read and our write: read again and decide anew.
        else:
            raise TransitionRefused(Order.objects.get(pk=order_id), to)
        # The row is now what we read plus `updates` (the compare-and-swap proves nobody wrote in
        # between): apply them here rather than read the whole order back, a statement and a
        # model (with its geography column) per transition. An expression is read back.
        order.version += 1
        computed = [name for name, value in updates.items() if hasattr(value, "resolve_expression")]
        for name, value in updates.items():
            if name not in computed:
                setattr(order, name, value)
        computed.remove("version")
        if computed:
            order.refresh_from_db(fields=computed)
        if to == S.DELIVERED:
            # The store's ledger books the sale in the same transaction as the delivery.
            ledger_post_delivered(order=order)
        OrderEvent.objects.create(
            order=order, actor=actor, actor_role=actor_role, from_status=current, to_status=to, reason=reason
        )
        for hook in TRANSITION_HOOKS:
            hook(order, current, actor)
        payload = {"order": order.pk, "number": order.number, "status": order.status, "version": order.version}
        groups = (group_for_store(order.store_id), group_for_user(order.diner_id), group_for_order(order.pk))
        events_push_on_commit([(group, "order.updated", payload) for group in groups])
        # A paid order's accept deadline is enforced by the beat sweep (orders_auto_reject_due,
        # every ORDER_ACCEPT_SWEEP_SECONDS), not by a task per order: a publish to the broker per
        # payment cost more than the sweep's one indexed query, and a countdown task waited in a
        # worker's memory, lost if the worker restarted.
    return TransitionResult(order=order, changed=True)
