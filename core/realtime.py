"""WebSocket groups and events: the one module that names groups and shapes pushed events.

Domain services push through `event_push_on_commit`, so a client never hears of a change that
was rolled back. Every event carries a `type` and a schema version `v`; clients treat pushes as
hints and resync from the REST API on every (re)connect, so a lost push loses nothing.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

EVENT_VERSION = 1


def group_for_user(user_id: int) -> str:
    return f"user.{user_id}"


def group_for_store(store_id: int) -> str:
    return f"store.{store_id}"


def group_for_order(order_id: int) -> str:
    return f"order.{order_id}"


def group_for_order_tracking(order_id: int) -> str:
    """The courier's live position for one order: only that order's diner joins it."""
    return f"order.{order_id}.tracking"


def event_message(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message consumers relay: handler `event.push`, body as sent."""
    return {"type": "event.push", "event": {"type": event_type, "v": EVENT_VERSION, **payload}}


def event_push(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send one event to a group now (from synchronous code)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    async_to_sync(layer.group_send)(group, event_message(event_type, payload))


def event_push_on_commit(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send one event to a group once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: event_push(group, event_type, payload))
