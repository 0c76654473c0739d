"""Clients for the Redis database that holds live application state (heartbeats, positions).

Not the cache (which may be evicted) and not the broker or channel layer (their own databases).
"""

from __future__ import annotations

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


def state_redis_async() -> redis.asyncio.Redis:
    """An asyncio client; the caller closes it (`await client.aclose()`)."""
    return redis.asyncio.Redis.from_url(
        settings.STATE_REDIS_URL,
        decode_responses=True,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
    )
