"""The courier's steps after accepting: arrived at the store, picked up only once ready,
delivered only with the diner's code; a problem before pickup hands the order back."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.gis.geos import Point

from accounts.models import User
from core.realtime import group_for_store
from core.redis import state_redis
from delivery.models import Order, Store
from delivery.tests.factories import StoreFactory
from dispatch.models import Courier, CourierProblem, OrderDispatch
from dispatch.selectors import dispatch_board_status, earnings_today
from dispatch.services.flow import (
    courier_arrive_customer,
    courier_arrive_store,
    courier_deliver,
    courier_pick_up,
    courier_problem_report,
    pickup_plan,
)
from dispatch.services.locations import Ping, courier_location_update, positions_flush
from dispatch.services.offers import offer_accept, offer_create, order_dispatch_withdraw
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


# A multi-store task: the dispatcher bundled orders of two stores ~190 m apart.


def _two_store_task(
    diner: User, store: Store, *, first: str = Order.Status.READY, second: str = Order.Status.READY
) -> tuple[Order, Order, Courier]:
    nearby = StoreFactory(location=Point(121.452, 31.23, srid=4326))
    a = make_order(diner=diner, store=store, status=first)
    b = make_order(diner=diner, store=nearby, status=second, delivery_point=Point(121.456, 31.229, srid=4326))
    for order in (a, b):
        waiting_dispatch(order)
    courier = idle_courier()
    offer = offer_create(courier_id=courier.pk, order_ids=[a.pk, b.pk], sequence=[b.pk, a.pk])
    assert offer is not None
    offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)
    courier.refresh_from_db()
    return a, b, courier


def _state(courier: Courier) -> str:
    courier.refresh_from_db()
    return courier.state


def test_a_two_store_task_goes_store_by_store_then_to_the_customers(
    diner: User, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, courier = _two_store_task(diner, store)
    heard: list[tuple[str, str, int]] = []
    monkeypatch.setattr(
        "dispatch.services.flow.event_push_on_commit", lambda g, t, p: heard.append((g, t, p.get("order", 0)))
    )
    plan = pickup_plan([a, b])
    assert [p.store.pk for p in plan] == [a.store_id, b.store_id]  # a's food was ready first

    courier_arrive_store(courier=courier, actor=None)  # the next store of the plan: a's
    assert _state(courier) == Courier.State.AT_STORE
    assert heard == [(group_for_store(a.store_id), "courier.arrived", a.pk)]
    courier_pick_up(courier=courier, order_number=a.number, actor=None)
    assert _state(courier) == Courier.State.TO_STORE  # on to b's store
    courier_pick_up(courier=courier, order_number=a.number, actor=None)  # retried: no-op
    with pytest.raises(TransitionRefused) as early:
        courier_arrive_customer(courier=courier, order_number=a.number, actor=None)
    assert early.value.code == "not_picked_up"

    heard.clear()
    courier_arrive_store(courier=courier, actor=None, order_number=b.number)
    assert heard == [(group_for_store(b.store_id), "courier.arrived", b.pk)]
    courier_arrive_store(courier=courier, actor=None, order_number=b.number)  # retried: no-op
    courier_pick_up(courier=courier, order_number=b.number, actor=None)
    assert _state(courier) == Courier.State.TO_CUSTOMER

    for order in (b, a):
        courier_arrive_customer(courier=courier, order_number=order.number, actor=None)
        courier_deliver(courier=courier, order_number=order.number, code="4821", actor=None)
    assert _state(courier) == Courier.State.IDLE
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.DELIVERED}
    assert all(d.arrived_store_at for d in OrderDispatch.objects.all())
    earned, count = earnings_today(courier=courier)
    assert count == 2 and earned > 0


def test_on_a_two_store_task_only_the_next_store_sees_the_courier_approaching(diner: User, store: Store) -> None:
    a, b, courier = _two_store_task(diner, store)
    courier_arrive_store(courier=courier, actor=None)
    courier_pick_up(courier=courier, order_number=a.number, actor=None)
    assert _state(courier) == Courier.State.TO_STORE  # riding on to b's store with a on board

    shown = dispatch_board_status(order_ids=[a.pk, b.pk])
    first, second = shown[a.pk]["courier"], shown[b.pk]["courier"]
    assert isinstance(first, dict) and isinstance(second, dict)
    assert "distance_m" not in first  # a's store handed the food over: nobody is coming
    assert "distance_m" in second and "eta_minutes" in second

    # The live pushes agree: a ping reaches b's board as "approaching", never a's.
    layer = get_channel_layer()
    heard = {o.store_id: async_to_sync(layer.new_channel)() for o in (a, b)}
    for store_id, channel in heard.items():
        async_to_sync(layer.group_add)(group_for_store(store_id), channel)
    client = state_redis()
    now = time.time()
    position = Ping(lat=31.23, lng=121.451, accuracy=5, heading=0, speed=4, ts=now)
    courier_location_update(client, courier_id=courier.pk, ping=position, now=now)
    positions_flush(client)
    event = async_to_sync(layer.receive)(heard[b.store_id])["event"]
    assert event["type"] == "courier.approaching" and event["number"] == b.number

    async def nothing_for_a() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(heard[a.store_id]), 0.5)

    async_to_sync(nothing_for_a)()
    for store_id, channel in heard.items():
        async_to_sync(layer.group_discard)(group_for_store(store_id), channel)


def test_pick_up_refused_at_the_wrong_store(diner: User, store: Store) -> None:
    a, b, courier = _two_store_task(diner, store)
    courier_arrive_store(courier=courier, actor=None, order_number=a.number)

    with pytest.raises(TransitionRefused) as refused:
        courier_pick_up(courier=courier, order_number=b.number, actor=None)

    assert refused.value.code == "wrong_store"
    b.refresh_from_db()
    assert b.status == Order.Status.READY and _state(courier) == Courier.State.AT_STORE
    # Nor can the courier "arrive" at b's store while a's order waits here.
    with pytest.raises(TransitionRefused) as elsewhere:
        courier_arrive_store(courier=courier, actor=None, order_number=b.number)
    assert elsewhere.value.code == "wrong_store"


def test_pick_up_at_the_second_store_refused_before_its_food_is_ready(diner: User, store: Store) -> None:
    a, b, courier = _two_store_task(diner, store, second=Order.Status.PREPARING)
    courier_arrive_store(courier=courier, actor=None, order_number=a.number)
    courier_pick_up(courier=courier, order_number=a.number, actor=None)
    courier_arrive_store(courier=courier, actor=None, order_number=b.number)

    with pytest.raises(TransitionRefused) as refused:
        courier_pick_up(courier=courier, order_number=b.number, actor=None)

    assert refused.value.code == "order_not_ready"
    assert _state(courier) == Courier.State.AT_STORE
    # Arriving again at a store with nothing left to pick up is refused too.
    with pytest.raises(TransitionRefused) as done:
        courier_arrive_store(courier=courier, actor=None, order_number=a.number)
    assert done.value.code == "wrong_store"


def test_a_problem_at_the_second_store_sends_the_courier_on_with_what_they_carry(diner: User, store: Store) -> None:
    a, b, courier = _two_store_task(diner, store)
    courier_arrive_store(courier=courier, actor=None)
    courier_pick_up(courier=courier, order_number=a.number, actor=None)

    courier_problem_report(
        courier=courier, kind=CourierProblem.Kind.STORE_CLOSED, note="", order_number=b.number, actor=None
    )

    assert _state(courier) == Courier.State.TO_CUSTOMER
    assert OrderDispatch.objects.get(order=b).state == OrderDispatch.State.WAITING
    courier_arrive_customer(courier=courier, order_number=a.number, actor=None)


def test_a_cancel_at_the_second_store_sends_the_courier_on_with_what_they_carry(diner: User, store: Store) -> None:
    a, b, courier = _two_store_task(diner, store)
    courier_arrive_store(courier=courier, actor=None)
    courier_pick_up(courier=courier, order_number=a.number, actor=None)
    assert _state(courier) == Courier.State.TO_STORE

    order_dispatch_withdraw(order_id=b.pk, actor=None, reason="order cancelled")

    assert _state(courier) == Courier.State.TO_CUSTOMER
    courier_arrive_customer(courier=courier, order_number=a.number, actor=None)
    courier_deliver(courier=courier, order_number=a.number, code="4821", actor=None)
    assert _state(courier) == Courier.State.IDLE
