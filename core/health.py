"""Health checks behind /healthz: each part answers `ok` or the error, with its latency."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from core.heartbeat import heartbeat_get

# One budget for every check: /healthz must answer within it even when a part hangs.
CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok" if self.ok else "error", "latency_ms": round(self.latency_ms, 2)}
        body["detail" if self.ok else "error"] = self.detail
        return body


class CheckFailed(Exception):
    """A part answered, but not as it should."""


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT postgis_lib_version()")
        row = cursor.fetchone()
    return f"PostGIS {row[0]}" if row else "PostGIS ?"


async def check_database() -> str:
    # Thread-sensitive: on the request's own pooled thread (core.asgi), with its connection.
    return await sync_to_async(_database)()


async def check_redis() -> str:
    client = redis.asyncio.Redis.from_url(settings.STATE_REDIS_URL, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        await client.ping()
        info = await client.info("server")
    finally:
        await client.aclose()
    return f"Redis {info.get('redis_version', '?')}"


async def check_channel_layer() -> str:
    """A message round trip through the real channel layer, to a channel of our own."""
    layer = get_channel_layer()
    if layer is None:
        raise CheckFailed("no channel layer configured")
    channel = await layer.new_channel(prefix="healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.probe", "token": token})
    message = await layer.receive(channel)
    if message.get("token") != token:
        raise CheckFailed("the round trip returned another message")
    return "round trip ok"


def _celery_ping() -> str:
    # limit=1: answer as soon as one worker replies instead of waiting out the timeout.
    replies = celery_app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise CheckFailed("no Celery worker answered a ping within 1 s")
    return f"worker {next(iter(replies[0]))} answered"


async def check_celery() -> str:
    return await sync_to_async(_celery_ping, thread_sensitive=False)()


async def check_dispatcher() -> str:
    beat = await sync_to_async(heartbeat_get, thread_sensitive=False)(name="dispatcher")
    if beat is None:
        raise CheckFailed("no dispatcher heartbeat")
    if beat.age_seconds > settings.DISPATCHER_HEARTBEAT_MAX_AGE:
        raise CheckFailed(f"last dispatcher heartbeat {beat.age_seconds:.0f} s ago")
    return f"heartbeat {beat.age_seconds:.1f} s ago (pid {beat.pid})"


CHECKS: dict[str, Callable[[], Awaitable[str]]] = {
    "database": check_database,
    "redis": check_redis,
    "channel_layer": check_channel_layer,
    "celery": check_celery,
    "dispatcher": check_dispatcher,
}


async def _run(name: str, check: Callable[[], Awaitable[str]]) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
        ok = True
    except TimeoutError:
        detail, ok = f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s", False
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is raised
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return CheckResult(name=name, ok=ok, latency_ms=(time.perf_counter() - started) * 1000, detail=detail)


async def health_report() -> list[CheckResult]:
    """Run every check concurrently; never raises."""
    return list(await asyncio.gather(*(_run(name, check) for name, check in CHECKS.items())))
