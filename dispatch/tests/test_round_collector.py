"""The round pauses Python's cyclic garbage collector while it decides, and always restores it."""

from __future__ import annotations

import gc

import pytest

from accounts.models import User
from delivery.models import Order, Store
from dispatch.engine.types import Assignment
from dispatch.services.dispatching import CITY_ZONE, Zone, collector_paused, dispatch_round
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch

pytestmark = pytest.mark.django_db


def test_collector_is_off_inside_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()

    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_collector_left_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_round_decides_with_the_collector_off(diner: User, store: Store) -> None:
    # A real round with work to decide: loading, candidates and the plan all run paused.
    waiting_dispatch(make_order(diner=diner, store=store, status=Order.Status.READY))
    idle_courier()
    seen: list[bool] = []

    def plan_fn(*args: object) -> list[Assignment]:
        seen.append(gc.isenabled())
        return []

    report = dispatch_round(zone=Zone(key=CITY_ZONE, zone_id=None), lease=None, plan_fn=plan_fn)

    assert report.orders == 1 and report.couriers == 1
    assert seen == [False] and gc.isenabled()
