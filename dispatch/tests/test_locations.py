"""The location stream's rules: pings validated, only newer ones kept, rate-limited, the freshest
in Redis, flushed to PostGIS in batches with a downsampled trail for active orders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from accounts.models import User
from core.redis import state_redis, state_redis_async
from delivery.models import Order, Store
from dispatch.models import Courier, OrderDispatch, TrailPoint
from dispatch.services.locations import (
    Ping,
    PingBuffer,
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


def test_the_consumers_buffer_keeps_the_scripts_rules_in_one_write(client: redis.Redis) -> None:
    # PingBuffer writes many couriers' pings in one script call; within it each ping is still
    # refused when older than the courier's last one or sooner than the minimum interval (a
    # second socket of the same courier), and every field survives the trip.
    one, two = 910_001, 910_002
    ping = Ping(lat=31.234567, lng=121.456789, accuracy=7.5, heading=-1.0, speed=0.25, ts=NOW)

    async def scenario() -> None:
        async_client = state_redis_async()
        try:
            buffer = PingBuffer(async_client)
            buffer.add(courier_id=one, ping=ping, now=NOW)
            buffer.add(courier_id=one, ping=_p(NOW - 1, lng=121.1), now=NOW + 5)  # older
            buffer.add(courier_id=two, ping=_p(NOW), now=NOW)
            buffer.add(courier_id=two, ping=_p(NOW + 0.2, lng=121.2), now=NOW + 0.2)  # too soon
            buffer.add(courier_id=two, ping=_p(NOW + 3, lng=121.3), now=NOW + 3)
            await buffer.flush()
        finally:
            await async_client.aclose()

    asyncio.run(scenario())
    first, second = live_position_get(client, courier_id=one), live_position_get(client, courier_id=two)
    assert first is not None and second is not None
    assert (first.lat, first.lng, first.heading, first.speed, first.ts) == (31.234567, 121.456789, -1.0, 0.25, NOW)
    assert client.hget(position_key(one), "acc") == "7.5"
    assert (second.lng, second.ts) == (121.3, NOW + 3)
    assert client.smembers(dirty_key()) >= {str(one), str(two)}


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
