"""plan(): one dispatch decision over the orders waiting and the couriers who could take them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence

import numpy as np

from dispatch.engine.bundler import build_bundles, target_bundle_size
from dispatch.engine.commitment import should_commit
from dispatch.engine.costs import pair_costs
from dispatch.engine.matcher import match
from dispatch.engine.types import Assignment, CourierView, OrderView, Params


def plan(
    now: float,
    orders: Sequence[OrderView],
    couriers: Sequence[CourierView],
    params: Params,
    candidates: Mapping[str, Sequence[str]] | None = None,
) -> list[Assignment]:
    """Bundle the orders, cost every candidate (bundle, courier) pair, solve the assignment and
    return the assignments to commit now (see commitment.py). Each order and each courier appears
    in at most one assignment; a courier never gets an order that excluded them, nor more orders
    than their capacity. `candidates` maps a store id to the courier ids allowed for it (None:
    every courier)."""
    return plan_timed(now, orders, couriers, params, candidates)[0]


def plan_timed(
    now: float,
    orders: Sequence[OrderView],
    couriers: Sequence[CourierView],
    params: Params,
    candidates: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Assignment], dict[str, float]]:
    """plan(), and the milliseconds spent in each step (bundles, pairs, costs, solve, commit):
    for benchmarks and the live loop's logs. The timings never influence the decision."""
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal mark
        t = time.perf_counter()
        timings[step] = (t - mark) * 1000
        mark = t

    if not orders or not couriers:
        return [], timings
    n_free = sum(1 for c in couriers if c.free_at <= now + params.supply_horizon)
    max_capacity = max(c.capacity for c in couriers)
    size_cap = max(1, min(params.max_bundle_size, max_capacity))
    target = target_bundle_size(len(orders), n_free, params, max_capacity)
    ref_speed = statistics.median(c.meters_per_minute for c in couriers)
    bundles = build_bundles(orders, meters_per_minute=ref_speed, target_size=target, size_cap=size_cap, params=params)
    lap("bundles")

    index = {c.id: i for i, c in enumerate(couriers)}
    capacity = np.fromiter((c.capacity for c in couriers), np.intp, len(couriers))
    all_couriers = np.arange(len(couriers), dtype=np.intp)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for b, bundle in enumerate(bundles):
        if candidates is None:
            allowed = all_couriers
        else:
            ids = candidates.get(bundle.store_id, ())
            allowed = np.fromiter((index[i] for i in ids if i in index), np.intp)
        allowed = allowed[capacity[allowed] >= len(bundle.orders)]
        excluded = frozenset().union(*(o.excluded_couriers for o in bundle.orders))
        if excluded:
            allowed = np.array([i for i in allowed.tolist() if couriers[i].id not in excluded], dtype=np.intp)
        rows.append(np.full(len(allowed), b, dtype=np.intp))
        cols.append(allowed)
    bundle_idx = np.concatenate(rows) if rows else np.empty(0, np.intp)
    courier_idx = np.concatenate(cols) if cols else np.empty(0, np.intp)
    lap("pairs")
    pairs = pair_costs(now, bundles, couriers, bundle_idx, courier_idx, params)
    lap("costs")
    matched = match(len(bundles), len(couriers), pairs.bundle, pairs.courier, pairs.cost)
    lap("solve")

    out: list[Assignment] = []
    for b, c, k in matched:
        if not should_commit(now=now, start=float(pairs.start[k]), wait=float(pairs.wait[k]), params=params):
            continue
        bundle = bundles[b]
        courier = couriers[c]
        route = bundle.route(courier.meters_per_minute, params)
        ids = tuple(o.id for o in bundle.orders)
        out.append(
            Assignment(
                courier_id=courier.id,
                order_ids=ids,
                dropoff_sequence=tuple(ids[i] for i in route.sequence),
                pickup_at=float(pairs.pickup[k]),
                cost=float(pairs.cost[k]),
                detail={
                    "start_at": float(pairs.start[k]),
                    "travel": float(pairs.travel[k]),
                    "wait": float(pairs.wait[k]),
                },
            )
        )
    # The most urgent first: callers that offer one at a time offer these first.
    out.sort(key=lambda a: a.pickup_at)
    lap("commit")
    timings["pairs_n"] = float(len(bundle_idx))
    timings["bundles_n"] = float(len(bundles))
    return out, timings
