"""WebSockets through a real Daphne and the real Redis channel layer, with a real client."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.models import User
from core.consumers import CLOSE_UNAUTHENTICATED
from core.realtime import event_push, group_for_user
from tests.conftest import LiveServer, session_cookie, ws_headers, ws_recv

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_idle_socket_stays_open_15s_and_receives_a_group_message(daphne_server: LiveServer, diner: User) -> None:
    """Regression: channels-redis 4.3 with redis-py 8's default 5 s socket timeout closed every
    idle socket with 1011 after ~5 s. Given an idle socket for 15 s, it must still be open and
    get a message sent to its group."""
    cookie = session_cookie(diner)

    async def scenario() -> dict[str, object]:
        # ping_interval=None: no protocol pings, so the socket is truly idle on both sides.
        async with connect(
            f"{daphne_server.ws_url}/ws/me/", additional_headers=ws_headers(daphne_server, cookie), ping_interval=None
        ) as ws:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), timeout=15)  # idle: nothing arrives, nothing closes
            assert time.monotonic() - started >= 15
            await sync_to_async(event_push)(group_for_user(diner.pk), "test.hello", {"text": "still here"})
            return await ws_recv(ws)

    event = asyncio.run(scenario())
    assert event == {"type": "test.hello", "v": 1, "text": "still here"}


def test_ping_is_answered_with_pong(daphne_server: LiveServer, diner: User) -> None:
    cookie = session_cookie(diner)

    async def scenario() -> dict[str, object]:
        async with connect(
            f"{daphne_server.ws_url}/ws/me/", additional_headers=ws_headers(daphne_server, cookie)
        ) as ws:
            await ws.send(json.dumps({"type": "ping", "seq": 7}))
            return await ws_recv(ws)

    assert asyncio.run(scenario()) == {"type": "pong", "seq": 7}


def test_group_message_reaches_only_its_user(daphne_server: LiveServer, diner: User, outsider: User) -> None:
    """An outsider's socket never hears the diner's events."""
    diner_cookie, outsider_cookie = session_cookie(diner), session_cookie(outsider)

    async def scenario() -> tuple[dict[str, object], bool]:
        url = f"{daphne_server.ws_url}/ws/me/"
        async with (
            connect(url, additional_headers=ws_headers(daphne_server, diner_cookie)) as mine,
            connect(url, additional_headers=ws_headers(daphne_server, outsider_cookie)) as theirs,
        ):
            await sync_to_async(event_push)(group_for_user(diner.pk), "order.updated", {"order": 1})
            received = await ws_recv(mine)
            try:
                await asyncio.wait_for(theirs.recv(), timeout=1.0)
                leaked = True
            except TimeoutError:
                leaked = False
            return received, leaked

    received, leaked = asyncio.run(scenario())
    assert received["type"] == "order.updated"
    assert not leaked


def test_anonymous_socket_is_closed_with_4401(daphne_server: LiveServer) -> None:
    async def scenario() -> int | None:
        async with connect(f"{daphne_server.ws_url}/ws/me/", additional_headers=ws_headers(daphne_server, None)) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), timeout=5)
            return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(scenario()) == CLOSE_UNAUTHENTICATED


def test_foreign_origin_is_refused_at_handshake(daphne_server: LiveServer, diner: User) -> None:
    cookie = session_cookie(diner)

    async def scenario() -> None:
        headers = {"Origin": "http://evil.example", "Cookie": cookie}
        async with connect(f"{daphne_server.ws_url}/ws/me/", additional_headers=headers):
            pass

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(scenario())
    assert refused.value.response.status_code == 403
