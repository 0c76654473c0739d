"""Process heartbeats kept in Redis: long-running processes beat, /healthz reads.

A heartbeat is a hash `<REDIS_PREFIX>:heartbeat:<name>` with the wall-clock time of the last beat and
the beating process's pid and host; it expires on its own, so a dead process leaves nothing.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import redis.asyncio
from django.conf import settings

from core.redis import state_redis


def heartbeat_key(name: str) -> str:
    return f"{settings.REDIS_PREFIX}:heartbeat:{name}"


@dataclass(frozen=True)
class Heartbeat:
    name: str
    at: float
    pid: int
    host: str

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.at)


async def heartbeat_beat(client: redis.asyncio.Redis, *, name: str, ttl_seconds: int) -> None:
    """Record one beat of process `name`; idempotent, cheap (one pipelined round trip)."""
    key = heartbeat_key(name)
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(
            key,
            mapping={"at": f"{time.time():.3f}", "pid": os.getpid(), "host": socket.gethostname()},
        )
        pipe.expire(key, ttl_seconds)
        await pipe.execute()


def heartbeat_get(*, name: str) -> Heartbeat | None:
    """The last beat of process `name`, or None when it never beat or its beat expired."""
    raw = state_redis().hgetall(heartbeat_key(name))
    if not raw:
        return None
    return Heartbeat(name=name, at=float(raw["at"]), pid=int(raw["pid"]), host=str(raw["host"]))
