"""The dispatch sockets through a real Daphne and the real Redis: the courier's location stream
and the diner's tracking, and who is refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from websockets.asyncio.client import connect

from accounts.models import User
from core.consumers import CLOSE_UNAUTHENTICATED
from core.redis import state_redis
from delivery.models import Order, Store
from delivery.transitions import order_transition
from dispatch.consumers import CLOSE_FORBIDDEN
from dispatch.models import Courier, OrderDispatch
from dispatch.services.locations import Ping, courier_location_update, live_position_get, positions_flush
from dispatch.services.offers import offer_create
from dispatch.tests.factories import CourierFactory, idle_courier, make_order, waiting_dispatch
from tests.conftest import LiveServer, session_cookie, ws_headers, ws_recv

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


async def _close_code(server: LiveServer, path: str, cookie: str | None) -> int | None:
    async with connect(f"{server.ws_url}{path}", additional_headers=ws_headers(server, cookie)) as ws:
        with contextlib.suppress(Exception):  # the close is what we wait for
            await asyncio.wait_for(ws.recv(), timeout=5)
        return ws.close_code


def test_courier_pings_are_acknowledged_and_stored(daphne_server: LiveServer, courier: Courier) -> None:
    cookie = session_cookie(courier.user)
    now_ms = time.time() * 1000

    url = f"{daphne_server.ws_url}/ws/courier/"

    async def scenario() -> list[dict[str, Any]]:
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            replies = []
            for message in (
                {
                    "type": "location",
                    "lat": 31.23,
                    "lng": 121.45,
                    "accuracy": 5,
                    "heading": 0,
                    "speed": 3,
                    "ts": now_ms,
                },
                {"type": "location", "lat": 31.24, "lng": 121.46, "ts": now_ms + 100},  # too soon
                {"type": "location", "lat": 95, "lng": 121.46, "ts": now_ms + 5000},  # out of range
                {"type": "location", "lat": 31.2, "lng": 121.46, "ts": now_ms - 1000},  # older than the last
            ):
                await ws.send(json.dumps(message))
                replies.append(await ws_recv(ws))
            return replies

    ack, fast, bad, older = asyncio.run(scenario())
    assert (older["type"], older["code"]) == ("error", "out_of_order")
    assert ack == {"type": "location.ack", "ts": now_ms}
    assert (fast["type"], fast["code"]) == ("error", "rate_limited")
    assert (bad["type"], bad["code"]) == ("error", "out_of_range")
    # Acknowledged pings reach Redis within the consumer's batch interval (PingBuffer).
    deadline = time.monotonic() + 3
    while (live := live_position_get(state_redis(), courier_id=courier.pk)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live is not None and (live.lat, live.lng) == (31.23, 121.45)


def test_a_courier_cannot_send_pings_for_another(daphne_server: LiveServer, courier: Courier) -> None:
    other = CourierFactory()
    cookie = session_cookie(courier.user)

    url = f"{daphne_server.ws_url}/ws/courier/"

    async def scenario() -> dict[str, Any]:
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            await ws.send(
                json.dumps(
                    {"type": "location", "courier": other.pk, "lat": 31.2, "lng": 121.4, "ts": time.time() * 1000}
                )
            )
            return await ws_recv(ws)

    reply = asyncio.run(scenario())
    assert reply["code"] == "forbidden"
    assert live_position_get(state_redis(), courier_id=other.pk) is None
    assert live_position_get(state_redis(), courier_id=courier.pk) is None


def test_non_couriers_are_refused_the_courier_socket(daphne_server: LiveServer, diner: User, outsider: User) -> None:
    assert asyncio.run(_close_code(daphne_server, "/ws/courier/", None)) == CLOSE_UNAUTHENTICATED
    assert asyncio.run(_close_code(daphne_server, "/ws/courier/", session_cookie(diner))) == CLOSE_FORBIDDEN
    assert asyncio.run(_close_code(daphne_server, "/ws/courier/", session_cookie(outsider))) == CLOSE_FORBIDDEN


def test_only_the_orders_diner_watches_the_courier(
    daphne_server: LiveServer, diner: User, outsider: User, store: Store, owner: User
) -> None:
    from accounts.tests.factories import DinerFactory

    other_diner = DinerFactory().user
    carrying = CourierFactory(state=Courier.State.TO_CUSTOMER)
    order = make_order(diner=diner, store=store, status=Order.Status.PICKED_UP, courier=carrying)
    OrderDispatch.objects.create(
        order=order, store=store, dropoff_code="5678", state=OrderDispatch.State.ASSIGNED, courier=carrying
    )
    path = f"/ws/orders/{order.number}/track/"

    for intruder in (other_diner, outsider, owner, carrying.user):
        assert asyncio.run(_close_code(daphne_server, path, session_cookie(intruder))) == CLOSE_FORBIDDEN, intruder
    assert asyncio.run(_close_code(daphne_server, path, None)) == CLOSE_UNAUTHENTICATED

    cookie = session_cookie(diner)

    def move() -> None:
        now = time.time()
        client = state_redis()
        ping = Ping(lat=31.229, lng=121.452, accuracy=5, heading=45, speed=4, ts=now)
        courier_location_update(client, courier_id=carrying.pk, ping=ping, now=now)
        try:
            positions_flush(client)
        finally:
            connection.close()  # this worker thread's own connection

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(f"{daphne_server.ws_url}{path}", additional_headers=ws_headers(daphne_server, cookie)) as ws:
            snapshot = await ws_recv(ws)
            await sync_to_async(move)()
            return snapshot, await ws_recv(ws)

    snapshot, moved = asyncio.run(scenario())
    assert snapshot["type"] == "tracking.snapshot" and snapshot["active"] and snapshot["dropoff_code"] == "5678"
    assert moved["type"] == "courier.position" and (moved["lat"], moved["lng"]) == (31.229, 121.452)


def test_a_cancelled_order_is_withdrawn_from_the_couriers_app(
    daphne_server: LiveServer, diner: User, store: Store
) -> None:
    courier = idle_courier()
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    cookie = session_cookie(courier.user)

    def cancel() -> None:
        try:
            order_transition(order_id=order.pk, to=Order.Status.CANCELLED, actor=diner, actor_role="diner")
        finally:
            connection.close()  # this worker thread's own connection

    async def scenario() -> dict[str, Any]:
        url = f"{daphne_server.ws_url}/ws/courier/"
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            await sync_to_async(cancel, thread_sensitive=False)()
            while (event := await ws_recv(ws))["type"] != "offer.withdrawn":
                pass
            return event

    event = asyncio.run(scenario())
    assert event["offer"] == offer.pk and event["order"] == order.pk
    courier.refresh_from_db()
    assert courier.state == Courier.State.IDLE
