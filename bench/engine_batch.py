"""One dispatch batch at Meituan's scale: 660 orders × 2,600 couriers, each store's candidates
the 20 nearest couriers (a KD-tree here; the live system asks PostGIS), decided by
`dispatch.engine.plan`. Prints the time of each step (candidates, bundles, pairs, costs, solve)
as medians over repeated runs, and how it grows when the batch is scaled down and up.

    .venv/bin/python bench/engine_batch.py [--repeat 7] [--k 20]

Goal (issue 5): ≤ 100 ms for the 660 × 2,600 batch on 2 cores. The synthetic city: a 20 km
square, stores and couriers uniform, 1.6 orders per store on average, couriers idle or finishing
within 15 minutes, e-bikes at 250 m/min, food ready between 5 minutes ago and 20 minutes ahead.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from bench.common import emit, log  # noqa: E402
from dispatch.engine import CourierView, OrderView, Params, Point  # noqa: E402
from dispatch.engine.planner import plan_timed  # noqa: E402

SPAN_M = 20_000.0
NOW = 600.0
ORDERS_PER_STORE = 1.6


def city(n_orders: int, n_couriers: int, seed: int) -> tuple[list[OrderView], list[CourierView]]:
    rng = random.Random(seed)
    n_stores = max(1, round(n_orders / ORDERS_PER_STORE))
    stores = [Point(rng.uniform(0, SPAN_M), rng.uniform(0, SPAN_M)) for _ in range(n_stores)]
    orders = []
    for i in range(n_orders):
        s = rng.randrange(n_stores)
        placed = NOW - rng.uniform(0, 20)
        orders.append(
            OrderView(
                id=f"o{i}",
                store_id=f"s{s}",
                pickup=stores[s],
                dropoff=Point(stores[s].x + rng.uniform(-3000, 3000), stores[s].y + rng.uniform(-3000, 3000)),
                placed_at=placed,
                ready_at=max(placed, NOW + rng.uniform(-5, 20)),
                priority=1 if rng.random() < 0.05 else 0,
            )
        )
    couriers = [
        CourierView(
            id=f"c{i}",
            position=Point(rng.uniform(0, SPAN_M), rng.uniform(0, SPAN_M)),
            free_at=NOW if rng.random() < 0.6 else NOW + rng.uniform(0, 15),
            meters_per_minute=250.0,
            capacity=3,
        )
        for i in range(n_couriers)
    ]
    return orders, couriers


def candidates_knn(orders: list[OrderView], couriers: list[CourierView], k: int) -> dict[str, list[str]]:
    stores = {o.store_id: o.pickup for o in orders}
    tree = cKDTree(np.array([(c.position.x, c.position.y) for c in couriers]))
    ids = list(stores)
    _, idx = tree.query(np.array([(stores[s].x, stores[s].y) for s in ids]), k=min(k, len(couriers)))
    return {s: [couriers[j].id for j in np.atleast_1d(row)] for s, row in zip(ids, idx, strict=True)}


def measure(n_orders: int, n_couriers: int, k: int, repeat: int) -> dict[str, Any]:
    orders, couriers = city(n_orders, n_couriers, seed=n_orders)
    params = Params()
    steps: dict[str, list[float]] = {}
    committed = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        cands = candidates_knn(orders, couriers, k)
        cand_ms = (time.perf_counter() - t0) * 1000
        t1 = time.perf_counter()
        result, timings = plan_timed(NOW, orders, couriers, params, cands)
        plan_ms = (time.perf_counter() - t1) * 1000
        committed = sum(len(a.order_ids) for a in result)
        for name, value in [("candidates", cand_ms), *timings.items(), ("plan", plan_ms)]:
            steps.setdefault(name, []).append(value)
        steps.setdefault("total", []).append(cand_ms + plan_ms)
    med = {name: statistics.median(v) for name, v in steps.items()}
    med["committed_orders"] = committed
    return med


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--k", type=int, default=20)
    args = ap.parse_args(argv)
    log("engine_batch: medians in ms; machine shared with other work, figures provisional")
    header = ["orders", "couriers", "candidates", "bundles", "pairs", "costs", "solve", "commit", "total"]
    print(" ".join(f"{h:>10}" for h in header), file=sys.stderr)
    for scale in (0.25, 0.5, 1.0, 2.0, 4.0):
        n_o, n_c = round(660 * scale), round(2600 * scale)
        m = measure(n_o, n_c, args.k, args.repeat)
        row = [n_o, n_c] + [m.get(h, float("nan")) for h in header[2:]]
        print(" ".join(f"{v:>10.1f}" if isinstance(v, float) else f"{v:>10}" for v in row), file=sys.stderr)
        emit(
            "engine_batch",
            f"plan_{n_o}x{n_c}_ms",
            m["total"],
            "ms",
            {k: round(v, 2) for k, v in m.items()} | {"k": args.k, "goal_ms": 100 if scale == 1.0 else None},
        )
    return 0


def run() -> list[dict[str, Any]]:
    """For bench/run_all.py."""
    main([])
    return []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
