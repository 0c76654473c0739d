"""The cost of each candidate (bundle, courier) pair, computed over arrays.

For a courier who can start at `start = max(now, free_at)`, reaches the store after `travel`
and picks up at `pickup = max(start + travel + pickup_service/2, bundle ready)`:

    cost = Σ_orders (drop-off - now) + late_weight · Σ_orders max(0, drop-off - placed - target_ctd)
         + wait_weight · (courier idle at the store) + busy_weight · (courier minutes the trip takes)
         - Σ_orders (serve_reward + age_weight · age + priority_weight · priority)

Leaving a bundle for a later call costs 0, so with a large `serve_reward` every bundle that can
be served is, and among scarce couriers the older, refused and late orders win. A pair is
infeasible when the pickup would fall after the courier's shift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dispatch.engine.bundler import Bundle
from dispatch.engine.travel import travel_minutes_array
from dispatch.engine.types import CourierView, Params

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class PairCosts:
    """Feasible pairs: row i is bundle `bundle[i]` with courier `courier[i]`."""

    bundle: IntArray
    courier: IntArray
    cost: FloatArray
    start: FloatArray  # when the courier can leave for the store
    travel: FloatArray  # minutes to the store
    pickup: FloatArray
    wait: FloatArray  # courier idle at the store before pickup


def pair_costs(
    now: float,
    bundles: Sequence[Bundle],
    couriers: Sequence[CourierView],
    bundle_idx: IntArray,
    courier_idx: IntArray,
    params: Params,
) -> PairCosts:
    n = len(bundle_idx)
    cx = np.fromiter((c.position.x for c in couriers), float, len(couriers))[courier_idx]
    cy = np.fromiter((c.position.y for c in couriers), float, len(couriers))[courier_idx]
    free = np.fromiter((c.free_at for c in couriers), float, len(couriers))[courier_idx]
    mpm = np.fromiter((c.meters_per_minute for c in couriers), float, len(couriers))[courier_idx]
    off = np.fromiter((np.inf if c.off_at is None else c.off_at for c in couriers), float, len(couriers))[courier_idx]
    sx = np.fromiter((b.store.x for b in bundles), float, len(bundles))[bundle_idx]
    sy = np.fromiter((b.store.y for b in bundles), float, len(bundles))[bundle_idx]
    ready = np.fromiter((b.ready_at for b in bundles), float, len(bundles))[bundle_idx]
    size = np.fromiter((len(b.orders) for b in bundles), float, len(bundles))[bundle_idx]
    # Per-bundle constants: the reward for serving it, and Σ(placed + target) for lateness.
    reward = np.fromiter(
        (
            sum(
                params.serve_reward + params.age_weight * (now - o.placed_at) + params.priority_weight * o.priority
                for o in b.orders
            )
            for b in bundles
        ),
        float,
        len(bundles),
    )[bundle_idx]

    start = np.maximum(now, free)
    travel = travel_minutes_array(cx, cy, sx, sy, mpm, params)
    earliest = start + travel + params.pickup_service / 2
    pickup = np.maximum(earliest, ready)
    wait = pickup - earliest

    # Route terms depend on the courier's speed only: one route per (bundle, speed), laid out as
    # padded tables so every pair of a speed is costed in one array operation.
    sum_offsets = np.empty(n)
    duration = np.empty(n)
    late = np.empty(n)
    width = max((len(b.orders) for b in bundles), default=1)
    for speed in np.unique(mpm):
        sel = np.flatnonzero(mpm == speed)
        used = np.unique(bundle_idx[sel])
        table_sum = np.zeros(len(bundles))
        table_dur = np.zeros(len(bundles))
        # slack[b, i] = drop-off offset of order i - its placement - target: late minutes once the
        # pickup time is added; padding is -inf so it never counts.
        slack = np.full((len(bundles), width), -np.inf)
        for b in used.tolist():
            bundle = bundles[b]
            route = bundle.route(float(speed), params)
            table_sum[b] = sum(route.offsets)
            table_dur[b] = route.duration
            for i, (o, off_i) in enumerate(zip(bundle.orders, route.offsets, strict=True)):
                slack[b, i] = off_i - o.placed_at - params.target_ctd
        rows = bundle_idx[sel]
        sum_offsets[sel] = table_sum[rows]
        duration[sel] = table_dur[rows]
        late[sel] = np.maximum(0.0, pickup[sel, None] + slack[rows]).sum(axis=1)
    drop_sum = size * (pickup - now) + sum_offsets
    busy = pickup + duration - start
    cost = drop_sum + params.late_weight * late + params.wait_weight * wait + params.busy_weight * busy - reward
    ok = pickup <= off
    return PairCosts(
        bundle=bundle_idx[ok],
        courier=courier_idx[ok],
        cost=cost[ok],
        start=start[ok],
        travel=travel[ok],
        pickup=pickup[ok],
        wait=wait[ok],
    )
