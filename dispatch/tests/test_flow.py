"""The courier's steps after accepting: arrived at the store, picked up only once ready,
delivered only with the diner's code; a problem before pickup hands the order back."""

from __future__ import annotations

import pytest

from accounts.models import User
from delivery.models import Order, Store
from dispatch.models import Courier, CourierProblem, OrderDispatch
from dispatch.selectors import earnings_today
from dispatch.services.flow import (
    courier_arrive_customer,
    courier_arrive_store,
    courier_deliver,
    courier_pick_up,
    courier_problem_report,
)
from dispatch.services.offers import offer_accept, offer_create
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch
from dispatch.transitions import TransitionRefused

pytestmark = pytest.mark.django_db


def _accepted(diner: User, store: Store, status: str = Order.Status.PREPARING) -> tuple[Order, Courier]:
    order = make_order(diner=diner, store=store, status=status)
    waiting_dispatch(order)
    courier = idle_courier()
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)
    courier.refresh_from_db()
    return order, courier


def test_full_delivery_flow(diner: User, store: Store) -> None:
    order, courier = _accepted(diner, store, status=Order.Status.READY)

    courier_arrive_store(courier=courier, actor=courier.user)
    courier_pick_up(courier=courier, order_number=order.number, actor=courier.user)
    courier_pick_up(courier=courier, order_number=order.number, actor=courier.user)  # retried: no-op
    courier_arrive_customer(courier=courier, order_number=order.number, actor=courier.user)
    courier_deliver(courier=courier, order_number=order.number, code="4821", actor=courier.user)

    order.refresh_from_db()
    courier.refresh_from_db()
    assert order.status == Order.Status.DELIVERED and order.picked_up_at and order.delivered_at
    assert courier.state == Courier.State.IDLE
    assert OrderDispatch.objects.get(order=order).state == OrderDispatch.State.DONE
    earned, count = earnings_today(courier=courier)
    assert count == 1 and earned > 0


def test_pick_up_refused_before_the_food_is_ready(diner: User, store: Store) -> None:
    order, courier = _accepted(diner, store, status=Order.Status.PREPARING)
    courier_arrive_store(courier=courier, actor=courier.user)

    with pytest.raises(TransitionRefused) as refused:
        courier_pick_up(courier=courier, order_number=order.number, actor=courier.user)

    assert refused.value.code == "order_not_ready"
    order.refresh_from_db()
    assert order.status == Order.Status.PREPARING


def test_pick_up_refused_before_arriving(diner: User, store: Store) -> None:
    order, courier = _accepted(diner, store, status=Order.Status.READY)

    with pytest.raises(TransitionRefused) as refused:
        courier_pick_up(courier=courier, order_number=order.number, actor=courier.user)

    assert refused.value.code == "not_at_store"


def test_deliver_refused_with_a_wrong_code(diner: User, store: Store) -> None:
    order, courier = _accepted(diner, store, status=Order.Status.READY)
    courier_arrive_store(courier=courier, actor=None)
    courier_pick_up(courier=courier, order_number=order.number, actor=None)

    with pytest.raises(TransitionRefused) as refused:
        courier_deliver(courier=courier, order_number=order.number, code="0000", actor=None)

    assert refused.value.code == "wrong_code"
    order.refresh_from_db()
    assert order.status == Order.Status.PICKED_UP


def test_another_courier_cannot_touch_the_task(diner: User, store: Store) -> None:
    order, _courier = _accepted(diner, store, status=Order.Status.READY)
    other = idle_courier(lng=121.47)

    with pytest.raises(TransitionRefused) as refused:
        courier_pick_up(courier=other, order_number=order.number, actor=None)

    assert refused.value.code == "not_your_task"


def test_problem_before_pickup_hands_the_order_back(diner: User, store: Store) -> None:
    order, courier = _accepted(diner, store)

    courier_problem_report(
        courier=courier, kind=CourierProblem.Kind.ACCIDENT, note="flat tyre", order_number=order.number, actor=None
    )

    courier.refresh_from_db()
    order.refresh_from_db()
    dispatch = OrderDispatch.objects.get(order=order)
    assert courier.state == Courier.State.IDLE and order.courier is None
    assert dispatch.state == OrderDispatch.State.WAITING and courier.pk in dispatch.excluded_couriers
    assert CourierProblem.objects.get().note == "flat tyre"
