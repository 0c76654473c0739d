"""One live dispatch batch at Meituan's scale, end to end on the real database: 660 waiting
orders × 2,600 idle couriers; candidates from PostGIS (the live selector: KNN on the GiST index
within the radius, one LATERAL query for every store), the library's views, and
`dispatch.engine.plan` (bundles, pairs, costs, solve, commit). Medians over repeated runs, per
step, and how the total grows with the batch.

The rows are written inside one transaction that is rolled back at the end, so the database
(a `make run` demo city, say) is left as it was. Writing the offers is not part of the decision
and is not timed here (the round does it after).

    .venv/bin/python bench/run_all.py dispatch

Goal (issue 5): <= 100 ms for 660 × 2,600 on 2 cores.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import emit, log, setup_django

CENTRE = (121.47, 31.23)
SPAN_DEG = 0.1  # ~10 km each way around the centre: a 20 km square
ORDERS_PER_STORE = 1.6
REPEAT = 7
SIZES = [(165, 650), (330, 1300), (660, 2600), (1320, 5200)]
# A fleet is never all idle: the headline batch again, with this many couriers also online but
# on their way to a store (in the table, positioned, not available).
BUSY = 5200


# The tables a batch writes, and its rollback leaves dead rows in.
_TOUCHED = (
    "accounts_user",
    "dispatch_courier",
    "compliance_healthcertificate",
    "delivery_store",
    "delivery_order",
    "dispatch_orderdispatch",
)


class _Rollback(Exception):
    pass


def _vacuum() -> None:
    """Clear the dead rows that rolled-back batches leave. Without it every run's couriers stay
    in the GiST index as dead entries that the next run's KNN walks still visit, and the figure
    depends on how often the bench ran before (where autovacuum is off, as on the bench
    machine, they pile up for good: 46,000 dead couriers once made the candidate query twice as
    slow). A live table is kept clean by autovacuum."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(_TOUCHED)}")


def _backend_cpu_ms() -> float:
    """CPU time of this connection's PostgreSQL backend (ms), when the server runs on this
    machine: a measure of the query that other processes' load does not stretch as it does the
    wall clock. NaN when it cannot be read."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return math.nan


def _fill(n_orders: int, n_couriers: int, seed: int, busy: int = 0) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.gis.geos import Point
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from delivery.models import Order, Store
    from dispatch.models import Courier, OrderDispatch

    rng = random.Random(seed)
    now = timezone.now()
    unusable = make_password(None)

    def spot() -> tuple[float, float]:
        return CENTRE[0] + rng.uniform(-SPAN_DEG, SPAN_DEG), CENTRE[1] + rng.uniform(-SPAN_DEG, SPAN_DEG)

    n_stores = max(1, round(n_orders / ORDERS_PER_STORE))
    stores = Store.objects.bulk_create(
        [
            Store(
                name_zh=f"调度基准{i}", address="上海市", location=Point(*spot(), srid=4326), status=Store.Status.LIVE
            )
            for i in range(n_stores)
        ]
    )
    diner = User.objects.create(username=f"bench-batch-diner-{seed}", password=unusable)
    orders = []
    for i in range(n_orders):
        store = rng.choice(stores)
        placed = now - timedelta(minutes=rng.uniform(0, 20))
        ready_in = rng.uniform(-5, 20)
        orders.append(
            Order(
                number=f"BB{seed}-{i:06d}",
                diner=diner,
                store=store,
                status=Order.Status.READY if ready_in <= 0 else Order.Status.ACCEPTED,
                subtotal_cents=3000,
                total_cents=3000,
                delivery_address="上海市",
                delivery_point=Point(
                    store.location.x + rng.uniform(-0.03, 0.03), store.location.y + rng.uniform(-0.03, 0.03), srid=4326
                ),
                delivery_distance_m=2000,
                eta_at=now + timedelta(minutes=40),
                accepted_at=placed,
                ready_at=now + timedelta(minutes=ready_in) if ready_in <= 0 else None,
                prep_minutes=None,
            )
        )
    orders = Order.objects.bulk_create(orders, batch_size=2000)
    OrderDispatch.objects.bulk_create(
        [OrderDispatch(order=o, store=o.store, dropoff_code="0000") for o in orders], batch_size=2000
    )
    users = User.objects.bulk_create(
        [User(username=f"bench-batch-{seed}-{i}", password=unusable) for i in range(n_couriers + busy)],
        batch_size=2000,
    )
    # The first `n_couriers` idle; the `busy` others on their way to a store (online, certified,
    # positioned, but not available): the KNN walk must not pay for them.
    couriers = Courier.objects.bulk_create(
        [
            Courier(
                user=u,
                state=Courier.State.IDLE if i < n_couriers else Courier.State.TO_STORE,
                position=Point(*spot(), srid=4326),
                position_at=now,
            )
            for i, u in enumerate(users)
        ],
        batch_size=2000,
    )
    # Each with a valid, verified health certificate: without one the compliance gate in
    # couriers_available keeps a courier out of dispatch (and the batch would find nobody).
    from compliance.models import HealthCertificate, Verification

    today = timezone.localdate()
    HealthCertificate.objects.bulk_create(
        [
            HealthCertificate(
                courier=c,
                number=f"HC-BB{seed}-{c.pk}",
                valid_from=today - timedelta(days=1),
                valid_to=today + timedelta(days=365),
                verification=Verification.VERIFIED,
            )
            for c in couriers
        ],
        batch_size=2000,
    )
    # Statistics of every table the candidate query joins: with the users' still saying "empty"
    # the planner scanned all users once per candidate (the 165-order size ran slower than 330).
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE dispatch_courier; ANALYZE dispatch_orderdispatch; ANALYZE delivery_order;"
            " ANALYZE compliance_healthcertificate; ANALYZE accounts_user; ANALYZE delivery_store"
        )


def _decide() -> dict[str, float]:
    """One decision as the live round makes it (the cyclic garbage collector paused, as in
    dispatch_round), timed per step (ms)."""
    from dispatch.services.dispatching import collector_paused

    with collector_paused():
        return _decide_steps()


def _decide_steps() -> dict[str, float]:
    from django.conf import settings
    from django.utils import timezone

    from dispatch.engine.planner import plan_timed
    from dispatch.selectors import candidates_for_stores
    from dispatch.services.dispatching import CITY_ZONE, LIVE_PARAMS, Projection, Zone, _waiting, build_views

    t0 = time.perf_counter()
    waiting = _waiting(Zone(key=CITY_ZONE, zone_id=None))
    now = timezone.now()
    stores = {d.store_id: (d.store_id, d.store_lng, d.store_lat) for d in waiting}  # type: ignore[attr-defined]
    server0 = _backend_cpu_ms()
    cpu1 = time.process_time()
    t1 = time.perf_counter()
    found = candidates_for_stores(
        stores=list(stores.values()), radius_m=settings.DISPATCH_RADIUS_M, limit=settings.DISPATCH_CANDIDATES
    )
    t2 = time.perf_counter()
    cpu2 = time.process_time()
    server = _backend_cpu_ms() - server0
    orders, couriers, candidates, _by_id = build_views(
        waiting=waiting, found=found, now=now, project=Projection(*CENTRE)
    )
    t3 = time.perf_counter()
    assignments, steps = plan_timed(0.0, orders, couriers, LIVE_PARAMS, candidates)
    t4 = time.perf_counter()
    cpu4 = time.process_time()
    return {
        "load_orders": (t1 - t0) * 1000,
        "candidates_postgis": (t2 - t1) * 1000,
        "candidates_server_cpu": server,
        "candidates_client_cpu": (cpu2 - cpu1) * 1000,
        "decide_client_cpu": (cpu4 - cpu1) * 1000,
        "views": (t3 - t2) * 1000,
        **{f"plan_{k}": v for k, v in steps.items()},
        "plan": (t4 - t3) * 1000,
        "decide_total": (t4 - t1) * 1000,
        "total_with_load": (t4 - t0) * 1000,
        "assignments": float(len(assignments)),
        "orders": float(len(orders)),
        "couriers": float(len(couriers)),
    }


def measure(n_orders: int, n_couriers: int, busy: int = 0) -> dict[str, float]:
    from django.db import transaction

    runs: list[dict[str, float]] = []
    _vacuum()
    try:
        with transaction.atomic():
            _fill(n_orders, n_couriers, seed=n_orders, busy=busy)
            _decide()  # warm-up: plans cached, numpy and scipy loaded
            runs = [_decide() for _ in range(REPEAT)]
            raise _Rollback
    except _Rollback:
        pass
    _vacuum()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def run() -> list[dict[str, Any]]:
    setup_django()
    records = []
    growth = []
    headline: dict[str, float] = {}
    for n_orders, n_couriers in SIZES:
        log(f"dispatch_batch: {n_orders} orders x {n_couriers} couriers, {REPEAT} runs")
        med = measure(n_orders, n_couriers)
        growth.append(
            {
                "orders": n_orders,
                "couriers": n_couriers,
                "decide_ms": round(med["decide_total"], 1),
                **{
                    f"{k}_ms": round(med[k], 1)
                    for k in ("candidates_postgis", "candidates_server_cpu", "views", "plan", "decide_client_cpu")
                },
            }
        )
        if (n_orders, n_couriers) == (660, 2600):
            headline = med
    log(f"dispatch_batch: 660 orders x 2600 couriers and {BUSY} busy ones, {REPEAT} runs")
    with_busy = measure(660, 2600, busy=BUSY)
    records.append(
        emit(
            "dispatch_batch",
            "decide_ms_660x2600",
            headline["decide_total"],
            "ms",
            {
                "goal_ms": 100,
                "breakdown_ms_median": {k: round(v, 2) for k, v in headline.items()},
                "growth": growth,
                f"with_{BUSY}_busy_couriers_ms": {
                    k: round(with_busy[k], 2)
                    for k in ("decide_total", "candidates_postgis", "candidates_server_cpu", "decide_client_cpu")
                },
                "repeat": REPEAT,
                "note": "decide = PostGIS candidates + views + engine.plan; load_orders and offer writes apart",
            },
        )
    )
    return records
