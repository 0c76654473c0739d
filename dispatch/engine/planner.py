"""plan(): one dispatch decision over the orders waiting and the couriers who could take them."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from dispatch.engine.bundler import Bundle, build_bundles, target_bundle_size
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


def _candidate_pairs(
    bundles: Sequence[Bundle], couriers: Sequence[CourierView], candidates: Mapping[str, Sequence[str]] | None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Every (bundle, courier) pair to cost, as two index arrays: bundle-major, each bundle's
    couriers in its store's candidate order (every courier without `candidates`), keeping the
    couriers with room for the bundle and not excluded by any of its orders.

    Built with whole-array operations, not a few small ones per bundle: each small numpy call
    costs microseconds whatever its size, and a Meituan-sized batch has hundreds of bundles."""
    index = {c.id: i for i, c in enumerate(couriers)}
    capacity = np.fromiter((c.capacity for c in couriers), np.intp, len(couriers))
    # One candidate list per store, concatenated; each bundle points at its store's slice.
    slot: dict[str | None, int] = {}
    lists: list[npt.NDArray[np.intp]] = []
    bundle_slot = np.empty(len(bundles), np.intp)
    size = np.empty(len(bundles), np.intp)
    excluded_keys: list[int] = []
    for b, bundle in enumerate(bundles):
        key = None if candidates is None else bundle.store_id
        k = slot.get(key)
        if k is None:
            if candidates is None:
                ids: npt.NDArray[np.intp] = np.arange(len(couriers), dtype=np.intp)
            else:
                names = candidates.get(bundle.store_id, ())
                ids = np.fromiter((index[i] for i in names if i in index), np.intp)
            k = slot[key] = len(lists)
            lists.append(ids)
        bundle_slot[b] = k
        size[b] = len(bundle.orders)
        for o in bundle.orders:
            excluded_keys.extend(b * len(couriers) + index[c] for c in o.excluded_couriers if c in index)
    lengths = np.fromiter((len(ids) for ids in lists), np.intp, len(lists))
    starts = np.cumsum(lengths) - lengths
    flat = np.concatenate(lists) if lists else np.empty(0, np.intp)
    per_bundle = lengths[bundle_slot]
    rows = np.repeat(np.arange(len(bundles), dtype=np.intp), per_bundle)
    # Position of each pair in `flat`: its store's start plus its rank within the bundle.
    first_pair = np.cumsum(per_bundle) - per_bundle
    cols = flat[np.arange(len(rows), dtype=np.intp) - np.repeat(first_pair - starts[bundle_slot], per_bundle)]
    keep = capacity[cols] >= size[rows]
    if excluded_keys:
        keep &= ~np.isin(rows * len(couriers) + cols, np.asarray(excluded_keys, dtype=np.intp))
    return rows[keep], cols[keep]


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
    if target > 1 and params.unknown_ready_lead and params.scarce_drops_lead:
        # Couriers are scarce: an early courier waiting at the store is a courier lost.
        params = dataclasses.replace(params, unknown_ready_lead=0.0)
    ref_speed = statistics.median(c.meters_per_minute for c in couriers)
    bundles = build_bundles(orders, meters_per_minute=ref_speed, target_size=target, size_cap=size_cap, params=params)
    lap("bundles")

    bundle_idx, courier_idx = _candidate_pairs(bundles, couriers, candidates)
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
