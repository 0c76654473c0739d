"""The dispatcher process: its own asyncio loop, ticking every few seconds.

Celery beat schedules by the minute, which is far too coarse for dispatch; this process ticks
every DISPATCHER_TICK_SECONDS: it lapses overdue offers, enqueues newly accepted orders and runs
one assignment round per zone whose lease it holds (dispatch.services.dispatching). Beside it, a
faster loop flushes courier positions from Redis to PostGIS every TRACKING_THROTTLE_SECONDS,
which also feeds the diners' maps. Several processes can run: they share the zones through
leases with fencing tokens. Each tick writes a heartbeat to Redis (read by /healthz). SIGTERM or
SIGINT ends the loops between ticks, gives the leases back, and the process exits 0.

Database work runs on two single-thread executors (one per loop), so the process holds at most
two connections and the asyncio loop never blocks on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from core.heartbeat import heartbeat_beat
from core.redis import state_redis, state_redis_async

logger = logging.getLogger("dispatch.dispatcher")


def _tick(holder: str) -> str:
    from dispatch.services.dispatching import dispatch_tick

    close_old_connections()
    report = dispatch_tick(holder=holder)
    offers = sum(r.offers for r in report.rounds)
    waiting = sum(r.orders for r in report.rounds)
    return f"zones {report.zones_held} waiting {waiting} offers {offers} expired {report.expired}"


def _flush() -> int:
    from dispatch.services.locations import positions_flush

    close_old_connections()
    return positions_flush(state_redis())


def _release(holder: str) -> None:
    from dispatch.models import DispatchLease
    from dispatch.services.leases import LeaseHold, lease_release

    for lease in DispatchLease.objects.filter(holder=holder):
        lease_release(hold=LeaseHold(zone_key=lease.zone_key, holder=holder, token=lease.token))
    connection.close()


def _close() -> None:
    # Resolved in the executor's thread: `connection` is a per-thread proxy.
    connection.close()


async def _every(stop: asyncio.Event, seconds: float, step: Any) -> None:
    while not stop.is_set():
        try:
            await step()
        except Exception:
            logger.exception("dispatcher step failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


async def dispatcher_loop(stop: asyncio.Event, *, tick_seconds: float, holder: str | None = None) -> int:
    """Tick until `stop` is set; return the number of ticks. A failed tick is logged and the
    loop goes on (Redis or PostgreSQL may come back); it never exits on its own. Without a
    `holder` (name for leases) only the heartbeat runs."""
    client = state_redis_async()
    ticks = 0
    # The heartbeat outlives a few missed ticks before it expires.
    ttl = max(3, int(tick_seconds * 3) + 1)
    loop = asyncio.get_running_loop()
    tick_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-tick")
    flush_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-flush")

    async def tick() -> None:
        nonlocal ticks
        await heartbeat_beat(client, name="dispatcher", ttl_seconds=ttl)
        ticks += 1
        if holder is not None:
            summary = await loop.run_in_executor(tick_pool, _tick, holder)
            logger.debug("dispatcher tick %d: %s", ticks, summary)

    async def flush() -> None:
        await loop.run_in_executor(flush_pool, _flush)

    try:
        tasks = [asyncio.create_task(_every(stop, tick_seconds, tick))]
        if holder is not None:
            tasks.append(asyncio.create_task(_every(stop, settings.TRACKING_THROTTLE_SECONDS, flush)))
        await asyncio.gather(*tasks)
        if holder is not None:
            await loop.run_in_executor(tick_pool, _release, holder)
            await loop.run_in_executor(flush_pool, _close)
    finally:
        tick_pool.shutdown(wait=True)
        flush_pool.shutdown(wait=True)
        await client.aclose()
    return ticks


class Command(BaseCommand):
    help = "Run the dispatcher: assignment rounds per zone, offer time-outs, position flushes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tick", type=float, default=None, help="seconds between ticks")

    def handle(self, *args: Any, **options: Any) -> None:
        tick = options["tick"] or settings.DISPATCHER_TICK_SECONDS
        asyncio.run(self._main(tick))

    async def _main(self, tick: float) -> None:
        from dispatch.services.leases import holder_name

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        holder = holder_name()
        logger.info("dispatcher %s started: tick %.1f s", holder, tick)
        ticks = await dispatcher_loop(stop, tick_seconds=tick, holder=holder)
        logger.info("dispatcher stopped cleanly after %d ticks", ticks)
