"""The store's live board socket: `/ws/stores/<store_id>/board/`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from typing import Any

from channels.db import database_sync_to_async

from accounts.access import access_store
from core.consumers import CLOSE_UNAUTHENTICATED, HopFreeConsumer
from core.realtime import group_for_store, server_gc_once
from core.redis import state_redis_async_shared
from delivery.models import Store
from delivery.services.board import BOARD_SEEN_TTL_SECONDS, board_seen_key

log = logging.getLogger(__name__)

# Signed in, but not staff of this store (or no such store): the client does not retry.
CLOSE_FORBIDDEN = 4403
# The server asks the client to reconnect (RFC 6455 1012, "service restart").
CLOSE_RENEW = 1012
SENTINEL_TTL_SECONDS = 3600
# How often a store's relay renews its channel-layer group membership while boards ping.
RELAY_RENEW_SECONDS = 3600.0


class _StoreRelay:
    """The store group's events for every board socket of the store in this process: one
    channel-layer subscription per store (and event loop), not one per socket.

    With a channel per socket, channels_redis handed each event to every socket's own receive
    (two tasks, a lock and a wait each) and channels dispatched it per socket, JSON-encoded per
    socket: with 200 boards that was most of the server's time per delivery, and the last
    board heard of an order tens of milliseconds after the first. Here the event is received
    once, encoded once and written to each socket in one pass.
    """

    def __init__(self, layer: Any, group: str, key: tuple[asyncio.AbstractEventLoop, str]) -> None:
        self.layer = layer
        self.group = group
        self.key = key
        # Weak: a consumer whose instance the server cancelled without `disconnect` (its close
        # timed out) drops out by itself; a live consumer is held by its own running task.
        self.boards: weakref.WeakSet[StoreBoardConsumer] = weakref.WeakSet()
        self.channel: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.joined_at = 0.0  # monotonic time of the last group_add

    async def join(self, board: StoreBoardConsumer) -> None:
        self.boards.add(board)
        if self.channel is None:
            channel = await self.layer.new_channel()
            if self.channel is None:  # another board may have started it during the await
                self.channel = channel
                self.task = asyncio.create_task(self._relay(channel), name=f"board-relay {self.group}")
        # On every join, not only the first: it renews the membership's expiry, and puts it back
        # after a Redis restart (the joining board was renewed for that very reason).
        await self.layer.group_add(self.group, self.channel)
        self.joined_at = time.monotonic()

    async def renew(self) -> None:
        """Keep the group membership alive while boards stay connected: channels_redis drops a
        member after its group_expiry (a day by default), and a board may stay open longer
        without a reconnect. Called on the boards' pings; writes at most once per
        RELAY_RENEW_SECONDS."""
        if self.channel is not None and time.monotonic() - self.joined_at >= RELAY_RENEW_SECONDS:
            self.joined_at = time.monotonic()
            await self.layer.group_add(self.group, self.channel)

    async def leave(self, board: StoreBoardConsumer) -> None:
        self.boards.discard(board)
        if self.boards or _relays.get(self.key) is not self:
            return
        del _relays[self.key]
        if self.task is not None:
            self.task.cancel()
        if self.channel is not None:
            # Redis gone: the group entry expires on its own.
            with contextlib.suppress(Exception):
                await self.layer.group_discard(self.group, self.channel)

    async def _relay(self, channel: str) -> None:
        try:
            while True:
                message = await self.layer.receive(channel)
                if message.get("type") != "event.push":
                    log.warning("board relay of %s ignored a %r message", self.group, message.get("type"))
                    continue
                text = json.dumps(message["event"])
                for board in list(self.boards):
                    try:
                        await board.send(text_data=text)
                    except Exception:  # one socket's fault must not starve the others
                        log.warning("board relay of %s could not write to a socket", self.group, exc_info=True)
        except asyncio.CancelledError:
            raise
        except Exception:  # the layer failed (Redis down): pushes may have been lost
            log.warning("board relay of %s lost the channel layer; renewing its sockets", self.group, exc_info=True)
            if _relays.get(self.key) is self:
                del _relays[self.key]
            # The boards reconnect, resync from the API and start a new relay.
            for board in list(self.boards):
                with contextlib.suppress(Exception):
                    await board.close(code=CLOSE_RENEW)


_relays: dict[tuple[asyncio.AbstractEventLoop, str], _StoreRelay] = {}


def _relay_for(layer: Any, group: str) -> _StoreRelay:
    key = (asyncio.get_running_loop(), group)
    relay = _relays.get(key)
    if relay is None or relay.layer is not layer:
        relay = _relays[key] = _StoreRelay(layer, group, key)
    return relay


@database_sync_to_async  # type: ignore[untyped-decorator]
def _may_watch(user: Any, store_id: int) -> bool:
    store = Store.objects.filter(pk=store_id).first()
    return store is not None and access_store(user, store)


class StoreBoardConsumer(HopFreeConsumer):
    """Relays the store's events (`order.created`, `order.updated`, `store.updated`,
    `ticket.printed`; each carries `v`, order events the order's `version`) to its board.

    Invariants: only staff of the store (any role) are accepted, checked on connect through
    access_store; the consumer hears exactly that store's group (through the process's relay
    for the store, `_StoreRelay`). Pushes are hints: the board
    resyncs from /api/v1/board/stores/<id>/ on every (re)connect. Each connect and ping stamps
    the store's board heartbeat in Redis (the auto-pause sweep reads it). A ping also checks a
    per-connection sentinel key: when Redis is unreachable or has restarted (the sentinel, and
    with it the group membership, is gone), the socket is closed with 1012 so the client
    reconnects and resyncs rather than waiting forever for pushes that cannot come.
    """

    group: str | None = None
    store_id: int = 0
    relay: _StoreRelay | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.store_id = int(self.scope["url_route"]["kwargs"]["store_id"])
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await _may_watch(user, self.store_id):
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        server_gc_once()
        self.group = group_for_store(self.store_id)
        self.relay = _relay_for(self.channel_layer, self.group)
        await self.relay.join(self)
        await self.accept()
        try:
            await self._heartbeat()
        except Exception:  # noqa: BLE001 - the heartbeat is best effort; the next ping checks again
            log.warning("board heartbeat for store %s not stored", self.store_id)

    async def disconnect(self, code: int) -> None:
        if self.relay is not None:
            await self.relay.leave(self)

    def _sentinel(self) -> str:
        return f"{board_seen_key(self.store_id)}:conn:{self.channel_name}"

    async def _heartbeat(self, *, check: bool = False) -> bool:
        """Stamp the store's board heartbeat; with `check`, also tell whether Redis still knows
        this connection. False means Redis restarted or was flushed since we joined the group:
        the group membership and every push since are gone, so the socket must be renewed."""
        async with state_redis_async_shared().pipeline(transaction=False) as pipe:
            pipe.set(board_seen_key(self.store_id), f"{time.time():.3f}", ex=BOARD_SEEN_TTL_SECONDS)
            pipe.set(self._sentinel(), "1", ex=SENTINEL_TTL_SECONDS, xx=check)
            results = await pipe.execute()
        return bool(results[1])

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            try:
                alive = await self._heartbeat(check=True)
            except Exception:  # noqa: BLE001 - Redis unreachable: pushes cannot arrive
                alive = False
            if not alive:
                # Not an application code: the client reconnects (with backoff) and resyncs.
                log.warning("board socket of store %s renewed: Redis lost its state", self.store_id)
                await self.close(code=CLOSE_RENEW)
                return
            if self.relay is not None:
                await self.relay.renew()
            await self.send_json({"type": "pong", "seq": content.get("seq")})
            return
        await self.send_json({"type": "error", "code": "unknown_message", "message": "Unknown message type."})
