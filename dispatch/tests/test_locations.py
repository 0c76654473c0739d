"""The location stream's rules: pings validated, only newer ones kept, rate-limited, the freshest
in Redis, flushed to PostGIS in batches with a downsampled trail for active orders."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from accounts.models import User
from core.redis import state_redis
from delivery.models import Order, Store
from dispatch.models import Courier, OrderDispatch, TrailPoint
from dispatch.services.locations import (
    Ping,
    PingRefused,
    courier_location_update,
    dirty_key,
    live_position_get,
    ping_parse,
    position_key,
    positions_flush,
)
from dispatch.tests.factories import CourierFactory, make_order

NOW = 1_790_000_000.0


def _ping(**fields: object) -> dict[str, object]:
    return {"lat": 31.23, "lng": 121.45, "accuracy": 8, "heading": 90, "speed": 4.2, "ts": NOW * 1000, **fields}


def test_a_valid_ping_parses_with_ms_timestamps() -> None:
    ping = ping_parse(_ping(), now=NOW)
    assert (ping.lat, ping.lng, ping.ts) == (31.23, 121.45, NOW)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"lat": 91}, "out_of_range"),
        ({"lng": -181}, "out_of_range"),
        ({"lat": "31.2"}, "invalid"),
        ({"lat": None}, "invalid"),
        ({"lat": float("nan")}, "invalid"),
        ({"speed": 500}, "out_of_range"),
        ({"ts": (NOW + 60) * 1000}, "future"),
        ({"ts": (NOW - 3600) * 1000}, "stale"),
    ],
)
def test_bad_pings_are_refused_with_a_code(fields: dict[str, object], code: str) -> None:
    with pytest.raises(PingRefused) as refused:
        ping_parse(_ping(**fields), now=NOW)
    assert refused.value.code == code


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = state_redis()
    yield client
    for key in client.scan_iter(f"{position_key(0)[:-1]}*"):
        client.delete(key)
    client.delete(dirty_key())


def _p(ts: float, lng: float = 121.45) -> Ping:
    return Ping(lat=31.23, lng=lng, accuracy=5, heading=0, speed=3, ts=ts)


@pytest.mark.django_db
def test_older_and_too_frequent_pings_are_refused(client: redis.Redis) -> None:
    courier = CourierFactory()
    courier_location_update(client, courier_id=courier.pk, ping=_p(NOW), now=NOW)

    with pytest.raises(PingRefused) as older:
        courier_location_update(client, courier_id=courier.pk, ping=_p(NOW - 1), now=NOW + 5)
    with pytest.raises(PingRefused) as fast:
        courier_location_update(client, courier_id=courier.pk, ping=_p(NOW + 0.2), now=NOW + 0.2)
    courier_location_update(client, courier_id=courier.pk, ping=_p(NOW + 2, lng=121.46), now=NOW + 2)

    assert (older.value.code, fast.value.code) == ("out_of_order", "rate_limited")
    live = live_position_get(client, courier_id=courier.pk)
    assert live is not None and live.lng == 121.46 and live.ts == NOW + 2


@pytest.mark.django_db
def test_flush_writes_positions_and_a_trail_for_active_orders(client: redis.Redis, diner: User, store: Store) -> None:
    carrying, free = CourierFactory(state=Courier.State.TO_CUSTOMER), CourierFactory(state=Courier.State.IDLE)
    order = make_order(diner=diner, store=store, status=Order.Status.PICKED_UP, courier=carrying)
    OrderDispatch.objects.create(
        order=order, store=store, dropoff_code="1234", state=OrderDispatch.State.ASSIGNED, courier=carrying
    )
    now = time.time()
    for i, courier in enumerate((carrying, free)):
        courier_location_update(client, courier_id=courier.pk, ping=_p(now, lng=121.45 + i / 100), now=now)

    assert positions_flush(client) == 2
    assert positions_flush(client) == 0  # nothing new

    carrying.refresh_from_db()
    free.refresh_from_db()
    assert carrying.position is not None and abs(carrying.position.x - 121.45) < 1e-9
    assert free.position is not None and abs(free.position.x - 121.46) < 1e-9
    assert list(TrailPoint.objects.values_list("courier_id", "order_id")) == [(carrying.pk, order.pk)]
    # A second ping within the trail interval is flushed but not trailed.
    courier_location_update(client, courier_id=carrying.pk, ping=_p(now + 2, lng=121.451), now=now + 2)
    assert positions_flush(client) == 1
    assert TrailPoint.objects.count() == 1
