"""WebSocket groups and events: the one module that names groups and shapes pushed events.

Domain services push through `event_push_on_commit`, so a client never hears of a change that
was rolled back. Every event carries a `type` and a schema version `v`; clients treat pushes as
hints and resync from the REST API on every (re)connect, so a lost push loses nothing.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
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


class _PublisherLoop:
    """One event loop on a daemon thread, for the process's pushes from synchronous code.

    `async_to_sync` outside an event loop starts a thread and a new event loop per call, and
    channels_redis keeps its connections per loop: every push paid a thread, a loop, a TCP
    connection to Redis and its teardown (about 10 ms on a busy core, before the event even
    left). This loop lives as long as the process, so its Redis connections do too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child (a Celery worker) inherits the object but not the thread.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="realtime-publisher", daemon=True)
                thread.start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result()


_publisher = _PublisherLoop()


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def event_push(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send one event to a group now (from synchronous code)."""
    events_push([(group, event_type, payload)])


def events_push(pushes: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Send events (group, type, payload) now, from synchronous code, in one hand-over to the
    publisher's loop: an order's move tells three groups, and each hand-over costs a wake-up of
    that loop and a wait for it. Sent concurrently, so give one group at most one event here
    (events to one group keep their order only across calls)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    sends = [(group, event_message(event_type, payload)) for group, event_type, payload in pushes]
    # Only layers whose connections are per event loop (channels_redis) may be used from the
    # publisher's own loop; an in-memory layer's queues belong to the loop of their receivers.
    # From inside an event loop, async_to_sync raises its usual error.
    if isinstance(layer, RedisChannelLayer | RedisPubSubChannelLayer) and not _in_event_loop():

        async def send_all() -> None:
            await asyncio.gather(*(layer.group_send(group, message) for group, message in sends))

        _publisher.run(send_all())
        return
    for group, message in sends:
        async_to_sync(layer.group_send)(group, message)


def event_push_on_commit(group: str, event_type: str, payload: dict[str, Any]) -> None:
    """Send one event to a group once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: event_push(group, event_type, payload))


def events_push_on_commit(pushes: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """events_push once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: events_push(pushes))


_gc_tuned = False


def server_gc_once() -> None:
    """Once per process, when it first serves a request or a WebSocket (core.asgi, the
    consumers): the garbage collector of a long-lived server process.

    - Every object alive now (Django, the apps, the URL conf, the modules) moves into the
      permanent generation. A full collection otherwise walks that whole start-up heap; with
      200 boards taking events it ran every second or so and stopped Daphne's loop for
      100-300 ms each time (the commit-to-board tail), against about 15 ms for the objects
      created since (bench/board_events.py).
    - The thresholds become settings.WEB_GC_THRESHOLDS (empty keeps Python's). Each courier
      ping leaves a few objects alive until that courier's next ping (Channels' receive task
      for the socket, its future); under the defaults they reach the oldest generation, and
      with 10,000 couriers a full collection then walked ~2 M objects every ~10 s, seconds of
      the core each time. A large young threshold lets them die before any collection sees
      them; cycles are still collected (bench/location_pings.py).
    - HTTP gains too: about 7 % less CPU per order placed (bench/order_cost.py).
    """
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URL conf and every view now, not later
    gc.collect()
    gc.freeze()
    thresholds = settings.WEB_GC_THRESHOLDS
    if thresholds:
        gc.set_threshold(*thresholds)
