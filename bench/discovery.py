"""`stores_delivering_to` among 10,000 live stores: latency of one discovery search (ms).

The stores live in their own schema (`bench_discovery`), in copies of the four tables the search
reads (stores, fee bands, opening hours, hours exceptions), made with CREATE TABLE ... LIKE so
they carry the same columns and indexes (the GiST index on `zone` included). This process puts
that schema first on its connection's search_path, so the real selector, unchanged, reads the
bench rows, and the application's tables (the demo city) are never written or read. The schema
is rebuilt at every run (a copy of an older table could miss a column added since) and dropped
at the end, even when the bench fails.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

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

SCHEMA = "bench_discovery"
STORES = 10_000
# Shanghai, as in the KNN bench: stores and drop-off points uniform in this box.
LNG_MIN, LNG_MAX = 121.2, 121.8
LAT_MIN, LAT_MAX = 30.9, 31.5
RADIUS_MIN_M, RADIUS_MAX_M = 3000, 5000
FEE_BANDS = ((1000, 300), (3000, 500), (5000, 800))
OPENS, CLOSES = clock(9, 0), clock(23, 0)  # every day of the week
# A Wednesday lunchtime: every bench store is open, so every covering store is listed.
AT = datetime(2026, 11, 25, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
WARMUP_SEARCHES = 50
SEARCHES = 500
GOAL_P95_MS = 20.0
FILL_SEED = 20261125
QUERY_SEED = 2027
TABLES = ("delivery_store", "delivery_deliveryfeeband", "delivery_openinghours", "delivery_hoursexception")


def _execute(sql: str, params: list[Any] | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _search_path_hook(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On any (re)connection of this process, the bench schema comes first."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET search_path TO {SCHEMA}, public")


@contextmanager
def bench_schema() -> Iterator[dict[str, Any]]:
    """Create and fill the bench schema, route this process's queries to it; always drop it."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    try:
        _execute(f"CREATE SCHEMA {SCHEMA}")
        for table in TABLES:
            _execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
        connection_created.connect(_search_path_hook)
        _execute(f"SET search_path TO {SCHEMA}, public")
        started = time.perf_counter()
        fill()
        seconds = time.perf_counter() - started
        log(f"discovery: {STORES:,} stores filled in {seconds:.1f} s")
        yield {"fill_seconds": round(seconds, 1)}
    finally:
        connection_created.disconnect(_search_path_hook)
        _execute("SET search_path TO DEFAULT")
        _execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.close()
        log(f"discovery: dropped schema {SCHEMA}")


def fill() -> None:
    """10,000 live stores (pins, ratings, prep times at random with a fixed seed), each with a
    radius zone drawn in SQL as store_zone_set_radius draws it, three fee bands and daily hours."""
    from django.contrib.gis.geos import Point

    from delivery.models import DeliveryFeeBand, OpeningHours, Store

    rng = random.Random(FILL_SEED)
    stores = []
    for i in range(STORES):
        ratings = rng.randrange(0, 200)
        stores.append(
            Store(
                name_zh=f"bench-discovery-{i}",
                address="上海市",
                location=Point(rng.uniform(LNG_MIN, LNG_MAX), rng.uniform(LAT_MIN, LAT_MAX), srid=4326),
                status=Store.Status.LIVE,
                delivery_radius_m=rng.randrange(RADIUS_MIN_M, RADIUS_MAX_M + 1),
                default_prep_minutes=rng.randrange(5, 30),
                min_order_cents=rng.randrange(0, 40) * 100,
                rating_count=ratings,
                rating_sum=ratings * rng.randrange(1, 6),
            )
        )
    Store.objects.bulk_create(stores, batch_size=2000)
    # The same circle as delivery.services.zones.store_zone_set_radius, for all rows at once.
    _execute(
        f"UPDATE {SCHEMA}.delivery_store "
        "SET zone = ST_Multi(ST_Buffer(location, delivery_radius_m, 'quad_segs=16')::geometry)"
    )
    ids = list(Store.objects.values_list("pk", flat=True))
    DeliveryFeeBand.objects.bulk_create(
        (DeliveryFeeBand(store_id=pk, up_to_m=up_to, fee_cents=fee) for pk in ids for up_to, fee in FEE_BANDS),
        batch_size=5000,
    )
    OpeningHours.objects.bulk_create(
        (OpeningHours(store_id=pk, weekday=day, opens=OPENS, closes=CLOSES) for pk in ids for day in range(7)),
        batch_size=5000,
    )
    for table in TABLES:
        _execute(f"ANALYZE {SCHEMA}.{table}")


def _random_point(rng: random.Random) -> Any:
    from django.contrib.gis.geos import Point

    return Point(rng.uniform(LNG_MIN, LNG_MAX), rng.uniform(LAT_MIN, LAT_MAX), srid=4326)


def _plan_uses_zone_index() -> bool:
    from django.contrib.gis.geos import Point

    from delivery.selectors.discovery import stores_covering_queryset

    plan = stores_covering_queryset(Point(121.47, 31.23, srid=4326)).explain()
    return "Index Scan" in plan and "zone" in plan


def run() -> list[dict[str, Any]]:
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.knn import pinned_pair
    from delivery.selectors.discovery import stores_covering_queryset, stores_delivering_to

    with bench_schema() as fill_detail:
        uses_index = _plan_uses_zone_index()
        if not uses_index:
            log("discovery: the plan does not use the GiST index on zone")
        rng = random.Random(QUERY_SEED)
        connection.ensure_connection()
        with pinned_pair(connection.connection) as (backend_pid, backend_pinned):
            log(f"discovery: {WARMUP_SEARCHES} warm-up searches, then {SEARCHES} timed")
            for _ in range(WARMUP_SEARCHES):
                stores_delivering_to(_random_point(rng), at=AT)
            # After the warm-up: the first spatial query also asks PostGIS for its version.
            with CaptureQueriesContext(connection) as captured:
                stores_delivering_to(_random_point(rng), at=AT)
            queries_per_search = len(captured.captured_queries)
            latencies: list[float] = []
            listed: list[int] = []
            backend_before, busy_before = process_cpu_seconds(backend_pid), core_busy_seconds(SERVER_CPU)
            client_before = time.process_time()
            started = time.perf_counter()
            for _ in range(SEARCHES):
                point = _random_point(rng)
                sent = time.perf_counter()
                cards = stores_delivering_to(point, at=AT)
                latencies.append(time.perf_counter() - sent)
                listed.append(len(cards))
            seconds = time.perf_counter() - started
            backend_after, busy_after = process_cpu_seconds(backend_pid), core_busy_seconds(SERVER_CPU)
            client_seconds = time.process_time() - client_before
            # For reading the figure: the stores query alone (spatial filter, distance, model rows).
            spatial: list[float] = []
            for _ in range(SEARCHES):
                point = _random_point(rng)
                sent = time.perf_counter()
                list(stores_covering_queryset(point))
                spatial.append(time.perf_counter() - sent)

    backend_seconds = (
        backend_after - backend_before if backend_before is not None and backend_after is not None else None
    )
    if backend_seconds is not None:
        warn_if_core_shared("discovery", backend_seconds / seconds, (busy_after - busy_before) / seconds)
    p95 = percentile(latencies, 95) * 1000
    detail = {
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p95_ms": round(p95, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "max_ms": round(max(latencies) * 1000, 3),
        "goal_p95_ms": GOAL_P95_MS,
        "meets_goal": p95 <= GOAL_P95_MS,
        "stores_query_p50_ms": round(percentile(spatial, 50) * 1000, 3),
        "stores_query_p95_ms": round(percentile(spatial, 95) * 1000, 3),
        "searches": SEARCHES,
        "warmup_searches": WARMUP_SEARCHES,
        "queries_per_search": queries_per_search,
        "listed_mean": round(sum(listed) / len(listed), 1),
        "listed_p95": round(percentile([float(n) for n in listed], 95), 1),
        "listed_max": max(listed),
        "stores": STORES,
        "radius_m": [RADIUS_MIN_M, RADIUS_MAX_M],
        "bbox": [LNG_MIN, LAT_MIN, LNG_MAX, LAT_MAX],
        "uses_gist_index": uses_index,
        "client_cpu": CLIENT_CPU,
        "backend_cpu": SERVER_CPU if backend_pinned else None,
        "backend_cpu_utilisation": round(backend_seconds / seconds, 3) if backend_seconds is not None else None,
        "client_cpu_utilisation": round(client_seconds / seconds, 3),
        "debug": settings.DEBUG,
        **fill_detail,
    }
    return [emit("discovery", "p95_latency_ms", p95, "ms", detail)]
