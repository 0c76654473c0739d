"""PostGIS KNN-10 among 1,000,000 points: the nearest-courier query shape, served by a GiST index.

The points live in their own schema (`bench`) of the project database, apart from the
application's tables and migrations; drop it with `DROP SCHEMA bench CASCADE`. The table is
filled once and reused while it holds exactly POINTS rows.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# psycopg2 ships no type information and the project installs no stubs for it.
import psycopg2  # type: ignore[import-untyped]

from bench.common import (
    CLIENT_CPU,
    SERVER_CPU,
    core_busy_seconds,
    emit,
    log,
    percentile,
    process_cpu_seconds,
    setup_django,
    warn_if_core_shared,
)

POINTS = 1_000_000
# Shanghai, roughly the area the demo city covers.
LNG_MIN, LNG_MAX = 121.2, 121.8
LAT_MIN, LAT_MAX = 30.9, 31.5
INDEX_NAME = "knn_points_geog_gist"
WARMUP_SECONDS = 1.0
DURATION_SECONDS = 10.0
# Far above what one connection completes in the window; only a guard on the loop.
MAX_QUERIES = 2_000_000
# Fixed seeds: every run (and every machine on the same PostgreSQL) gets the same points.
FILL_SEED = 0.42
QUERY_SEED = 2026

KNN_SQL = "SELECT id FROM bench.knn_points ORDER BY geog <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography LIMIT 10"


def connect() -> Any:
    """A psycopg2 connection to the database Django is configured with (DATABASE_URL)."""
    setup_django()
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "application_name": "mingchu-bench-knn",
    }
    return psycopg2.connect(**{k: v for k, v in params.items() if v is not None})


def ensure_points(conn: Any) -> dict[str, Any]:
    """Create and fill bench.knn_points unless it already holds exactly POINTS rows."""
    with conn.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS bench")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench.knn_points ("
            " id bigserial PRIMARY KEY, geog geography(Point, 4326) NOT NULL)"
        )
        cur.execute("SELECT count(*) FROM bench.knn_points")
        (rows,) = cur.fetchone()
    conn.commit()
    if rows == POINTS:
        with conn.cursor() as cur:
            # A table from an older run that lost its index would silently measure a sequential scan.
            cur.execute(f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON bench.knn_points USING gist (geog)")
        conn.commit()
        log(f"knn: reusing bench.knn_points ({rows:,} rows)")
        return {"filled_now": False, "fill_seconds": 0.0}

    log(f"knn: filling bench.knn_points with {POINTS:,} random points (once; 10-60 s)")
    started = time.perf_counter()
    with conn.cursor() as cur:
        # One transaction: an interrupted fill leaves the table as it was, and the next run refills.
        cur.execute(f"DROP INDEX IF EXISTS bench.{INDEX_NAME}")
        cur.execute("TRUNCATE bench.knn_points RESTART IDENTITY")
        cur.execute("SELECT setseed(%s)", (FILL_SEED,))
        cur.execute(
            "INSERT INTO bench.knn_points (geog) "
            "SELECT ST_SetSRID(ST_MakePoint(%s + random() * %s, %s + random() * %s), 4326)::geography "
            "FROM generate_series(1, %s)",
            (LNG_MIN, LNG_MAX - LNG_MIN, LAT_MIN, LAT_MAX - LAT_MIN, POINTS),
        )
        # Building the index after the rows is much faster than growing it row by row.
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cur.execute(f"CREATE INDEX {INDEX_NAME} ON bench.knn_points USING gist (geog)")
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("ANALYZE bench.knn_points")
    conn.commit()
    seconds = time.perf_counter() - started
    log(f"knn: filled and indexed in {seconds:.1f} s")
    return {"filled_now": True, "fill_seconds": round(seconds, 1)}


def plan_uses_index(conn: Any) -> tuple[bool, list[str]]:
    """Whether the KNN query's plan walks the GiST index (and the plan's node types)."""
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (FORMAT JSON) " + KNN_SQL, (121.5, 31.2))
        (plan,) = cur.fetchone()
    conn.commit()
    node_types: list[str] = []
    uses_index = False
    pending = [plan[0]["Plan"]]
    # A plan tree is small; the bound only keeps a malformed one from looping.
    for _ in range(1000):
        if not pending:
            break
        node = pending.pop()
        node_types.append(node["Node Type"])
        if node["Node Type"] in ("Index Scan", "Index Only Scan") and node.get("Index Name") == INDEX_NAME:
            uses_index = True
        pending.extend(node.get("Plans", []))
    return uses_index, node_types


@contextlib.contextmanager
def pinned_pair(conn: Any) -> Iterator[tuple[int, bool]]:
    """This process on the client core and its database backend on the server core, as the
    other benches split their load generator and server; both restored afterwards.

    Yields the backend's pid and whether it could be pinned: it can only when PostgreSQL runs on
    this machine and we may change its processes' affinity (root, or the same user).
    """
    own = os.sched_getaffinity(0)
    backend_pid: int | None = None
    backend_before: set[int] | None = None
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cur.fetchone()
    conn.commit()
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})
        try:
            backend_before = os.sched_getaffinity(backend_pid)
            os.sched_setaffinity(backend_pid, {SERVER_CPU})
        except OSError:
            backend_before = None
        yield backend_pid, backend_before is not None
    finally:
        os.sched_setaffinity(0, own)
        if backend_before is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(backend_pid, backend_before)


@dataclass
class Window:
    queries: int
    seconds: float
    latencies: list[float]
    short_answers: int
    backend_cpu_seconds: float | None
    core_busy_seconds: float
    client_cpu_seconds: float


def run_queries(conn: Any, backend_pid: int) -> Window:
    """Warm up, then time queries one after another over the window."""
    rng = random.Random(QUERY_SEED)
    latencies: list[float] = []
    short_answers = 0
    with conn.cursor() as cur:
        warm_end = time.perf_counter() + WARMUP_SECONDS
        for _ in range(MAX_QUERIES):
            if time.perf_counter() >= warm_end:
                break
            cur.execute(KNN_SQL, (rng.uniform(LNG_MIN, LNG_MAX), rng.uniform(LAT_MIN, LAT_MAX)))
            cur.fetchall()
        backend_before, busy_before = process_cpu_seconds(backend_pid), core_busy_seconds(SERVER_CPU)
        client_before = time.process_time()
        started = time.perf_counter()
        end = started + DURATION_SECONDS
        now = started
        for _ in range(MAX_QUERIES):
            if now >= end:
                break
            point = (rng.uniform(LNG_MIN, LNG_MAX), rng.uniform(LAT_MIN, LAT_MAX))
            sent = time.perf_counter()
            cur.execute(KNN_SQL, point)
            rows = cur.fetchall()
            now = time.perf_counter()
            latencies.append(now - sent)
            if len(rows) != 10:
                short_answers += 1
        backend_after, busy_after = process_cpu_seconds(backend_pid), core_busy_seconds(SERVER_CPU)
        client_seconds = time.process_time() - client_before
    return Window(
        queries=len(latencies),
        seconds=now - started,
        latencies=latencies,
        short_answers=short_answers,
        backend_cpu_seconds=(
            backend_after - backend_before if backend_before is not None and backend_after is not None else None
        ),
        core_busy_seconds=busy_after - busy_before,
        client_cpu_seconds=client_seconds,
    )


def run() -> list[dict[str, Any]]:
    conn = connect()
    try:
        fill = ensure_points(conn)
        uses_index, node_types = plan_uses_index(conn)
        if not uses_index:
            log(f"knn: the plan does not use {INDEX_NAME}: {node_types}")
        # Autocommit: each query stands alone, as an API request's would, with no open transaction.
        conn.autocommit = True
        with pinned_pair(conn) as (backend_pid, backend_pinned):
            log(f"knn: {DURATION_SECONDS:.0f} s of KNN-10 queries from one connection")
            window = run_queries(conn, backend_pid)
    finally:
        conn.close()
    if window.queries == 0:
        raise RuntimeError("knn: no query completed")
    seconds = window.seconds
    if window.backend_cpu_seconds is not None:
        warn_if_core_shared("knn", window.backend_cpu_seconds / seconds, window.core_busy_seconds / seconds)
    detail = {
        "p50_ms": round(percentile(window.latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(window.latencies, 99) * 1000, 3),
        "queries": window.queries,
        "window_s": round(seconds, 3),
        "warmup_s": WARMUP_SECONDS,
        "points": POINTS,
        "k": 10,
        "bbox": [LNG_MIN, LAT_MIN, LNG_MAX, LAT_MAX],
        "uses_gist_index": uses_index,
        "plan_nodes": node_types,
        "short_answers": window.short_answers,
        "client_cpu": CLIENT_CPU,
        "backend_cpu": SERVER_CPU if backend_pinned else None,
        "backend_cpu_utilisation": (
            round(window.backend_cpu_seconds / seconds, 3) if window.backend_cpu_seconds is not None else None
        ),
        "server_core_busy": round(window.core_busy_seconds / seconds, 3),
        "client_cpu_utilisation": round(window.client_cpu_seconds / seconds, 3),
        **fill,
    }
    return [emit("knn", "queries_per_second", window.queries / seconds, "q/s", detail)]
