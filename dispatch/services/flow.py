"""The courier's steps on an accepted task: arrived at the store, picked up (only once the
order is ready), arrived at the door, delivered with the diner's drop-off code; and reporting a
problem. Order states move through the marketplace's `order_transition`; courier states through
`courier_transition`; both in the same transaction.

A task may gather orders of several nearby stores (a multi-store bundle, see
dispatch.engine.bundler). The courier then goes store by store: arrives at one (that store's
board hears it), picks up its orders, rides on to the next (at_store -> to_store), and heads
to the customers only once every order is in the bag. `pickup_plan` says the visiting order.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.realtime import event_push_on_commit, group_for_order, group_for_store
from delivery.models import Order, Store
from delivery.transitions import TransitionRefused as OrderRefused
from delivery.transitions import order_transition
from dispatch.models import Courier, CourierProblem, OrderDispatch
from dispatch.services.locking import courier_tasks_lock
from dispatch.services.offers import dispatch_status_push, excluding
from dispatch.transitions import TransitionRefused, courier_transition

C = Courier.State
DS = OrderDispatch.State


def _task(*, courier: Courier, order_number: str) -> OrderDispatch:
    dispatch = (
        OrderDispatch.objects.select_related("order")
        .filter(courier=courier, order__number=order_number, state=DS.ASSIGNED)
        .first()
    )
    if dispatch is None:
        raise TransitionRefused("not_your_task", _("This order is not one of your tasks."))
    return dispatch


@dataclass(frozen=True)
class Pickup:
    """One store of a task or an offer, in visiting order."""

    store: Store
    orders: tuple[Order, ...]
    arrived: bool  # the courier said they are at this store
    done: bool  # every order here is picked up


def _food_ready(order: Order) -> datetime:
    """When the order's food is (or should be) ready: the store's word, else its prep estimate."""
    if order.ready_at is not None:
        return order.ready_at
    started = order.accepted_at or order.placed_at
    return started + timedelta(minutes=order.prep_minutes or order.store.default_prep_minutes)


def pickup_plan(orders: Sequence[Order], *, arrived: Collection[int] = ()) -> list[Pickup]:
    """The stores of `orders` in the order the courier visits them: the stores already done
    (in the order they were left), the store the courier is at (an order id in `arrived`), then
    the others in the order their food is ready, as the dispatcher plans them
    (dispatch.engine.bundler), then by store id. Needs each order's store loaded."""
    by_store: dict[int, list[Order]] = {}
    for order in orders:
        by_store.setdefault(order.store_id, []).append(order)
    stops = []
    for store_orders in by_store.values():
        done = all(o.picked_up_at is not None for o in store_orders)
        here = any(o.pk in arrived for o in store_orders)
        if done:
            key = (0, max(o.picked_up_at for o in store_orders if o.picked_up_at is not None))
        else:
            key = (1 if here else 2, max(_food_ready(o) for o in store_orders))
        pickup = Pickup(store=store_orders[0].store, orders=tuple(store_orders), arrived=here, done=done)
        stops.append((key, store_orders[0].store_id, pickup))
    stops.sort(key=lambda s: (s[0], s[1]))
    return [pickup for _key, _store, pickup in stops]


def _open_tasks(courier: Courier) -> list[OrderDispatch]:
    return list(
        OrderDispatch.objects.select_related("order", "order__store").filter(
            courier=courier, state=DS.ASSIGNED, order__picked_up_at__isnull=True
        )
    )


def courier_arrive_store(*, courier: Courier, actor: User | None, order_number: str | None = None) -> None:
    """to_store -> at_store at one store of the task: the store of `order_number`, else the next
    store of the pickup plan. That store's board hears that the courier is here. Idempotent
    (arriving again where the courier is); refused with `wrong_store` at a store with nothing
    left to pick up, or while orders wait at the store the courier is at."""
    with transaction.atomic():
        courier_tasks_lock(courier.pk)  # orders first: see dispatch.services.locking
        tasks = _open_tasks(courier)
        store_id: int | None
        if order_number:
            store_id = _task(courier=courier, order_number=order_number).order.store_id
        else:
            plan = pickup_plan([d.order for d in tasks])
            store_id = plan[0].store.pk if plan else None
        here = [d for d in tasks if d.order.store_id == store_id]
        courier.refresh_from_db()
        if courier.state == C.AT_STORE:
            if here and all(d.arrived_store_at is not None for d in here):
                return
            raise TransitionRefused("wrong_store", _("Pick up the orders at this store first."))
        if courier.state == C.TO_STORE and not here:
            raise TransitionRefused("wrong_store", _("Nothing is left to pick up at this store."))
        move = courier_transition(courier_id=courier.pk, to=C.AT_STORE, actor=actor, reason="arrived at store")
        if not move.changed:
            return
        for dispatch in here:
            event_push_on_commit(
                group_for_store(dispatch.order.store_id),
                "courier.arrived",
                {"order": dispatch.order_id, "number": dispatch.order.number},
            )
        OrderDispatch.objects.filter(pk__in=[d.pk for d in here], arrived_store_at__isnull=True).update(
            arrived_store_at=timezone.now()
        )


def courier_pick_up(*, courier: Courier, order_number: str, actor: User | None) -> Order:
    """The courier has the food: order ready -> picked_up (refused with `order_not_ready` before
    the store marks it ready, with `wrong_store` for an order of a store the courier is not at).
    Once every order of the store is picked up the courier rides on to the task's next store
    (at_store -> to_store), and once every order of the task is, to the customers (at_store ->
    to_customer). Idempotent for an order already picked up."""
    with transaction.atomic():
        courier_tasks_lock(courier.pk)  # orders first: see dispatch.services.locking
        dispatch = _task(courier=courier, order_number=order_number)
        courier.refresh_from_db()
        if dispatch.order.status == Order.Status.PICKED_UP:
            return dispatch.order
        if courier.state != C.AT_STORE:
            raise TransitionRefused("not_at_store", _("Tap “arrived at the store” first."))
        if dispatch.arrived_store_at is None:
            raise TransitionRefused(
                "wrong_store", _("This order waits at another store: ride there and tap “arrived at the store” first.")
            )
        try:
            result = order_transition(
                order_id=dispatch.order_id,
                to=Order.Status.PICKED_UP,
                actor=actor,
                actor_role="courier",
                expected_from=frozenset({Order.Status.READY}),
            )
        except OrderRefused as exc:
            raise TransitionRefused("order_not_ready", _("The order is not ready yet.")) from exc
        if result.changed:
            dispatch_status_push(dispatch)
        waiting = OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED, order__picked_up_at__isnull=True)
        if not waiting.exists():
            courier_transition(courier_id=courier.pk, to=C.TO_CUSTOMER, actor=actor, reason="picked up")
        elif not waiting.filter(arrived_store_at__isnull=False).exists():
            courier_transition(courier_id=courier.pk, to=C.TO_STORE, actor=actor, reason="on to the next store")
        return result.order


def courier_arrive_customer(*, courier: Courier, order_number: str, actor: User | None) -> None:
    """At the door: the diner hears it (their page shows the drop-off code). Refused until every
    order of the task is picked up (`not_picked_up`). Idempotent."""
    with transaction.atomic():
        dispatch = _task(courier=courier, order_number=order_number)
        if dispatch.order.status != Order.Status.PICKED_UP:
            raise TransitionRefused("not_picked_up", _("Pick the order up first."))
        courier.refresh_from_db()
        if courier.state != C.TO_CUSTOMER:
            raise TransitionRefused("not_picked_up", _("Pick up every order of the task first."))
        if dispatch.arrived_at is None:
            OrderDispatch.objects.filter(pk=dispatch.pk).update(arrived_at=timezone.now(), version=F("version") + 1)
            event_push_on_commit(group_for_order(dispatch.order_id), "courier.at_door", {"order": dispatch.order_id})


def courier_deliver(*, courier: Courier, order_number: str, code: str, actor: User | None) -> Order:
    """Hand-over: the diner's 4-digit code must match (compared in constant time); order
    picked_up -> delivered (the ledger books it), dispatch -> done with the courier's fee, and
    after the last drop-off of the task the courier is idle again. Refused with `wrong_code`."""
    with transaction.atomic():
        dispatch = _task(courier=courier, order_number=order_number)
        if not hmac.compare_digest((code or "").strip(), dispatch.dropoff_code):
            raise TransitionRefused("wrong_code", _("That drop-off code is not right; ask the customer again."))
        try:
            result = order_transition(
                order_id=dispatch.order_id,
                to=Order.Status.DELIVERED,
                actor=actor,
                actor_role="courier",
                expected_from=frozenset({Order.Status.PICKED_UP}),
            )
        except OrderRefused as exc:
            raise TransitionRefused("not_picked_up", _("Pick the order up first.")) from exc
        now = timezone.now()
        OrderDispatch.objects.filter(pk=dispatch.pk, state=DS.ASSIGNED).update(
            state=DS.DONE, done_at=now, version=F("version") + 1, updated_at=now
        )
        dispatch.refresh_from_db()
        dispatch_status_push(dispatch)
        if not OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED).exists():
            courier_transition(
                courier_id=courier.pk,
                to=C.IDLE,
                actor=actor,
                reason="delivered",
                expected_from=frozenset({C.TO_CUSTOMER}),
            )
        return result.order


# Problems that end the task before pickup: the orders go back to dispatch without this courier.
RELEASING = frozenset({CourierProblem.Kind.STORE_CLOSED, CourierProblem.Kind.ACCIDENT})


def courier_problem_report(
    *, courier: Courier, kind: str, note: str, order_number: str | None, actor: User | None
) -> CourierProblem:
    """Record a problem; an accident or a closed store before pickup hands the task back (the
    orders wait for another courier with a higher priority, this courier excluded, and the
    courier is idle). The store and the diner hear of it."""
    if kind not in CourierProblem.Kind.values:
        raise TransitionRefused("invalid_kind", _("Choose what went wrong."))
    with transaction.atomic():
        dispatch = _task(courier=courier, order_number=order_number) if order_number else None
        problem = CourierProblem.objects.create(
            courier=courier, order_id=dispatch.order_id if dispatch else None, kind=kind, note=(note or "")[:500]
        )
        courier_tasks_lock(courier.pk)
        courier.refresh_from_db()
        if kind in RELEASING and courier.state in (C.TO_STORE, C.AT_STORE):
            tasks = OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED, order__picked_up_at__isnull=True)
            ids = list(tasks.values_list("order_id", flat=True))
            # Back to waiting, higher, without this courier; not counted as a refusal (an accident
            # or a closed store is nobody's no), so never into the pool for it.
            OrderDispatch.objects.filter(order_id__in=ids).update(
                state=DS.WAITING,
                courier=None,
                priority=F("priority") + 1,
                excluded_couriers=excluding(courier.pk),
                version=F("version") + 1,
                updated_at=timezone.now(),
            )
            Order.objects.filter(pk__in=ids).update(courier=None)
            if not OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED).exists():
                courier_transition(courier_id=courier.pk, to=C.IDLE, actor=actor, reason=f"problem: {kind}")
            else:
                # A multi-store task: what was picked up at the earlier stores is still in the bag.
                courier_transition(courier_id=courier.pk, to=C.TO_CUSTOMER, actor=actor, reason=f"problem: {kind}")
            for d in OrderDispatch.objects.filter(order_id__in=ids).select_related("order"):
                dispatch_status_push(d)
        if dispatch is not None:
            payload = {"order": dispatch.order_id, "kind": kind}
            event_push_on_commit(group_for_store(dispatch.order.store_id), "courier.problem", payload)
            event_push_on_commit(group_for_order(dispatch.order_id), "courier.problem", payload)
    return problem
