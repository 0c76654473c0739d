"""The signed-in user's own channel: personal notifications and the client heartbeat."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.realtime import group_for_user, server_gc_once

# Application close codes (4000-4999 are ours): the client does not retry on these.
CLOSE_UNAUTHENTICATED = 4401


class HopFreeConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """A JSON WebSocket consumer whose messages are handled without a thread hop.

    Channels (>= 4.2) runs django.db.close_old_connections on the sync thread before every
    message it dispatches: one round trip to that single thread per message and per socket.
    With 5,000 couriers pinging it was the largest item of Daphne's profile, and with 200 boards
    it queued 200 hops behind each order event (bench/location_pings.py, board_events.py). Our
    consumers reach the database only through database_sync_to_async, which closes stale
    connections itself, on its own thread, before and after; so the hop buys nothing. Handlers
    are looked up as Channels does."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class GroupEventConsumer(HopFreeConsumer):
    """A socket that listens to one group (joined by the subclass's `connect` into `group`),
    relays its events unchanged and answers `{"type": "ping", "seq": n}` with a pong."""

    group: str | None = None

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "seq": content.get("seq")})
            return
        await self.send_json({"type": "error", "code": "unknown_message", "message": "Unknown message type."})

    async def event_push(self, message: dict[str, Any]) -> None:
        """Relays the event unchanged."""
        await self.send_json(message["event"])


class UserChannelConsumer(GroupEventConsumer):
    """`/ws/me/`: events addressed to the signed-in user, plus ping/pong.

    Invariants: only an authenticated user is accepted; the consumer joins exactly the group of
    that user, so nobody can listen to another user's events. `{"type": "ping", "seq": n}` is
    answered with `{"type": "pong", "seq": n}` (the client's liveness check, and the echo that
    bench/ measures). Events are relayed unchanged; the client resyncs on reconnect.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close with our code: a refused handshake reaches the browser only
            # as 1006, which the client cannot tell from a network fault and would retry.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        server_gc_once()
        self.group = group_for_user(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
