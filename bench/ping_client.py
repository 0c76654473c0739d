"""Load client of the location-ping bench, run in its own process on the client core.

`python -m bench.ping_client --url ws://... --origin http://... --server-pgid N --mode flood|fleet`
with one session cookie per line in the file named by BENCH_PING_COOKIES (one courier each).

- flood: every connection keeps `depth` pings in flight; counts acknowledgements per second.
- fleet: every connection sends one ping per `interval` seconds (spread evenly); measures the
  server's CPU over the window.
Prints one JSON object with the raw results on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.common import SERVER_CPU, core_busy_seconds, group_cpu_seconds, percentile

DRAIN_SECONDS = 3.0


@dataclass
class Stats:
    acks: int = 0
    acks_in_window: int = 0
    errors: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failure: str | None = None


def ping_text(lat: float, lng: float, ts_ms: float) -> str:
    # Formatted by hand: json.dumps per message would cost the client core more than the server's.
    return f'{{"type":"location","lat":{lat:.6f},"lng":{lng:.6f},"accuracy":8,"heading":90,"speed":4,"ts":{ts_ms:.3f}}}'


def _count(stats: Stats, raw: Any, sent: dict[str, float], now: float, warm_end: float, end: float) -> None:
    message = json.loads(raw)
    if message.get("type") == "location.ack":
        stats.acks += 1
        sent_at = sent.pop(f"{message.get('ts'):.3f}", None) if isinstance(message.get("ts"), float) else None
        if warm_end <= now < end:
            stats.acks_in_window += 1
            if sent_at is not None:
                stats.latencies.append(now - sent_at)
    elif message.get("type") == "error":
        stats.errors += 1
        code = str(message.get("code"))
        stats.error_codes[code] = stats.error_codes.get(code, 0) + 1


async def flood(
    ws: ClientConnection, depth: int, warm_end: float, end: float, stats: Stats, rng: random.Random
) -> None:
    lat, lng = 31.23 + rng.uniform(-0.05, 0.05), 121.47 + rng.uniform(-0.05, 0.05)
    last_ts = time.time() * 1000
    sent: dict[str, float] = {}

    async def send() -> None:
        nonlocal last_ts
        last_ts = max(last_ts + 0.001, time.time() * 1000)
        sent[f"{last_ts:.3f}"] = time.perf_counter()
        await ws.send(ping_text(lat, lng, last_ts))

    in_flight = 0
    try:
        async with asyncio.timeout(end - time.perf_counter() + DRAIN_SECONDS):
            for _ in range(depth):
                await send()
                in_flight += 1
            while in_flight:
                raw = await ws.recv()
                in_flight -= 1
                now = time.perf_counter()
                _count(stats, raw, sent, now, warm_end, end)
                if now < end:
                    await send()
                    in_flight += 1
    except Exception as exc:  # noqa: BLE001 - one broken connection is reported, not fatal
        stats.failure = repr(exc)


async def fleet(
    ws: ClientConnection, interval: float, offset: float, warm_end: float, end: float, stats: Stats, rng: random.Random
) -> None:
    lat, lng = 31.23 + rng.uniform(-0.05, 0.05), 121.47 + rng.uniform(-0.05, 0.05)
    sent: dict[str, float] = {}

    async def reader() -> None:
        async for raw in ws:
            _count(stats, raw, sent, time.perf_counter(), warm_end, end)

    task = asyncio.create_task(reader())
    try:
        await asyncio.sleep(offset)
        while time.perf_counter() < end:
            ts = time.time() * 1000
            sent[f"{ts:.3f}"] = time.perf_counter()
            await ws.send(ping_text(lat, lng, ts))
            lat += 0.00001
            await asyncio.sleep(interval)
        await asyncio.sleep(DRAIN_SECONDS / 3)
    except Exception as exc:  # noqa: BLE001
        stats.failure = repr(exc)
    finally:
        task.cancel()


async def run(args: argparse.Namespace, cookies: list[str]) -> dict[str, Any]:
    rng = random.Random(11)
    connections: list[ClientConnection] = []

    async def open_one(cookie: str) -> ClientConnection:
        for attempt in range(5):
            try:
                return await connect(
                    args.url,
                    additional_headers=[("Cookie", cookie), ("Origin", args.origin)],
                    compression=None,
                    ping_interval=None,
                    open_timeout=60,
                    max_size=2**16,
                )
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    for start in range(0, len(cookies), 100):  # in batches: Daphne accepts a few hundred at once
        connections += await asyncio.gather(*(open_one(c) for c in cookies[start : start + 100]))
    print(f"[ping_client] {len(connections)} connections open", file=sys.stderr, flush=True)
    stats = [Stats() for _ in connections]
    begin = time.perf_counter()
    warm_end = begin + args.warmup
    end = warm_end + args.duration

    async def sample(at: float) -> tuple[float, float, float, float]:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        return (
            time.perf_counter(),
            time.process_time(),
            group_cpu_seconds(args.server_pgid),
            core_busy_seconds(SERVER_CPU),
        )

    samples = asyncio.gather(sample(warm_end), sample(end))
    try:
        if args.mode == "flood":
            await asyncio.gather(
                *(flood(ws, args.depth, warm_end, end, s, rng) for ws, s in zip(connections, stats, strict=True))
            )
        else:
            n = len(connections)
            await asyncio.gather(
                *(
                    fleet(ws, args.interval, args.interval * i / n, warm_end, end, s, rng)
                    for i, (ws, s) in enumerate(zip(connections, stats, strict=True))
                )
            )
        (w0, c0, s0, b0), (w1, c1, s1, b1) = await samples
    finally:
        await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
    wall = w1 - w0
    latencies = [x for s in stats for x in s.latencies]
    codes: dict[str, int] = {}
    for s in stats:
        for k, v in s.error_codes.items():
            codes[k] = codes.get(k, 0) + v
    return {
        "connections": len(connections),
        "acks_in_window": sum(s.acks_in_window for s in stats),
        "acks_per_second": sum(s.acks_in_window for s in stats) / args.duration,
        "errors": sum(s.errors for s in stats),
        "error_codes": codes,
        "failures": [s.failure for s in stats if s.failure][:5],
        "latency_ms": {
            "p50": percentile(latencies, 50) * 1000,
            "p99": percentile(latencies, 99) * 1000,
        },
        "server_cpu_utilisation": (s1 - s0) / wall if wall > 0 else None,
        "server_core_busy": (b1 - b0) / wall if wall > 0 else None,
        "client_cpu_utilisation": (c1 - c0) / wall if wall > 0 else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--server-pgid", type=int, required=True)
    parser.add_argument("--mode", choices=["flood", "fleet"], required=True)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--interval", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    with open(os.environ["BENCH_PING_COOKIES"]) as f:
        cookies = [line.strip() for line in f if line.strip()]
    try:
        result = asyncio.run(run(args, cookies))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        print(f"[ping_client] {exc!r}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
