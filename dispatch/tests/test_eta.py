"""ETA: prep time learned per store with a prior, the courier wait from supply, the live ETA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from delivery.eta import (
    PRIOR_WEIGHT,
    courier_wait_minutes,
    eta_minutes_for_store,
    order_eta_live,
    prep_minutes_learned,
    prep_minutes_learned_many,
)
from delivery.models import Order, Store
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch

pytestmark = pytest.mark.django_db


def test_a_new_store_starts_at_its_declared_prep_time(store: Store) -> None:
    store.default_prep_minutes = 15
    assert prep_minutes_learned(store=store) == 15
    assert prep_minutes_learned_many(stores=[store]) == {store.pk: 15}


def test_prep_time_moves_towards_what_the_store_really_does(diner: User, store: Store) -> None:
    store.default_prep_minutes = 15
    store.save()
    now = timezone.now()
    for _ in range(10):
        make_order(diner=diner, store=store, status=Order.Status.READY, accepted_at=now - timedelta(minutes=30),
                   ready_at=now)  # fmt: skip

    expected = (PRIOR_WEIGHT * 15 + 10 * 30) / (PRIOR_WEIGHT + 10)
    assert prep_minutes_learned(store=store) == pytest.approx(expected)
    assert prep_minutes_learned_many(stores=[store])[store.pk] == pytest.approx(expected)


@override_settings(PICKUP_ALLOWANCE_MINUTES=8)
def test_courier_wait_comes_from_supply(diner: User, store: Store) -> None:
    point = store.location
    assert courier_wait_minutes(point=point) == 8  # nothing measured: the allowance
    idle_courier(lng=point.x + 0.01, lat=point.y)  # ~1 km away
    near = courier_wait_minutes(point=point)
    assert 3 <= near <= 8
    for _ in range(3):
        waiting_dispatch(make_order(diner=diner, store=store))
    assert courier_wait_minutes(point=point) > near  # a queue ahead of the order


def test_live_eta_follows_the_courier(diner: User, store: Store) -> None:
    now = timezone.now()
    order = make_order(diner=diner, store=store, status=Order.Status.PICKED_UP)
    far = order_eta_live(order=order, now=now, courier_point=Point(121.50, 31.228, srid=4326))
    near = order_eta_live(order=order, now=now, courier_point=Point(121.456, 31.228, srid=4326))
    assert far is not None and near is not None and near < far
    order.status = Order.Status.DELIVERED
    assert order_eta_live(order=order, now=now, courier_point=None) is None


@override_settings(PICKUP_ALLOWANCE_MINUTES=8, ETA_STORE_ESTIMATE_SECONDS=60)
def test_the_placement_eta_reuses_the_store_estimate_briefly_but_not_its_own_columns(store: Store) -> None:
    store.default_prep_minutes = 15
    store.busy_extra_minutes = 0
    assert eta_minutes_for_store(store=store, distance_m=0) == 15  # prep outlasts the 8-minute wait

    # The supply estimate is kept for a few seconds: a new courier does not change it yet...
    idle_courier(lng=store.location.x + 0.01, lat=store.location.y)
    assert eta_minutes_for_store(store=store, distance_m=0) == 15
    # ...but the store's own busy minutes and declared prep time act at once.
    store.busy_extra_minutes = 10
    assert eta_minutes_for_store(store=store, distance_m=0) == 25
    store.busy_extra_minutes = 0
    store.default_prep_minutes = 30
    assert eta_minutes_for_store(store=store, distance_m=0) == 30


@override_settings(PICKUP_ALLOWANCE_MINUTES=8, ETA_STORE_ESTIMATE_SECONDS=0)
def test_without_reuse_the_placement_eta_follows_the_supply_at_once(diner: User, store: Store) -> None:
    store.default_prep_minutes = 1
    store.busy_extra_minutes = 0
    assert eta_minutes_for_store(store=store, distance_m=0) == 8  # the allowance: nothing measured
    idle_courier(lng=store.location.x + 0.01, lat=store.location.y)  # ~1 km away
    assert eta_minutes_for_store(store=store, distance_m=0) < 8
