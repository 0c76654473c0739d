"""WebSockets of the dispatch app.

`/ws/courier/`: the courier app's socket. In: location pings and heartbeats. Out: offers, pool
announcements and task updates (the courier's user group), acknowledgements and errors.
`/ws/orders/<number>/track/`: the order's diner only; the courier's position while a courier
carries the active order (throttled by the dispatcher's flush), plus a snapshot on connect.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts.access import access_courier, access_order_tracking
from core.consumers import CLOSE_UNAUTHENTICATED, GroupEventConsumer, HopFreeConsumer
from core.realtime import group_for_order_tracking, group_for_user, server_gc_once
from core.redis import state_redis_async_shared
from delivery.models import Order
from dispatch.models import Courier
from dispatch.selectors import tracking_snapshot
from dispatch.services.locations import PingBuffer, PingRefused, live_ts_get_async, ping_parse

CLOSE_FORBIDDEN = 4403

_buffers: dict[int, PingBuffer] = {}


def _buffer() -> PingBuffer:
    loop_id = id(asyncio.get_running_loop())
    buffer = _buffers.get(loop_id)
    if buffer is None:
        buffer = _buffers[loop_id] = PingBuffer(state_redis_async_shared())
    return buffer


async def _refuse(consumer: AsyncJsonWebsocketConsumer, code: int) -> None:
    # Accept, then close with our code: a refused handshake reaches the browser only as 1006.
    await consumer.accept()
    await consumer.close(code=code)


class CourierConsumer(HopFreeConsumer):
    """The courier's socket. Invariants: only a signed-in courier is accepted, and every ping
    moves that courier only (a ping naming another courier is refused with `forbidden`). Each
    location message `{type: "location", lat, lng, accuracy, heading, speed, ts}` is validated
    (range, not in the future, newer than the last, at most one per COURIER_PING_MIN_INTERVAL)
    and answered `{type: "location.ack", ts}` or `{type: "error", code, message}`."""

    courier_id: int | None = None
    group: str | None = None
    last_accepted: float = 0.0
    last_ts: float = 0.0
    min_interval: float = 0.0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await _refuse(self, CLOSE_UNAUTHENTICATED)
            return
        courier = await database_sync_to_async(Courier.objects.filter(user_id=user.pk).first)()
        if courier is None or not access_courier(user, courier):
            await _refuse(self, CLOSE_FORBIDDEN)
            return
        server_gc_once()
        self.courier_id = courier.pk
        self.min_interval = settings.COURIER_PING_MIN_INTERVAL
        # A new socket continues from the courier's last accepted ping (a reconnect must not
        # rewind them with a buffered older position).
        self.last_ts = await live_ts_get_async(state_redis_async_shared(), courier_id=courier.pk)
        self.group = group_for_user(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self._error("invalid", "Send a JSON object.")
            return
        kind = content.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong", "seq": content.get("seq")})
        elif kind == "location":
            await self._location(content)
        else:
            await self._error("unknown_message", "Unknown message type.")

    async def _location(self, content: dict[str, Any]) -> None:
        if self.courier_id is None:
            return
        claimed = content.get("courier")
        if claimed is not None and claimed != self.courier_id:
            await self._error("forbidden", "You can only send your own location.")
            return
        now = time.time()
        try:
            ping = ping_parse(content, now=now)
            # A flood is dropped here, before it costs a Redis round trip; Redis checks again
            # across reconnects (a second socket of the same courier).
            if ping.ts <= self.last_ts:
                raise PingRefused("out_of_order", "The ping is not newer than the last one.")
            if now - self.last_accepted < self.min_interval:
                raise PingRefused("rate_limited", "Pings come too fast; slow down.")
            _buffer().add(courier_id=self.courier_id, ping=ping, now=now)
        except PingRefused as refused:
            await self._error(refused.code, refused.message, ts=content.get("ts"))
            return
        self.last_accepted = now
        self.last_ts = ping.ts
        # The ack is written by hand: the same JSON as send_json, without a dict and a dumps
        # per ping (the ts echoed is the client's, already a validated finite number).
        await self.send(text_data=f'{{"type":"location.ack","ts":{content["ts"]!r}}}')

    async def _error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def event_push(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


class OrderTrackingConsumer(GroupEventConsumer):
    """The diner's live map of one order. Invariants: only that order's diner is accepted
    (access_order_tracking); positions reach this group only while a courier carries the active
    order. On (re)connect it sends a full `tracking.snapshot`, so a dropped socket resyncs."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await _refuse(self, CLOSE_UNAUTHENTICATED)
            return
        number = self.scope["url_route"]["kwargs"]["number"]
        order = await database_sync_to_async(Order.objects.select_related("store").filter(number=number).first)()
        if order is None or not await database_sync_to_async(access_order_tracking)(user, order):
            await _refuse(self, CLOSE_FORBIDDEN)
            return
        self.group = group_for_order_tracking(order.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        snapshot = await database_sync_to_async(tracking_snapshot)(order=order)
        await self.send_json({"type": "tracking.snapshot", "v": 1, **snapshot})
