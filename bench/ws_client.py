"""Load client of the WebSocket echo bench, run in its own process on the client core.

`python -m bench.ws_client --url ws://... --origin http://... --server-pgid N`, with the
session cookie in the BENCH_WS_COOKIE environment variable (kept off the command line, where
any local user could read it). Prints one JSON object with the raw results on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.common import SERVER_CPU, core_busy_seconds, group_cpu_seconds, percentile

CONNECT_TIMEOUT = 15.0
# After the window closes, in-flight pongs get this long to arrive before the sockets close, so
# Daphne is not left writing to sockets that are already gone.
DRAIN_SECONDS = 3.0
# A hard stop per connection, far above what any real run reaches in the time allowed.
MAX_MESSAGES_PER_CONNECTION = 10_000_000


@dataclass
class ConnectionStats:
    in_window: int = 0
    total: int = 0
    latencies: list[float] = field(default_factory=list)
    unexpected: int = 0
    left_in_flight: int = 0
    error: str | None = None


@dataclass
class Window:
    warm_end: float
    end: float


def ping_text(seq: int) -> str:
    # Formatted by hand: json.dumps per message would cost the client core more than the server's.
    return f'{{"type":"ping","seq":{seq}}}'


async def drive(ws: ClientConnection, depth: int, window: Window, stats: ConnectionStats) -> None:
    """Keep `depth` pings in flight until the window ends, then collect what is still owed."""
    in_flight: dict[int, float] = {}
    next_seq = 0
    # One deadline for the whole connection rather than a timer per message: the loop is bounded
    # in time even if the server stalls, without a per-message cost on the client core.
    budget = window.end - time.perf_counter() + DRAIN_SECONDS
    try:
        async with asyncio.timeout(budget):
            for _ in range(depth):
                in_flight[next_seq] = time.perf_counter()
                await ws.send(ping_text(next_seq))
                next_seq += 1
            for _ in range(MAX_MESSAGES_PER_CONNECTION):
                if not in_flight:
                    break
                raw = await ws.recv()
                now = time.perf_counter()
                message: Any = json.loads(raw)
                seq = message.get("seq") if isinstance(message, dict) else None
                sent_at = in_flight.pop(seq, None) if isinstance(seq, int) else None
                if sent_at is None or message.get("type") != "pong":
                    stats.unexpected += 1
                    continue
                stats.total += 1
                if window.warm_end <= now < window.end:
                    stats.in_window += 1
                    stats.latencies.append(now - sent_at)
                if now < window.end:
                    in_flight[next_seq] = time.perf_counter()
                    await ws.send(ping_text(next_seq))
                    next_seq += 1
    except TimeoutError:
        stats.error = "timed out waiting for pongs"
    except Exception as exc:  # noqa: BLE001 - one broken connection is reported, not fatal
        stats.error = repr(exc)
    stats.left_in_flight = len(in_flight)


async def open_connection(url: str, headers: list[tuple[str, str]]) -> ClientConnection:
    # No compression: Daphne does not negotiate permessage-deflate, so offering it changes nothing
    # but the handshake. No keepalive pings: they would add unmeasured traffic.
    return await connect(
        url,
        additional_headers=headers,
        compression=None,
        ping_interval=None,
        open_timeout=CONNECT_TIMEOUT,
        max_size=2**16,
    )


Sample = tuple[float, float, float, float]


async def sample_cpu(server_pgid: int, at: float) -> Sample:
    """(wall, client CPU, server CPU, server core busy) seconds, as close to `at` as the loop allows."""
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    return time.perf_counter(), time.process_time(), group_cpu_seconds(server_pgid), core_busy_seconds(SERVER_CPU)


async def sample_window(server_pgid: int, window: Window) -> tuple[Sample, Sample]:
    return await sample_cpu(server_pgid, window.warm_end), await sample_cpu(server_pgid, window.end)


async def run(args: argparse.Namespace, cookie: str) -> dict[str, Any]:
    headers = [("Cookie", cookie), ("Origin", args.origin)]
    opened = await asyncio.gather(
        *(open_connection(args.url, headers) for _ in range(args.connections)), return_exceptions=True
    )
    connections = [c for c in opened if isinstance(c, ClientConnection)]
    try:
        failures = [c for c in opened if isinstance(c, BaseException)]
        if failures:
            raise RuntimeError(f"{len(failures)} of {args.connections} connections failed: {failures[0]!r}")
        start = time.perf_counter()
        window = Window(warm_end=start + args.warmup, end=start + args.warmup + args.duration)
        stats = [ConnectionStats() for _ in connections]
        print(
            f"[ws_client] {len(connections)} connections open; warm-up {args.warmup:.0f} s, "
            f"window {args.duration:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        samples = asyncio.create_task(sample_window(args.server_pgid, window))
        try:
            await asyncio.gather(*(drive(ws, args.depth, window, s) for ws, s in zip(connections, stats, strict=True)))
            if not any(s.total for s in stats):
                # Typically the consumer closed with 4401: the session did not authenticate.
                first = next((s.error for s in stats if s.error), "no error reported")
                raise RuntimeError(f"no pong came back on any connection: {first}")
            (w0, c0, s0, b0), (w1, c1, s1, b1) = await samples
        finally:
            samples.cancel()  # only matters on failure; a finished task ignores it
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)

    latencies = [x for s in stats for x in s.latencies]
    in_window = sum(s.in_window for s in stats)
    errors = [s.error for s in stats if s.error]
    wall = w1 - w0
    return {
        "messages_in_window": in_window,
        "messages_per_second": in_window / args.duration,
        "latency_ms": {
            "p50": percentile(latencies, 50) * 1000,
            "p90": percentile(latencies, 90) * 1000,
            "p99": percentile(latencies, 99) * 1000,
            "max": max(latencies, default=float("nan")) * 1000,
        },
        "client_cpu_utilisation": (c1 - c0) / wall if wall > 0 else None,
        "server_cpu_utilisation": (s1 - s0) / wall if wall > 0 else None,
        "server_core_busy": (b1 - b0) / wall if wall > 0 else None,
        "unexpected_messages": sum(s.unexpected for s in stats),
        "left_in_flight": sum(s.left_in_flight for s in stats),
        "connection_errors": errors[:5],
        "connections_with_errors": len(errors),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--server-pgid", type=int, required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--depth", type=int, default=8, help="pings in flight per connection")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    cookie = os.environ.get("BENCH_WS_COOKIE", "")
    if not cookie:
        parser.error("BENCH_WS_COOKIE is not set")
    try:
        result = asyncio.run(run(args, cookie))
    except RuntimeError as exc:
        print(f"[ws_client] {exc}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
