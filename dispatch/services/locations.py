"""The location stream: validate a courier's ping, keep the freshest position in Redis, flush
positions to PostGIS in batches.

Why Redis first and PostGIS in batches: a courier pings every few seconds, and moving a point
that sits under a GiST index is never a HOT update in PostgreSQL (the indexed column changes, so
every update writes a new heap tuple and a new index entry, and the WAL for both). Measured on
this project's 2-core machine: about 5 k durable point updates/s in PostgreSQL against about
64 k/s GEOADD in Redis (issue 5). So each ping is one Redis write (a Lua script that checks
ordering and rate, then HSET + SADD to a "dirty" set; the consumer batches many couriers' pings
into one call, see PingBuffer; no GEOADD: nothing searched the geo set, so it was dropped from
the per-ping path), and the dispatcher flushes the
dirty couriers into `dispatch_courier.position` in one UPDATE per batch every few seconds, which
is what candidate search (KNN on the GiST index) reads; couriers carrying an order also get a
downsampled TrailPoint. The diner's map is fed from the same flush, so it is throttled for free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import redis
import redis.asyncio
from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL

from core.realtime import event_push, group_for_order_tracking, group_for_store
from dispatch.models import Courier, OrderDispatch, TrailPoint

logger = logging.getLogger("dispatch.locations")

# A ping may be this far ahead of the server's clock (phones drift) before it counts as future.
FUTURE_TOLERANCE_SECONDS = 5.0
# Pings older than this on arrival are refused (a phone replaying a day-old buffer).
MAX_PING_AGE_SECONDS = 600.0
# A trail keeps at most one point per this many seconds per courier.
TRAIL_SECONDS = 15.0
FLUSH_BATCH = 2000

# One round trip per ping. Refuses a ts not newer than the last accepted one (0) and a ping sooner
# than the minimum interval after the last accepted one (-1), by the server's receive time.
_PING_SCRIPT = """
local last = redis.call('HMGET', KEYS[1], 'ts', 'rx')
if last[1] and tonumber(ARGV[4]) <= tonumber(last[1]) then return 0 end
if last[2] and (tonumber(ARGV[8]) - tonumber(last[2])) < tonumber(ARGV[9]) then return -1 end
redis.call('HSET', KEYS[1], 'lng', ARGV[2], 'lat', ARGV[3], 'ts', ARGV[4], 'acc', ARGV[5],
           'hd', ARGV[6], 'sp', ARGV[7], 'rx', ARGV[8])
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""


# The consumer's path: many pings in one call. Each ping is applied under the same rules as
# _PING_SCRIPT (newer than the last, not sooner than the interval); refused ones are skipped.
# Each ping is one argument, "id lng lat ts acc hd sp rx" (PingBuffer.add): one argument instead
# of eight cuts the client's encoding per ping, the busiest part of the flush in a profile.
# Keys are built inside the script (one Redis server; a cluster would need hash tags).
_BATCH_SCRIPT = """
local prefix = ARGV[1]
local interval = tonumber(ARGV[2])
local applied = 0
for i = 3, #ARGV do
  local id, lng, lat, ts, acc, hd, sp, rx = string.match(ARGV[i],
    '^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$')
  if id then
    local key = prefix .. id
    local last = redis.call('HMGET', key, 'ts', 'rx')
    if (not last[1] or tonumber(ts) > tonumber(last[1]))
        and (not last[2] or (tonumber(rx) - tonumber(last[2])) >= interval) then
      redis.call('HSET', key, 'lng', lng, 'lat', lat, 'ts', ts, 'acc', acc, 'hd', hd, 'sp', sp, 'rx', rx)
      redis.call('EXPIRE', key, 86400)
      redis.call('SADD', KEYS[1], id)
      applied = applied + 1
    end
  end
end
return applied
"""


def position_key(courier_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:courier:pos:{courier_id}"


def dirty_key() -> str:
    return f"{settings.REDIS_PREFIX}:couriers:dirty"


class PingRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


class Ping(NamedTuple):
    """One validated ping (immutable; a NamedTuple: the consumer builds one per message)."""

    lat: float
    lng: float
    accuracy: float
    heading: float
    speed: float
    ts: float  # seconds since the epoch


_BOUNDS = (
    ("lat", True, -90.0, 90.0),
    ("lng", True, -180.0, 180.0),
    ("accuracy", False, 0.0, 10_000.0),
    ("heading", False, 0.0, 360.0),
    ("speed", False, 0.0, 100.0),
    ("ts", True, 0.0, 1e14),
)


def _invalid(name: str, value: Any, required: bool, low: float, high: float) -> PingRefused:
    """The refusal for one field that failed the fast check (the slow path, errors only)."""
    if value is None:
        return PingRefused("invalid", f"{name} is required.")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return PingRefused("invalid", f"{name} must be a number.")
    return PingRefused("out_of_range", f"{name} must be between {low} and {high}.")


def ping_parse(content: dict[str, Any], *, now: float) -> Ping:
    """Validate one ping `{lat, lng, accuracy, heading, speed, ts}` (ts in ms or s since the
    epoch). Raises PingRefused with a stable code.

    This runs for every ping a courier sends, so the common case is one loop of exact type
    checks and chained comparisons (NaN fails every comparison, infinities fail the bounds;
    bool is excluded by the exact type test); the readable reason is worked out only for a
    refusal (bench/location_pings.py measures the path)."""
    values: list[float] = []
    for name, required, low, high in _BOUNDS:
        value: Any = content.get(name)
        kind = type(value)
        if (kind is float or kind is int) and low <= value <= high:
            values.append(float(value))
        elif value is None and not required:
            values.append(-1.0)
        else:
            raise _invalid(name, value, required, low, high)
    lat, lng, accuracy, heading, speed, ts = values
    if ts > 1e11:  # milliseconds, as browsers give them
        ts /= 1000
    if ts > now + FUTURE_TOLERANCE_SECONDS:
        raise PingRefused("future", "The ping's time is in the future.")
    if ts < now - MAX_PING_AGE_SECONDS:
        raise PingRefused("stale", "The ping is too old.")
    return Ping(lat, lng, accuracy, heading, speed, ts)


def _script_args(courier_id: int, ping: Ping, now: float) -> tuple[list[str], list[Any]]:
    keys = [position_key(courier_id), dirty_key()]
    args = [
        courier_id,
        ping.lng,
        ping.lat,
        ping.ts,
        ping.accuracy,
        ping.heading,
        ping.speed,
        now,
        settings.COURIER_PING_MIN_INTERVAL,
    ]
    return keys, args


def _verdict(result: int) -> None:
    if result == 0:
        raise PingRefused("out_of_order", "The ping is not newer than the last one.")
    if result == -1:
        raise PingRefused("rate_limited", "Pings come too fast; slow down.")


async def courier_location_update_async(
    client: redis.asyncio.Redis, *, courier_id: int, ping: Ping, now: float | None = None
) -> None:
    """Record one validated ping of `courier_id` (the consumer's path: one Redis round trip).
    Raises PingRefused for an out-of-order or too-frequent ping; idempotent for a replayed one
    (refused as out of order, nothing written)."""
    keys, args = _script_args(courier_id, ping, time.time() if now is None else now)
    result = await client.eval(_PING_SCRIPT, len(keys), *keys, *args)
    _verdict(int(result))


def courier_location_update(client: redis.Redis, *, courier_id: int, ping: Ping, now: float | None = None) -> None:
    """The synchronous twin of `courier_location_update_async` (tests, the simulator)."""
    keys, args = _script_args(courier_id, ping, time.time() if now is None else now)
    result = client.eval(_PING_SCRIPT, len(keys), *keys, *args)
    _verdict(int(result))


async def live_ts_get_async(client: redis.asyncio.Redis, *, courier_id: int) -> float:
    """The time of the courier's last accepted ping (0 when none): a new socket starts from it."""
    raw = await client.hget(position_key(courier_id), "ts")
    return float(raw) if raw else 0.0


class PingBuffer:
    """Pings accepted by the consumers of one process, written to Redis together every
    FLUSH_SECONDS in one script call (one round trip for many couriers, instead of one each).

    The consumer has already checked each ping against its own socket's last one and the rate
    limit; the script checks again against Redis (a second socket of the same courier). A ping
    is acknowledged before this write: if Redis is down for a moment the position is lost, and
    the next ping a few seconds later replaces it anyway. Measured in bench/location_pings.py.
    """

    FLUSH_SECONDS = 0.02
    MAX_BATCH = 1000

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.client = client
        self.pending: list[str] = []
        self.count = 0
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.script = client.register_script(_BATCH_SCRIPT)

    def add(self, *, courier_id: int, ping: Ping, now: float) -> None:
        # repr() is what the Redis client would write for each float (round-trip exact).
        lat, lng, accuracy, heading, speed, ts = ping
        self.pending.append(f"{courier_id} {lng!r} {lat!r} {ts!r} {accuracy!r} {heading!r} {speed!r} {now!r}")
        self.count += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        if self.count >= self.MAX_BATCH:
            self.wakeup.set()

    async def _run(self) -> None:
        while self.count:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.FLUSH_SECONDS)
            self.wakeup.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self.count:
            return
        batch, self.pending, self.count = self.pending, [], 0
        prefix = position_key(0)[:-1]
        try:
            await self.script(keys=[dirty_key()], args=[prefix, settings.COURIER_PING_MIN_INTERVAL, *batch])
        except redis.RedisError:
            logger.exception("could not write %d positions", len(batch))


@dataclass(frozen=True)
class LivePosition:
    courier_id: int
    lat: float
    lng: float
    heading: float
    speed: float
    ts: float


def live_position_get(client: redis.Redis, *, courier_id: int) -> LivePosition | None:
    raw = client.hgetall(position_key(courier_id))
    return _live(courier_id, raw)  # type: ignore[arg-type]


def live_positions_get(client: redis.Redis, *, courier_ids: Sequence[int]) -> dict[int, LivePosition]:
    """Several couriers' freshest positions in one round trip."""
    pipe = client.pipeline(transaction=False)
    for cid in courier_ids:
        pipe.hgetall(position_key(cid))
    found = (_live(cid, raw) for cid, raw in zip(courier_ids, pipe.execute(), strict=True))
    return {p.courier_id: p for p in found if p is not None}


def _live(courier_id: int, raw: dict[str, str] | None) -> LivePosition | None:
    if not raw or "lat" not in raw:
        return None
    return LivePosition(
        courier_id=courier_id,
        lat=float(raw["lat"]),
        lng=float(raw["lng"]),
        heading=float(raw.get("hd", -1)),
        speed=float(raw.get("sp", -1)),
        ts=float(raw["ts"]),
    )


def positions_flush(client: redis.Redis, *, batch: int = FLUSH_BATCH) -> int:
    """Move the positions of couriers who pinged since the last flush into PostGIS, write trail
    points for those carrying orders, and push each one's position to the diners tracking them.

    SPOP takes the dirty ids atomically, so two dispatchers flushing at once never write one
    courier twice; a position written after the SPOP marks the courier dirty again. Returns the
    number of couriers flushed."""
    flushed = 0
    while True:
        ids = [int(i) for i in (client.spop(dirty_key(), batch) or [])]
        if not ids:
            return flushed
        pipe = client.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(position_key(cid))
        positions = [p for p in (_live(cid, raw) for cid, raw in zip(ids, pipe.execute(), strict=True)) if p]
        if positions:
            _positions_write(positions)
            _trail_and_track(client, positions)
        flushed += len(positions)
        if len(ids) < batch:
            return flushed


def _positions_write(positions: list[LivePosition]) -> None:
    # One UPDATE ... FROM unnest(...) per batch instead of one statement per courier: a flush of
    # 10 k couriers is one round trip. Raw SQL because the ORM's bulk_update writes a CASE per
    # row. `position_at` only moves forward, so a late flush never rewinds a courier.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE dispatch_courier AS c
               SET position = ST_SetSRID(ST_MakePoint(v.lng, v.lat), 4326)::geography,
                   position_at = to_timestamp(v.ts)
              FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[]) AS v(id, lng, lat, ts)
             WHERE c.id = v.id AND (c.position_at IS NULL OR c.position_at < to_timestamp(v.ts))
            """,
            [
                [p.courier_id for p in positions],
                [p.lng for p in positions],
                [p.lat for p in positions],
                [p.ts for p in positions],
            ],
        )


def _trail_and_track(client: redis.Redis, positions: list[LivePosition]) -> None:
    by_id = {p.courier_id: p for p in positions}
    rows = list(
        OrderDispatch.objects.filter(courier_id__in=by_id, state=OrderDispatch.State.ASSIGNED)
        # The store's coordinates as plain floats (no GEOS parsing in the flush).
        .annotate(
            store_lng=RawSQL(
                "(SELECT ST_X(s.location::geometry) FROM delivery_store s"
                " WHERE s.id = dispatch_orderdispatch.store_id)",
                (),
            ),
            store_lat=RawSQL(
                "(SELECT ST_Y(s.location::geometry) FROM delivery_store s"
                " WHERE s.id = dispatch_orderdispatch.store_id)",
                (),
            ),
        )
        .values_list(
            "order_id",
            "courier_id",
            "store_id",
            "order__number",
            "courier__state",
            "courier__speed_kmh",
            "store_lng",
            "store_lat",
            "order__picked_up_at",
        )
    )
    if not rows:
        return
    _board_approach(client, rows, by_id)
    active = [(row[0], row[1]) for row in rows]
    trail: list[TrailPoint] = []
    pipe = client.pipeline(transaction=False)
    for cid in {c for _o, c in active}:
        pipe.hget(position_key(cid), "tr")
    last_trail = dict(zip({c for _o, c in active}, pipe.execute(), strict=True))
    trailed: set[int] = set()
    for order_id, courier_id in active:
        p = by_id[courier_id]
        event_push(
            group_for_order_tracking(order_id),
            "courier.position",
            {"order": order_id, "lat": p.lat, "lng": p.lng, "heading": p.heading, "ts": p.ts},
        )
        if p.ts - float(last_trail.get(courier_id) or 0) >= TRAIL_SECONDS:
            from django.contrib.gis.geos import Point

            trail.append(
                TrailPoint(
                    courier_id=courier_id,
                    order_id=order_id,
                    point=Point(p.lng, p.lat, srid=4326),
                    recorded_at=datetime.fromtimestamp(p.ts, tz=UTC),
                )
            )
            trailed.add(courier_id)
    if trail:
        TrailPoint.objects.bulk_create(trail)
        pipe = client.pipeline(transaction=False)
        for cid in trailed:
            pipe.hset(position_key(cid), "tr", by_id[cid].ts)
        pipe.execute()


def _board_approach(client: redis.Redis, rows: list[Any], by_id: dict[int, LivePosition]) -> None:
    """Tell the store's board how far each courier on the way to it is, at most once per
    BOARD_APPROACH_SECONDS per courier (a board needs "3 min away", not every ping)."""
    from dispatch.selectors import courier_approach, metres_between

    # Heading to a store with this order still there (on a multi-store trip the courier rides on
    # to the next store with the first store's order already on board).
    approaching = [row for row in rows if row[4] == Courier.State.TO_STORE and row[8] is None]
    if not approaching:
        return
    ids = list({row[1] for row in approaching})
    pipe = client.pipeline(transaction=False)
    for cid in ids:
        pipe.hget(position_key(cid), "bp")
    last = dict(zip(ids, pipe.execute(), strict=True))
    pushed: set[int] = set()
    for order_id, courier_id, store_id, number, _state, speed_kmh, store_lng, store_lat, _picked_up in approaching:
        p = by_id[courier_id]
        if p.ts - float(last.get(courier_id) or 0) < settings.BOARD_APPROACH_SECONDS:
            continue
        distance = metres_between(p.lng, p.lat, store_lng, store_lat)
        payload = {"order": order_id, "number": number, **courier_approach(distance_m=distance, speed_kmh=speed_kmh)}
        event_push(group_for_store(store_id), "courier.approaching", payload)
        pushed.add(courier_id)
    if pushed:
        pipe = client.pipeline(transaction=False)
        for cid in pushed:
            pipe.hset(position_key(cid), "bp", by_id[cid].ts)
        pipe.execute()


def courier_position_forget(client: redis.Redis, *, courier_id: int) -> None:
    """Going offline: drop the live position so nobody is dispatched to a stale one."""
    pipe = client.pipeline(transaction=False)
    pipe.srem(dirty_key(), courier_id)
    pipe.execute()
    Courier.objects.filter(pk=courier_id).update(position=None, position_at=None)
