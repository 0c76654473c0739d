"""The store board's socket through a real Daphne and the real Redis channel layer, with a real
WebSocket client: who may connect, versioned events on commit, resync after a dropped socket,
and a Redis restart under the board (on a throwaway redis-server, never the shared one)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accounts.models import User
from core.consumers import CLOSE_UNAUTHENTICATED
from delivery.consumers import CLOSE_FORBIDDEN
from delivery.tests.board_helpers import place_paid_order
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from tests.conftest import LiveServer, session_cookie, ws_headers, ws_recv

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _place_and_close(diner: User, menu: MenuStore) -> str:
    """Place a paid order from a worker thread, closing that thread's connection after (or the
    test database could not be dropped at the end)."""
    try:
        return place_paid_order(diner, menu).number
    finally:
        connections.close_all()


place = sync_to_async(_place_and_close)


def _board_api(server: LiveServer, cookie: str, store_id: int) -> dict[str, Any]:
    request = urllib.request.Request(f"{server.url}/api/v1/board/stores/{store_id}/", headers={"Cookie": cookie})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
        data: dict[str, Any] = json.loads(response.read())
        return data


def test_staff_receive_versioned_order_events_on_commit(
    daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    cookie = session_cookie(staff)

    async def scenario() -> list[dict[str, Any]]:
        url = f"{daphne_server.ws_url}/ws/stores/{menu.store.pk}/board/"
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            await ws.send(json.dumps({"type": "ping", "seq": 1}))
            assert (await ws_recv(ws)) == {"type": "pong", "seq": 1}
            number = await place(diner, menu)
            events = [await ws_recv(ws), await ws_recv(ws)]
            assert all(e["number"] == number for e in events)
            return events

    created, paid = asyncio.run(scenario())
    assert created["type"] == "order.created" and created["v"] == 1 and created["status"] == "placed"
    assert paid["type"] == "order.updated" and paid["status"] == "paid" and paid["version"] > created["version"]


def test_every_board_of_the_store_hears_each_event_once_and_one_leaving_stops_none(
    daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    """The boards of one store in one server process share one subscription to its group: each
    board gets every event exactly once, a board that leaves takes none of the others' events
    with it, and the last one leaving and a new one joining starts the subscription again."""
    cookie = session_cookie(staff)
    url = f"{daphne_server.ws_url}/ws/stores/{menu.store.pk}/board/"

    async def joined(ws: Any) -> None:
        await ws.send(json.dumps({"type": "ping", "seq": 1}))
        assert (await ws_recv(ws)) == {"type": "pong", "seq": 1}

    async def two_events(ws: Any, number: str) -> list[str]:
        events = [await ws_recv(ws), await ws_recv(ws)]
        assert all(e["number"] == number for e in events)
        return [e["type"] for e in events]

    async def scenario() -> None:
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as first:
            await joined(first)
            async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as second:
                await joined(second)
                number = await place(diner, menu)
                assert await two_events(first, number) == ["order.created", "order.updated"]
                assert await two_events(second, number) == ["order.created", "order.updated"]
                with pytest.raises(TimeoutError):  # nothing twice
                    await ws_recv(second, wait=0.5)
            number = await place(diner, menu)
            assert await two_events(first, number) == ["order.created", "order.updated"]
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as third:
            await joined(third)
            number = await place(diner, menu)
            assert await two_events(third, number) == ["order.created", "order.updated"]

    asyncio.run(scenario())


@pytest.mark.parametrize("who", ["other_store_staff", "diner", "anonymous"])
def test_only_the_stores_staff_may_watch_its_board(
    daphne_server: LiveServer, menu: MenuStore, diner: User, who: str
) -> None:
    other = StoreMembershipFactory(store=build_menu_store().store, role="owner").user
    cookie = {"other_store_staff": session_cookie(other), "diner": session_cookie(diner), "anonymous": None}[who]

    async def scenario() -> int | None:
        url = f"{daphne_server.ws_url}/ws/stores/{menu.store.pk}/board/"
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=5)
            return closed.value.rcvd.code if closed.value.rcvd else None

    expected = CLOSE_UNAUTHENTICATED if who == "anonymous" else CLOSE_FORBIDDEN
    assert asyncio.run(scenario()) == expected


def test_a_socket_killed_while_orders_arrive_loses_and_duplicates_nothing_after_resync(
    daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    """The client's protocol: apply pushes, and on every (re)connect replace its state with the
    API's. Orders placed while the socket is down reach the board through the resync."""
    cookie = session_cookie(staff)
    url = f"{daphne_server.ws_url}/ws/stores/{menu.store.pk}/board/"
    placed: list[str] = []

    async def scenario() -> dict[str, dict[str, Any]]:
        board: dict[str, dict[str, Any]] = {}

        async def resync() -> None:
            data = await sync_to_async(_board_api)(daphne_server, cookie, menu.store.pk)
            board.clear()
            board.update({o["number"]: o for o in data["orders"]})

        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            await resync()
            for _ in range(2):
                placed.append(await place(diner, menu))
            await ws_recv(ws)  # one push arrived; the socket dies with the rest in flight
        for _ in range(3):  # while disconnected
            placed.append(await place(diner, menu))
        async with connect(url, additional_headers=ws_headers(daphne_server, cookie)) as ws:
            await resync()
            placed.append(await place(diner, menu))
            while True:
                event = await ws_recv(ws)
                if event["number"] == placed[-1] and event["status"] == "paid":
                    break
            await resync()  # the push is a hint: fetch again
        return board

    board = asyncio.run(scenario())
    assert sorted(board) == sorted(placed)
    assert len(placed) == 6
    assert all(o["status"] == "paid" for o in board.values())


# --- Redis restarted under the board ----------------------------------------------------------


def _redis_up(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import redis

            if redis.Redis(port=port, socket_timeout=0.5).ping():
                return process
        except Exception:  # noqa: BLE001,S110 - not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError("throwaway redis-server did not start")
