"""The dispatcher process: its own asyncio loop, ticking every few seconds.

Celery beat schedules by the minute, which is far too coarse for dispatch; this process ticks
every DISPATCHER_TICK_SECONDS. Each tick writes a heartbeat to Redis (read by /healthz); the
dispatch issue adds the per-zone assignment rounds. SIGTERM or SIGINT ends the loop between ticks,
and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from core.heartbeat import heartbeat_beat
from core.redis import state_redis_async

logger = logging.getLogger("dispatch.dispatcher")


async def dispatcher_loop(stop: asyncio.Event, *, tick_seconds: float) -> int:
    """Tick until `stop` is set; return the number of ticks. A failed tick is logged and the
    loop goes on (Redis may come back); it never exits on its own."""
    client = state_redis_async()
    ticks = 0
    # The heartbeat outlives a few missed ticks before it expires.
    ttl = max(3, int(tick_seconds * 3) + 1)
    try:
        while not stop.is_set():
            try:
                await heartbeat_beat(client, name="dispatcher", ttl_seconds=ttl)
                ticks += 1
                logger.debug("dispatcher tick %d", ticks)
            except Exception:
                logger.exception("dispatcher tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
    finally:
        await client.aclose()
    return ticks


class Command(BaseCommand):
    help = "Run the dispatcher loop (heartbeat now; assignment rounds arrive with dispatch)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tick", type=float, default=None, help="seconds between ticks")

    def handle(self, *args: Any, **options: Any) -> None:
        tick = options["tick"] or settings.DISPATCHER_TICK_SECONDS
        asyncio.run(self._main(tick))

    async def _main(self, tick: float) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        logger.info("dispatcher started: tick %.1f s", tick)
        ticks = await dispatcher_loop(stop, tick_seconds=tick)
        logger.info("dispatcher stopped cleanly after %d ticks", ticks)
