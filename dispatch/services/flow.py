"""The courier's steps on an accepted task: arrived at the store, picked up (only once the
order is ready), arrived at the door, delivered with the diner's drop-off code; and reporting a
problem. Order states move through the marketplace's `order_transition`; courier states through
`courier_transition`; both in the same transaction."""

from __future__ import annotations

import hmac

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.realtime import event_push_on_commit, group_for_order, group_for_store
from delivery.models import Order
from delivery.transitions import TransitionRefused as OrderRefused
from delivery.transitions import order_transition
from dispatch.models import Courier, CourierProblem, OrderDispatch
from dispatch.services.locking import courier_tasks_lock
from dispatch.services.offers import dispatch_status_push
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
        raise TransitionRefused("not_your_task", "This order is not one of your tasks.")
    return dispatch


def courier_arrive_store(*, courier: Courier, actor: User | None) -> None:
    """to_store -> at_store; the store's board hears that the courier is here. Idempotent."""
    with transaction.atomic():
        courier_tasks_lock(courier.pk)  # orders first: see dispatch.services.locking
        move = courier_transition(courier_id=courier.pk, to=C.AT_STORE, actor=actor, reason="arrived at store")
        if not move.changed:
            return
        tasks = OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED, arrived_store_at__isnull=True)
        for dispatch in tasks.select_related("order"):
            event_push_on_commit(
                group_for_store(dispatch.order.store_id),
                "courier.arrived",
                {"order": dispatch.order_id, "number": dispatch.order.number},
            )
        tasks.update(arrived_store_at=timezone.now())


def courier_pick_up(*, courier: Courier, order_number: str, actor: User | None) -> Order:
    """The courier has the food: order ready -> picked_up (refused with `order_not_ready` before
    the store marks it ready). Once every order of the task is picked up the courier heads to
    the customer (at_store -> to_customer). Idempotent for an order already picked up."""
    with transaction.atomic():
        dispatch = _task(courier=courier, order_number=order_number)
        courier.refresh_from_db()
        if courier.state not in (C.AT_STORE, C.TO_CUSTOMER):
            raise TransitionRefused("not_at_store", "Tap “arrived at the store” first.")
        try:
            result = order_transition(
                order_id=dispatch.order_id,
                to=Order.Status.PICKED_UP,
                actor=actor,
                actor_role="courier",
                expected_from=frozenset({Order.Status.READY}),
            )
        except OrderRefused as exc:
            raise TransitionRefused("order_not_ready", "The order is not ready yet.") from exc
        if result.changed:
            dispatch_status_push(dispatch)
        waiting = OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED, order__picked_up_at__isnull=True)
        if courier.state == C.AT_STORE and not waiting.exists():
            courier_transition(courier_id=courier.pk, to=C.TO_CUSTOMER, actor=actor, reason="picked up")
        return result.order


def courier_arrive_customer(*, courier: Courier, order_number: str, actor: User | None) -> None:
    """At the door: the diner hears it (their page shows the drop-off code). Idempotent."""
    with transaction.atomic():
        dispatch = _task(courier=courier, order_number=order_number)
        if dispatch.order.status != Order.Status.PICKED_UP:
            raise TransitionRefused("not_picked_up", "Pick the order up first.")
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
            raise TransitionRefused("wrong_code", "That drop-off code is not right; ask the customer again.")
        try:
            result = order_transition(
                order_id=dispatch.order_id,
                to=Order.Status.DELIVERED,
                actor=actor,
                actor_role="courier",
                expected_from=frozenset({Order.Status.PICKED_UP}),
            )
        except OrderRefused as exc:
            raise TransitionRefused("not_picked_up", "Pick the order up first.") from exc
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
        raise TransitionRefused("invalid_kind", "Choose what went wrong.")
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
            for order_id in ids:
                OrderDispatch.objects.filter(order_id=order_id).update(
                    state=DS.WAITING,
                    courier=None,
                    priority=F("priority") + 1,
                    excluded_couriers=list(
                        {*OrderDispatch.objects.get(order_id=order_id).excluded_couriers, courier.pk}
                    ),
                    version=F("version") + 1,
                )
            Order.objects.filter(pk__in=ids).update(courier=None)
            if not OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED).exists():
                courier_transition(courier_id=courier.pk, to=C.IDLE, actor=actor, reason=f"problem: {kind}")
            for d in OrderDispatch.objects.filter(order_id__in=ids):
                dispatch_status_push(d)
        if dispatch is not None:
            payload = {"order": dispatch.order_id, "kind": kind}
            event_push_on_commit(group_for_store(dispatch.order.store_id), "courier.problem", payload)
            event_push_on_commit(group_for_order(dispatch.order_id), "courier.problem", payload)
    return problem
