"""The signed-in user's own channel: personal notifications and the client heartbeat."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core.realtime import group_for_user, heap_freeze_once

# Application close codes (4000-4999 are ours): the client does not retry on these.
CLOSE_UNAUTHENTICATED = 4401


class GroupEventConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
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

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' dispatch hops to the sync thread before every handler, to close stale
        # database connections; the hops of every socket in the process queue on that one
        # thread. Relaying an event touches no database: it skips the hop.
        if message.get("type") == "event.push":
            await self.event_push(message)
            return
        await super().dispatch(message)

    async def event_push(self, message: dict[str, Any]) -> None:
        """Relays the event unchanged. Must not touch the database (`dispatch` skips the close
        of stale connections for it); a subclass that needs it uses database_sync_to_async."""
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
        heap_freeze_once()
        self.group = group_for_user(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
