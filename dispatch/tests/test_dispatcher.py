"""The dispatcher's round: waiting orders and nearby couriers go through the dispatch library and
come out as offers; several dispatchers at once never offer one order twice."""

from __future__ import annotations

import math
import threading
from collections import Counter

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from accounts.models import User
from delivery.models import Order, Store
from delivery.tests.factories import StoreFactory
from dispatch.engine.types import Assignment, OrderView
from dispatch.engine.types import Point as EnginePoint
from dispatch.models import Courier, DispatchLease, Offer, OrderDispatch
from dispatch.services.dispatching import CITY_ZONE, Projection, dispatch_tick, dropoff_distance_m, orders_enqueue
from dispatch.services.offers import courier_fee_cents
from dispatch.tests.factories import idle_courier, make_order


def _scene(diner: User, store: Store, *, orders: int, couriers: int) -> list[Order]:
    made = [
        make_order(
            diner=diner,
            store=store,
            status=Order.Status.READY,
            delivery_point=Point(121.455 + i / 2000, 31.228, srid=4326),
        )
        for i in range(orders)
    ]
    for i in range(couriers):
        idle_courier(lng=121.451 + i / 5000, lat=31.231)
    return made


@pytest.mark.django_db
def test_new_orders_enter_dispatch_once(diner: User, store: Store) -> None:
    order = make_order(diner=diner, store=store, status=Order.Status.ACCEPTED)
    make_order(diner=diner, store=store, status=Order.Status.PAID)  # not accepted yet

    assert orders_enqueue() == 1
    assert orders_enqueue() == 0
    assert OrderDispatch.objects.get().order == order


@pytest.mark.django_db
def test_a_tick_offers_ready_orders_to_nearby_couriers(diner: User, store: Store) -> None:
    orders = _scene(diner, store, orders=3, couriers=3)

    report = dispatch_tick(holder="a")

    assert report.zones_held == [CITY_ZONE] and report.enqueued == 3
    offered = Offer.objects.filter(status=Offer.Status.PENDING)
    assert offered.exists()
    covered = Counter(o.pk for offer in offered for o in offer.orders.all())
    assert set(covered) <= {o.pk for o in orders} and max(covered.values()) == 1
    assert Courier.objects.filter(state=Courier.State.OFFERED).count() == offered.count()
    assert all(o.fencing_token == DispatchLease.objects.get().token for o in offered)


@pytest.mark.django_db
def test_no_courier_in_range_means_no_offer(diner: User, store: Store) -> None:
    make_order(diner=diner, store=store, status=Order.Status.READY)
    idle_courier(lng=121.8, lat=31.5)  # ~40 km away

    dispatch_tick(holder="a")

    assert not Offer.objects.exists()
    assert OrderDispatch.objects.get().state == OrderDispatch.State.WAITING


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_never_offer_an_order_twice(diner: User, store: Store) -> None:
    _scene(diner, store, orders=6, couriers=8)
    barrier = threading.Barrier(2)
    held: dict[str, list[str]] = {}

    def run(holder: str) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                held.setdefault(holder, []).extend(dispatch_tick(holder=holder).zones_held)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(h,)) for h in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # One lease: only one of them ever held the zone.
    assert sorted(len(v) > 0 for v in held.values()) == [False, True], held
    offers = Offer.objects.all()
    assert offers.exists()
    per_order = Counter(o.pk for offer in offers for o in offer.orders.all())
    assert max(per_order.values()) == 1
    per_courier = Counter(offer.courier_id for offer in offers)
    assert max(per_courier.values()) == 1
    assert {offer.fencing_token for offer in offers} == {DispatchLease.objects.get().token}


@pytest.mark.django_db
def test_orders_of_two_nearby_stores_go_to_one_courier_in_one_offer(diner: User, store: Store) -> None:
    # Two stores ~190 m apart, their diners side by side, one courier nearby: one trip for both.
    nearby = StoreFactory(location=Point(121.452, 31.23, srid=4326))
    door = Point(121.455, 31.228, srid=4326)
    a = make_order(diner=diner, store=store, status=Order.Status.READY, delivery_point=door)
    b = make_order(diner=diner, store=nearby, status=Order.Status.READY, delivery_point=door)
    courier = idle_courier(lng=121.451, lat=31.231)

    dispatch_tick(holder="a")

    offer = Offer.objects.get(status=Offer.Status.PENDING)
    assert offer.courier == courier
    assert {o.pk for o in offer.orders.all()} == {a.pk, b.pk}
    assert sorted(offer.sequence) == sorted([a.pk, b.pk])
    # The ride between the stores counts in the offer's distance (and so in its earnings).
    project = Projection(store.location.x, store.location.y)
    p, q = project(store.location.x, store.location.y), project(nearby.location.x, nearby.location.y)
    assert offer.pickup_distance_m >= int(math.hypot(p.x - q.x, p.y - q.y))
    assert offer.earnings_cents == sum(
        courier_fee_cents(pickup_m=offer.pickup_distance_m / 2, dropoff_m=o.delivery_distance_m) for o in (a, b)
    )
    # Both go to one door: the drop-off ride is from the last store to it, once.
    d = project(door.x, door.y)
    ride = max(math.hypot(s.x - d.x, s.y - d.y) for s in (p, q))
    assert 0 < offer.dropoff_distance_m <= ride + 1


def test_the_offers_drop_off_distance_rides_from_the_last_store_through_the_doors_in_order() -> None:
    # Store A at the origin, store B 1 km east; one door 500 m north of B, another 300 m past it.
    def view(oid: str, store: str, x: float, door: tuple[float, float]) -> OrderView:
        return OrderView(oid, store, EnginePoint(x, 0), EnginePoint(*door), placed_at=0, ready_at=0)

    views = {"a": view("a", "A", 0, (1000, 500)), "b": view("b", "B", 1000, (1000, 800))}

    def ride(pickups: tuple[str, ...], drops: tuple[str, ...]) -> float:
        return dropoff_distance_m(Assignment("c", pickups, drops, pickup_at=0), views=views)

    assert ride(("a", "b"), ("a", "b")) == pytest.approx(500 + 300)  # from B, the last store
    assert ride(("b", "a"), ("a", "b")) == pytest.approx(math.hypot(1000, 500) + 300)  # from A
    assert ride(("a", "b"), ("b", "a")) == pytest.approx(800 + 300)  # the farther door first
