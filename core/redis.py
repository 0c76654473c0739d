"""Clients for the Redis database that holds live application state (heartbeats, positions).

Not the cache (which may be evicted) and not the broker or channel layer (their own databases).
"""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio
from django.conf import settings

# Short timeouts: every caller is on a request path or a tick loop and must fail fast.
TIMEOUT_SECONDS = 2.0


def state_redis() -> redis.Redis:
    """A synchronous client (connections are pooled per URL by redis-py)."""
    return redis.Redis.from_url(
        settings.STATE_REDIS_URL,
        decode_responses=True,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )


_shared_async: dict[int, redis.asyncio.Redis] = {}


def state_redis_async_shared() -> redis.asyncio.Redis:
    """The running event loop's pooled client (Daphne runs one loop), for consumers: never a
    connection per socket or per message. Not to be closed by the caller."""
    loop_id = id(asyncio.get_running_loop())
    client = _shared_async.get(loop_id)
    if client is None:
        client = _shared_async[loop_id] = state_redis_async()
    return client


def state_redis_async() -> redis.asyncio.Redis:
    """An asyncio client; the caller closes it (`await client.aclose()`)."""
    return redis.asyncio.Redis.from_url(
        settings.STATE_REDIS_URL,
        decode_responses=True,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
