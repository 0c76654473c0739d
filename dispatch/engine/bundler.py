"""Bundles: orders one courier picks up together at one store, and the drop-off order.

Rule (in the spirit of Reyes et al. 2018, "The Meal Delivery Routing Problem", section 4: bundle
more when orders outnumber couriers): the target size is ceil(orders / free couriers), bounded
by `max_bundle_size` and the largest courier capacity. Per store, orders sorted by ready time
join the previous bundle while their ready times are within `bundle_ready_window` and no order
of the bundle is delayed by more than `max_extra_delay` minutes against being carried alone.
When couriers are plentiful (target size 1) orders still pair up if it delays nobody by more
than `free_merge_delay`.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from dispatch.engine.travel import travel_minutes
from dispatch.engine.types import OrderView, Params, Point

# Exhaustive drop-off sequencing up to this size (5! = 120 sequences), nearest neighbour above.
EXHAUSTIVE_SEQUENCE_MAX = 5


@dataclass(frozen=True, slots=True)
class Route:
    """From the pickup moment: the drop-off sequence (indices into the bundle's orders), each
    order's drop-off time after pickup, and when the courier leaves the last door."""

    sequence: tuple[int, ...]
    offsets: tuple[float, ...]  # offsets[i] = drop-off of orders[i] minus pickup
    duration: float


@dataclass(slots=True)
class Bundle:
    store_id: str
    store: Point
    orders: list[OrderView]
    routes: dict[float, Route] = field(default_factory=dict)  # by meters_per_minute

    @property
    def ready_at(self) -> float:
        return max(o.ready_at for o in self.orders)

    def route(self, meters_per_minute: float, params: Params) -> Route:
        cached = self.routes.get(meters_per_minute)
        if cached is None:
            cached = best_route(self.store, [o.dropoff for o in self.orders], meters_per_minute, params)
            self.routes[meters_per_minute] = cached
        return cached


def _walk(store: Point, drops: Sequence[Point], seq: Sequence[int], mpm: float, params: Params) -> Route:
    t = params.pickup_service / 2
    here = store
    offsets = [0.0] * len(drops)
    for i in seq:
        t += travel_minutes(here, drops[i], mpm, params)
        offsets[i] = t + params.dropoff_service / 2
        t += params.dropoff_service
        here = drops[i]
    return Route(tuple(seq), tuple(offsets), t)


def best_route(store: Point, drops: Sequence[Point], meters_per_minute: float, params: Params) -> Route:
    """The drop-off sequence with the least total drop-off time (sum of click-to-door), ties
    broken by the shorter trip."""
    n = len(drops)
    if n <= EXHAUSTIVE_SEQUENCE_MAX:
        routes = (_walk(store, drops, perm, meters_per_minute, params) for perm in itertools.permutations(range(n)))
        return min(routes, key=lambda r: (sum(r.offsets), r.duration))
    seq: list[int] = []
    left = set(range(n))
    here = store
    while left:
        nxt = min(left, key=lambda i: (travel_minutes(here, drops[i], meters_per_minute, params), i))
        seq.append(nxt)
        left.remove(nxt)
        here = drops[nxt]
    return _walk(store, drops, seq, meters_per_minute, params)


def _alone_drop(order: OrderView, mpm: float, params: Params) -> float:
    return (
        order.ready_at
        + params.pickup_service / 2
        + travel_minutes(order.pickup, order.dropoff, mpm, params)
        + params.dropoff_service / 2
    )


def target_bundle_size(n_orders: int, n_free_couriers: int, params: Params, max_capacity: int) -> int:
    cap = max(1, min(params.max_bundle_size, max_capacity))
    return max(1, min(cap, math.ceil(n_orders / max(1, n_free_couriers))))


def build_bundles(
    orders: Sequence[OrderView],
    *,
    meters_per_minute: float,
    target_size: int,
    size_cap: int,
    params: Params,
) -> list[Bundle]:
    """Partition `orders` into bundles of one store each (see the module's rule)."""
    by_store: dict[str, list[OrderView]] = defaultdict(list)
    for order in orders:
        by_store[order.store_id].append(order)
    bundles: list[Bundle] = []
    for store_id, store_orders in by_store.items():
        store_orders.sort(key=lambda o: (o.ready_at, o.placed_at, o.id))
        current: Bundle | None = None
        for order in store_orders:
            if current is not None and _may_join(current, order, meters_per_minute, target_size, size_cap, params):
                current.orders.append(order)
                current.routes.clear()
                continue
            current = Bundle(store_id, order.pickup, [order])
            bundles.append(current)
    return bundles


def _may_join(bundle: Bundle, order: OrderView, mpm: float, target_size: int, size_cap: int, params: Params) -> bool:
    size = len(bundle.orders)
    if size >= size_cap:
        return False
    if order.ready_at - bundle.orders[0].ready_at > params.bundle_ready_window:
        return False
    limit = params.max_extra_delay if size < target_size else params.free_merge_delay
    merged = [*bundle.orders, order]
    ready = max(o.ready_at for o in merged)
    route = best_route(bundle.store, [o.dropoff for o in merged], mpm, params)
    extra = max(ready + off - _alone_drop(o, mpm, params) for o, off in zip(merged, route.offsets, strict=True))
    return extra <= limit
