"""The store's live board socket: `/ws/stores/<store_id>/board/`."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.access import access_store
from core.consumers import CLOSE_UNAUTHENTICATED
from core.realtime import group_for_store, heap_freeze_once
from core.redis import state_redis_async
from delivery.models import Store
from delivery.services.board import BOARD_SEEN_TTL_SECONDS, board_seen_key

log = logging.getLogger(__name__)

# Signed in, but not staff of this store (or no such store): the client does not retry.
CLOSE_FORBIDDEN = 4403
# The server asks the client to reconnect (RFC 6455 1012, "service restart").
CLOSE_RENEW = 1012
SENTINEL_TTL_SECONDS = 3600


@database_sync_to_async  # type: ignore[untyped-decorator]
def _may_watch(user: Any, store_id: int) -> bool:
    store = Store.objects.filter(pk=store_id).first()
    return store is not None and access_store(user, store)


class StoreBoardConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Relays the store's events (`order.created`, `order.updated`, `store.updated`,
    `ticket.printed`; each carries `v`, order events the order's `version`) to its board.

    Invariants: only staff of the store (any role) are accepted, checked on connect through
    access_store; the consumer joins exactly that store's group. Pushes are hints: the board
    resyncs from /api/v1/board/stores/<id>/ on every (re)connect. Each connect and ping stamps
    the store's board heartbeat in Redis (the auto-pause sweep reads it). A ping also checks a
    per-connection sentinel key: when Redis is unreachable or has restarted (the sentinel, and
    with it the group membership, is gone), the socket is closed with 1012 so the client
    reconnects and resyncs rather than waiting forever for pushes that cannot come.
    """

    group: str | None = None
    store_id: int = 0

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
        heap_freeze_once()
        self.group = group_for_store(self.store_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        try:
            await self._heartbeat()
        except Exception:  # noqa: BLE001 - the heartbeat is best effort; the next ping checks again
            log.warning("board heartbeat for store %s not stored", self.store_id)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            # Redis gone: the group entry expires on its own.
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(self.group, self.channel_name)

    def _sentinel(self) -> str:
        return f"{board_seen_key(self.store_id)}:conn:{self.channel_name}"

    async def _heartbeat(self, *, check: bool = False) -> bool:
        """Stamp the store's board heartbeat; with `check`, also tell whether Redis still knows
        this connection. False means Redis restarted or was flushed since we joined the group:
        the group membership and every push since are gone, so the socket must be renewed."""
        client = state_redis_async()
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.set(board_seen_key(self.store_id), f"{time.time():.3f}", ex=BOARD_SEEN_TTL_SECONDS)
                pipe.set(self._sentinel(), "1", ex=SENTINEL_TTL_SECONDS, xx=check)
                results = await pipe.execute()
            return bool(results[1])
        finally:
            await client.aclose()

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
            await self.send_json({"type": "pong", "seq": content.get("seq")})
            return
        await self.send_json({"type": "error", "code": "unknown_message", "message": "Unknown message type."})

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' dispatch hops to the sync thread before every handler, to close stale
        # database connections, and the hops of every socket in the process queue on that one
        # thread: 200 boards meant 200 hops per order event, most of the server's time per
        # delivery and the tail of the commit-to-board latency. A relayed event touches no
        # database: it skips the hop.
        if message.get("type") == "event.push":
            await self.event_push(message)
            return
        await super().dispatch(message)

    async def event_push(self, message: dict[str, Any]) -> None:
        """Relays the event unchanged. Must not touch the database (see `dispatch`)."""
        await self.send_json(message["event"])
