"""Offers: the dispatcher proposes work to a courier, who accepts or declines before the
countdown ends; declined and lapsed orders go back with a higher priority and without that
courier, and after DISPATCH_MAX_OFFERS failures into the open pool, where the first courier
nearby to grab an order gets it.

Every service runs in one transaction whose compare-and-swap updates decide races (two
couriers grabbing one pool order, an accept racing the time-out sweep); pushes go out on commit.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Func, Value
from django.db.models.fields import BigIntegerField
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.realtime import (
    event_push_on_commit,
    events_push_on_commit,
    group_for_order,
    group_for_order_tracking,
    group_for_store,
    group_for_user,
)
from delivery.models import Order
from dispatch.models import Courier, Offer, OrderDispatch
from dispatch.selectors import couriers_available, couriers_available_near, food_waiting_minutes, looking_since
from dispatch.services.leases import LeaseHold, LeaseLost, lease_check
from dispatch.services.locking import offer_orders_lock, orders_lock
from dispatch.transitions import TransitionRefused, courier_transition, offer_transition

C = Courier.State
DS = OrderDispatch.State
# Orders the dispatcher should find a courier for: the store has accepted them.
DISPATCHABLE_ORDER_STATES = frozenset({Order.Status.ACCEPTED, Order.Status.PREPARING, Order.Status.READY})


def courier_fee_cents(*, pickup_m: float, dropoff_m: float) -> int:
    """The courier's earnings for one order: a base of 5 yuan and 1 yuan per started km of the
    trip beyond the first (the platform's schedule; integer cents)."""
    km = (pickup_m + dropoff_m) / 1000
    return 500 + 100 * max(0, math.ceil(km) - 1)


def dropoff_code_new() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def order_dispatch_ensure(*, order: Order) -> OrderDispatch:
    """The order's dispatch row, created waiting on first sight (idempotent: one row per order,
    guarded by the one-to-one's unique index)."""
    dispatch, _created = OrderDispatch.objects.get_or_create(
        order=order, defaults={"store_id": order.store_id, "dropoff_code": dropoff_code_new()}
    )
    return dispatch


def dispatch_status_payload(dispatch: OrderDispatch, order: Order) -> dict[str, Any]:
    looking = looking_since(dispatch) is not None
    delay = food_waiting_minutes(dispatch, order, timezone.now())
    return {
        "order": order.pk,
        "number": order.number,
        "dispatch": dispatch.state,
        "looking": looking,
        "since": dispatch.created_at.isoformat() if dispatch.created_at else None,
        "failures": dispatch.failures,
        "delay_minutes": delay,
        "courier": dispatch.courier_id,
    }


def dispatch_status_push(dispatch: OrderDispatch) -> None:
    """After commit: tell the store's board and the diner how the search for a courier goes.
    Reads `dispatch.order` (callers with many rows select_related it)."""
    order = dispatch.order
    payload = dispatch_status_payload(dispatch, order)
    groups = (
        group_for_store(order.store_id),
        group_for_order(order.pk),
        group_for_user(order.diner_id),
        group_for_order_tracking(order.pk),
    )
    events_push_on_commit([(group, "dispatch.updated", payload) for group in groups])


def offer_create(
    *,
    courier_id: int,
    order_ids: Sequence[int],
    sequence: Sequence[int] | None = None,
    pickup_distance_m: float = 0,
    dropoff_distance_m: float = 0,
    lease: LeaseHold | None = None,
) -> Offer | None:
    """Offer `order_ids` (one order or a bundle) to one courier, for OFFER_SECONDS.

    Claims the orders (waiting -> offered) and the courier (idle -> offered) by compare-and-swap
    in one transaction: if any order is no longer waiting or the courier no longer idle (another
    dispatcher, a pool grab, the courier went offline), nothing is written and None is returned.
    With a `lease`, its fencing token is checked in the same transaction first (see
    dispatch.services.leases): a dispatcher that lost its zone writes nothing. Pushes
    `offer.new` to the courier on commit."""
    ids = list(dict.fromkeys(order_ids))
    now = timezone.now()
    try:
        with transaction.atomic():
            if lease is not None:
                lease_check(lease)
            claimed = OrderDispatch.objects.filter(order_id__in=ids, state=DS.WAITING).exclude(
                excluded_couriers__contains=[courier_id]
            )
            if claimed.update(state=DS.OFFERED, version=F("version") + 1, updated_at=now) != len(ids):
                raise _Abandon
            if not couriers_available().filter(pk=courier_id).exists():
                raise _Abandon
            courier_transition(
                courier_id=courier_id, to=C.OFFERED, actor=None, reason="offer", expected_from=frozenset({C.IDLE})
            )
            orders = list(Order.objects.filter(pk__in=ids))
            fee = sum(
                courier_fee_cents(pickup_m=pickup_distance_m / len(ids), dropoff_m=o.delivery_distance_m)
                for o in orders
            )
            offer = Offer.objects.create(
                courier_id=courier_id,
                sequence=list(sequence or ids),
                pickup_distance_m=int(pickup_distance_m),
                dropoff_distance_m=int(dropoff_distance_m or sum(o.delivery_distance_m for o in orders)),
                earnings_cents=fee,
                expires_at=now + timedelta(seconds=settings.OFFER_SECONDS),
                zone_key=lease.zone_key if lease else "",
                fencing_token=lease.token if lease else None,
            )
            offer.orders.set(orders)
            user_id = Courier.objects.values_list("user_id", flat=True).get(pk=courier_id)
            event_push_on_commit(
                group_for_user(user_id),
                "offer.new",
                {"offer": offer.pk, "expires_at": offer.expires_at.isoformat(), "orders": ids},
            )
            for dispatch in OrderDispatch.objects.filter(order_id__in=ids).select_related("order"):
                dispatch_status_push(dispatch)
    except (_Abandon, TransitionRefused, LeaseLost):
        return None
    return offer


class _Abandon(Exception):
    pass


def excluding(courier_id: int) -> Func:
    """For an UPDATE of dispatch rows: their excluded couriers plus this one (in the statement:
    no read of each row first)."""
    return Func(F("excluded_couriers"), Value(courier_id, output_field=BigIntegerField()), function="array_append")


def _orders_return(*, offer: Offer, courier_id: int) -> None:
    """The orders of a declined or lapsed offer go back: priority up, that courier excluded,
    into the open pool after DISPATCH_MAX_OFFERS failures."""
    ids = list(offer.orders.values_list("pk", flat=True))
    OrderDispatch.objects.filter(order_id__in=ids, state=DS.OFFERED).update(
        state=DS.WAITING,
        priority=F("priority") + 1,
        failures=F("failures") + 1,
        excluded_couriers=excluding(courier_id),
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    to_pool = OrderDispatch.objects.filter(
        order_id__in=ids, state=DS.WAITING, failures__gte=settings.DISPATCH_MAX_OFFERS
    )
    pooled = list(to_pool.select_related("store"))
    to_pool.update(state=DS.POOL, version=F("version") + 1)
    for dispatch in OrderDispatch.objects.filter(order_id__in=ids).select_related("order"):
        dispatch_status_push(dispatch)
    for dispatch in pooled:
        _pool_announce(dispatch)


def _pool_announce(dispatch: OrderDispatch) -> None:
    """Tell available couriers near the store that an order is waiting in the pool."""
    nearby = couriers_available_near(
        point=dispatch.store.location, radius_m=settings.DISPATCH_RADIUS_M, limit=50
    ).values_list("user_id", flat=True)
    for user_id in nearby:
        event_push_on_commit(group_for_user(user_id), "pool.updated", {"order": dispatch.order_id})


def offer_accept(*, offer_id: int, courier: Courier, actor: User | None) -> Offer:
    """The courier takes the offer: offer pending -> accepted, courier offered -> to_store, each
    order offered -> assigned to this courier. Refused once the countdown is over (the sweep may
    not have run yet) or the offer is not this courier's. Accepting twice returns the offer."""
    with transaction.atomic():
        offer_orders_lock(offer_id)  # orders first: see dispatch.services.locking
        offer = Offer.objects.select_for_update().get(pk=offer_id)
        if offer.courier_id != courier.pk:
            raise TransitionRefused("not_your_offer", _("This offer is not yours."))
        if offer.status == Offer.Status.ACCEPTED:
            return offer
        if offer.status == Offer.Status.PENDING and offer.expires_at <= timezone.now():
            raise TransitionRefused("offer_expired", _("This offer has expired."))
        offer = offer_transition(offer_id=offer_id, to=Offer.Status.ACCEPTED, actor=actor, reason="accepted")
        courier_transition(
            courier_id=courier.pk,
            to=C.TO_STORE,
            actor=actor,
            reason=f"offer {offer.pk}",
            expected_from=frozenset({C.OFFERED}),
        )
        _assign(offer=offer, courier_id=courier.pk, state_from=DS.OFFERED)
    return offer


def _assign(*, offer: Offer | None, courier_id: int, state_from: str, order_ids: Sequence[int] = ()) -> None:
    if order_ids:
        ids = list(order_ids)
    elif offer is not None:
        ids = list(offer.orders.values_list("pk", flat=True))
    else:
        ids = []
    now = timezone.now()
    per_order_fee = {}
    if offer is not None and ids:
        per_order_fee = dict.fromkeys(ids, offer.earnings_cents // len(ids))
    for order in Order.objects.filter(pk__in=ids):
        fee = per_order_fee.get(order.pk) or courier_fee_cents(pickup_m=0, dropoff_m=order.delivery_distance_m)
        moved = OrderDispatch.objects.filter(order_id=order.pk, state=state_from).update(
            state=DS.ASSIGNED,
            courier_id=courier_id,
            assigned_at=now,
            fee_cents=fee,
            version=F("version") + 1,
            updated_at=now,
        )
        if not moved:
            raise TransitionRefused("order_taken", _("This order was taken by someone else."))
    # The marketplace's order carries its courier (reviews and the store's board read it).
    Order.objects.filter(pk__in=ids).update(courier_id=courier_id)
    for dispatch in OrderDispatch.objects.filter(order_id__in=ids).select_related("order"):
        dispatch_status_push(dispatch)


def offer_decline(*, offer_id: int, courier: Courier, actor: User | None, reason: str) -> Offer:
    """The courier says no (with a reason): offer -> declined, courier -> idle, the orders go
    back with a higher priority and without this courier. Declining twice returns the offer."""
    reason = (reason or "").strip()[:200] or "declined"
    with transaction.atomic():
        offer_orders_lock(offer_id)
        offer = Offer.objects.select_for_update().get(pk=offer_id)
        if offer.courier_id != courier.pk:
            raise TransitionRefused("not_your_offer", _("This offer is not yours."))
        if offer.status == Offer.Status.DECLINED:
            return offer
        offer = offer_transition(offer_id=offer_id, to=Offer.Status.DECLINED, actor=actor, reason=reason)
        _courier_release(courier_id=courier.pk, actor=actor, reason="declined")
        _orders_return(offer=offer, courier_id=courier.pk)
    return offer


def _courier_release(*, courier_id: int, actor: User | None, reason: str) -> None:
    courier = Courier.objects.get(pk=courier_id)
    if courier.state == C.OFFERED:
        courier_transition(
            courier_id=courier_id, to=C.IDLE, actor=actor, reason=reason, expected_from=frozenset({C.OFFERED})
        )
    event_push_on_commit(group_for_user(courier.user_id), "offer.closed", {"reason": reason})


def offers_expire(*, now: Any = None) -> int:
    """Sweep: every pending offer past its deadline lapses (offer -> expired, courier -> idle,
    orders back as for a decline). Safe to run from several processes at once: each offer is
    claimed by SKIP LOCKED and moves by compare-and-swap. Returns how many lapsed."""
    now = now or timezone.now()
    lapsed = 0
    passed: set[int] = set()
    while True:
        with transaction.atomic():
            due = Offer.objects.filter(status=Offer.Status.PENDING, expires_at__lte=now).exclude(pk__in=passed)
            candidate = due.order_by("expires_at").values_list("pk", flat=True).first()
            if candidate is None:
                return lapsed
            # The orders first (see dispatch.services.locking), then the offer; one that another
            # sweep holds, or that was answered meanwhile, is passed over.
            offer_orders_lock(candidate)
            offer = (
                Offer.objects.select_for_update(skip_locked=True)
                .filter(pk=candidate, status=Offer.Status.PENDING)
                .first()
            )
            if offer is None:
                passed.add(candidate)
                continue
            offer = offer_transition(offer_id=offer.pk, to=Offer.Status.EXPIRED, actor=None, reason="timed out")
            _courier_release(courier_id=offer.courier_id, actor=None, reason="timed out")
            _orders_return(offer=offer, courier_id=offer.courier_id)
            lapsed += 1


def pool_grab(*, order_id: int, courier: Courier, actor: User | None) -> OrderDispatch:
    """A courier grabs an order from the open pool: first grab wins (compare-and-swap on the
    dispatch row); the loser gets `pool_taken`. The courier must be available and goes
    idle -> to_store."""
    with transaction.atomic():
        orders_lock([order_id])
        if not couriers_available().filter(pk=courier.pk).exists():
            raise TransitionRefused("not_available", _("Go online and idle before taking an order."))
        if not OrderDispatch.objects.filter(order_id=order_id, state=DS.POOL).exists():
            raise TransitionRefused("pool_taken", _("Somebody else took this order."))
        _assign(offer=None, courier_id=courier.pk, state_from=DS.POOL, order_ids=[order_id])
        courier_transition(
            courier_id=courier.pk,
            to=C.TO_STORE,
            actor=actor,
            reason=f"pool {order_id}",
            expected_from=frozenset({C.IDLE}),
        )
        return OrderDispatch.objects.get(order_id=order_id)


# Order states that end the order before delivery (or undo it): no courier should carry it.
ORDER_ENDED_STATES = frozenset({Order.Status.CANCELLED, Order.Status.REJECTED, Order.Status.REFUNDED})


def order_ended_withdraw(order: Order, from_status: str, actor: User | None) -> None:
    """delivery.transitions hook: an order that was cancelled, rejected or refunded leaves
    dispatch at once (in the same transaction as the order's move)."""
    if order.status in ORDER_ENDED_STATES:
        order_dispatch_withdraw(order_id=order.pk, actor=actor, reason=f"order {order.status}")


def order_dispatch_withdraw(*, order_id: int, actor: User | None, reason: str) -> OrderDispatch | None:
    """Take an order that ended away from dispatch: dispatch -> cancelled. A pending offer that
    names it is withdrawn (the courier's app hears `offer.withdrawn`, the courier is idle again,
    the other orders of a bundled offer go back to waiting with no penalty: nobody refused them);
    a courier assigned to it loses that task (`task.withdrawn`) and is idle once they carry
    nothing else. Idempotent; None when the order never entered dispatch."""
    with transaction.atomic():
        # The order first (a no-op when order_transition's hook calls this: it holds it already).
        orders_lock([order_id])
        dispatch = OrderDispatch.objects.select_for_update().filter(order_id=order_id).first()
        if dispatch is None or dispatch.state in (DS.DONE, DS.CANCELLED):
            return dispatch
        previous, courier_id = dispatch.state, dispatch.courier_id
        now = timezone.now()
        OrderDispatch.objects.filter(pk=dispatch.pk).update(
            state=DS.CANCELLED, version=F("version") + 1, updated_at=now
        )
        touched = [order_id]
        if previous == DS.OFFERED:
            for offer in Offer.objects.select_for_update().filter(orders__pk=order_id, status=Offer.Status.PENDING):
                offer_transition(offer_id=offer.pk, to=Offer.Status.WITHDRAWN, actor=actor, reason=reason)
                others = [pk for pk in offer.orders.values_list("pk", flat=True) if pk != order_id]
                OrderDispatch.objects.filter(order_id__in=others, state=DS.OFFERED).update(
                    state=DS.WAITING, version=F("version") + 1, updated_at=now
                )
                touched += others
                courier = Courier.objects.get(pk=offer.courier_id)
                if courier.state == C.OFFERED:
                    courier_transition(
                        courier_id=courier.pk,
                        to=C.IDLE,
                        actor=actor,
                        reason=reason,
                        expected_from=frozenset({C.OFFERED}),
                    )
                event_push_on_commit(
                    group_for_user(courier.user_id),
                    "offer.withdrawn",
                    {"offer": offer.pk, "order": order_id, "reason": reason},
                )
        elif previous == DS.ASSIGNED and courier_id is not None:
            courier = Courier.objects.get(pk=courier_id)
            carrying = OrderDispatch.objects.filter(courier_id=courier_id, state=DS.ASSIGNED)
            if not carrying.exists():
                if courier.state in (C.TO_STORE, C.AT_STORE, C.TO_CUSTOMER):
                    courier_transition(courier_id=courier_id, to=C.IDLE, actor=actor, reason=reason)
            elif courier.state in (C.TO_STORE, C.AT_STORE):
                left = carrying.filter(order__picked_up_at__isnull=True)
                if not left.exists():
                    # What is left of the task is already in the bag: on to the customers.
                    courier_transition(courier_id=courier_id, to=C.TO_CUSTOMER, actor=actor, reason=reason)
                elif courier.state == C.AT_STORE and not left.filter(arrived_store_at__isnull=False).exists():
                    # Nothing left at this store of a multi-store task: on to the next store.
                    courier_transition(courier_id=courier_id, to=C.TO_STORE, actor=actor, reason=reason)
            event_push_on_commit(
                group_for_user(courier.user_id), "task.withdrawn", {"order": order_id, "reason": reason}
            )
        for row in OrderDispatch.objects.filter(order_id__in=touched).select_related("order"):
            dispatch_status_push(row)
        dispatch.refresh_from_db()
    return dispatch
