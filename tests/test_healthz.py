"""/healthz: every part `ok` with a real worker and dispatcher beat; 503 naming the failed part."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import Client

from core.heartbeat import heartbeat_beat
from core.redis import state_redis_async

pytestmark = [pytest.mark.live]


async def _beat_once() -> None:
    client = state_redis_async()
    try:
        await heartbeat_beat(client, name="dispatcher", ttl_seconds=30)
    finally:
        await client.aclose()


def test_all_parts_ok(celery_worker_process: Any, client: Client) -> None:
    asyncio.run(_beat_once())

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "redis", "channel_layer", "celery", "dispatcher"}
    assert body["checks"]["database"]["detail"].startswith("PostGIS 3")
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["latency_ms"] >= 0


def test_redis_unreachable_gives_503_naming_the_parts(db: None, client: Client, settings: Any) -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    dead = "redis://127.0.0.1:1/0"
    settings.STATE_REDIS_URL = dead
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [{**layer["CONFIG"]["hosts"][0], "address": dead}]}}
    }

    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "error"
    assert {"redis", "channel_layer", "dispatcher"} <= set(body["failed"])
    assert "Connect" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


def test_missing_dispatcher_heartbeat_is_reported(db: None, client: Client) -> None:
    response = client.get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["dispatcher"] == {
        "status": "error",
        "latency_ms": body["checks"]["dispatcher"]["latency_ms"],
        "error": "CheckFailed: no dispatcher heartbeat",
    }
