"""Bundles: orders one courier picks up together (at one store, or at a few stores close to each
other), and the drop-off order.

Rule (in the spirit of Reyes et al. 2018, "The Meal Delivery Routing Problem", section 4: bundle
more when orders outnumber couriers): the target size is ceil(orders / free couriers), bounded
by `max_bundle_size` and the largest courier capacity. Per store, orders sorted by ready time
join the previous bundle while their ready times are within `bundle_ready_window` and no order
of the bundle is delayed by more than `max_extra_delay` minutes against being carried alone.
When couriers are plentiful (target size 1) orders still pair up if it delays nobody by more
than `free_merge_delay`.

Multi-store bundles (`multi_store_radius_m > 0`; MDRP keeps 0, its same-restaurant rule): after
the per-store pass, bundles of different stores whose stores all lie within that radius of each
other merge, under the same size cap, ready window and delay bound (the bound measured against
each order carried alone, so drop-offs far apart never merge). The courier visits the stores in
the order their food is ready (the live courier app lists them by the same rule). The bundle's
`store` is the first pickup; its route starts there and rides on to the later stores (their
pickup service included) before the drop-offs, and its ready time is brought back by
`pickup_service` per later store, so each later store's food is ready when the courier gets
there: no plan ever waits at a second store, and the delay bound holds for every order.
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
    """From the (first) pickup moment: the drop-off sequence (indices into the bundle's orders),
    each order's drop-off time after that pickup, and when the courier leaves the last door."""

    sequence: tuple[int, ...]
    offsets: tuple[float, ...]  # offsets[i] = drop-off of orders[i] minus pickup
    duration: float


@dataclass(frozen=True, slots=True)
class Stop:
    """A store a multi-store bundle picks up at after its first one."""

    store_id: str
    point: Point


@dataclass(slots=True)
class Bundle:
    store_id: str
    store: Point  # the first pickup
    orders: list[OrderView]  # in pickup order: store by store
    routes: dict[float, Route] = field(default_factory=dict)  # by meters_per_minute
    # Multi-store bundles only: the later stores in visiting order, and per order the minutes its
    # pickup falls after the first pickup at the least (pickup service at each store before it).
    later_stores: tuple[Stop, ...] = ()
    leads: tuple[float, ...] = ()

    @property
    def ready_at(self) -> float:
        """When the courier may pick up at the first store so that every store's food is ready."""
        if not self.later_stores:
            return max(o.ready_at for o in self.orders)
        return max(o.ready_at - lead for o, lead in zip(self.orders, self.leads, strict=True))

    def planned_ready(self, params: Params) -> float:
        """The ready time the courier aims at: estimates are brought forward by
        `unknown_ready_lead`."""
        if not self.later_stores:
            return max(o.ready_at - (0.0 if o.ready_known else params.unknown_ready_lead) for o in self.orders)
        return max(
            o.ready_at - (0.0 if o.ready_known else params.unknown_ready_lead) - lead
            for o, lead in zip(self.orders, self.leads, strict=True)
        )

    @property
    def store_ids(self) -> tuple[str, ...]:
        return (self.store_id, *(s.store_id for s in self.later_stores))

    def route(self, meters_per_minute: float, params: Params) -> Route:
        cached = self.routes.get(meters_per_minute)
        if cached is None:
            drops = [o.dropoff for o in self.orders]
            if not self.later_stores:
                cached = best_route(self.store, drops, meters_per_minute, params)
            else:
                # Ride on from the first pickup to each later store (half a service to leave,
                # the ride, half a service to its pickup and half to leave it), then the doors.
                t = params.pickup_service / 2
                here = self.store
                for stop in self.later_stores:
                    t += travel_minutes(here, stop.point, meters_per_minute, params) + params.pickup_service
                    here = stop.point
                cached = best_route(here, drops, meters_per_minute, params, start=t)
            self.routes[meters_per_minute] = cached
        return cached


def _walk(
    store: Point, drops: Sequence[Point], seq: Sequence[int], mpm: float, params: Params, start: float | None = None
) -> Route:
    t = params.pickup_service / 2 if start is None else start
    here = store
    offsets = [0.0] * len(drops)
    for i in seq:
        t += travel_minutes(here, drops[i], mpm, params)
        offsets[i] = t + params.dropoff_service / 2
        t += params.dropoff_service
        here = drops[i]
    return Route(tuple(seq), tuple(offsets), t)


def best_route(
    store: Point, drops: Sequence[Point], meters_per_minute: float, params: Params, start: float | None = None
) -> Route:
    """The drop-off sequence with the least total drop-off time (sum of click-to-door), ties
    broken by the shorter trip. The courier leaves `store` at `start` minutes after the
    (first) pickup: half the pickup service unless given."""
    n = len(drops)
    if n <= EXHAUSTIVE_SEQUENCE_MAX:
        routes = (
            _walk(store, drops, perm, meters_per_minute, params, start) for perm in itertools.permutations(range(n))
        )
        return min(routes, key=lambda r: (sum(r.offsets), r.duration))
    seq: list[int] = []
    left = set(range(n))
    here = store
    while left:
        nxt = min(left, key=lambda i: (travel_minutes(here, drops[i], meters_per_minute, params), i))
        seq.append(nxt)
        left.remove(nxt)
        here = drops[nxt]
    return _walk(store, drops, seq, meters_per_minute, params, start)


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
    """Partition `orders` into bundles of one store each, then merge nearby stores' bundles when
    `params.multi_store_radius_m` allows it (see the module's rule)."""
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
    if params.multi_store_radius_m > 0:
        bundles = merge_nearby_stores(
            bundles, meters_per_minute=meters_per_minute, target_size=target_size, size_cap=size_cap, params=params
        )
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


def _extra_delay(bundle: Bundle, mpm: float, params: Params) -> float:
    """The most any order of `bundle` is dropped off later than if it were carried alone."""
    ready = bundle.ready_at
    route = bundle.route(mpm, params)
    return max(ready + off - _alone_drop(o, mpm, params) for o, off in zip(bundle.orders, route.offsets, strict=True))


def _stops(bundle: Bundle) -> list[tuple[Stop, list[OrderView]]]:
    """The bundle's pickups, store by store, in visiting order."""
    out: list[tuple[Stop, list[OrderView]]] = []
    for order in bundle.orders:
        if not out or out[-1][0].store_id != order.store_id:
            out.append((Stop(order.store_id, order.pickup), []))
        out[-1][1].append(order)
    return out


def _merged(a: Bundle, b: Bundle, params: Params) -> Bundle:
    """One bundle of both: stores visited in the order their food is ready (then by store id)."""
    stops = sorted([*_stops(a), *_stops(b)], key=lambda s: (max(o.ready_at for o in s[1]), s[0].store_id))
    orders = [o for _, group in stops for o in group]
    leads = tuple(j * params.pickup_service for j, (_, group) in enumerate(stops) for _ in group)
    first = stops[0][0]
    return Bundle(first.store_id, first.point, orders, later_stores=tuple(s for s, _ in stops[1:]), leads=leads)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What the merge tests read of a bundle, computed once per bundle."""

    points: tuple[Point, ...]
    store_ids: frozenset[str]
    size: int
    first_ready: float
    last_ready: float


def _shape(bundle: Bundle) -> _Shape:
    readies = [o.ready_at for o in bundle.orders]
    return _Shape(
        points=(bundle.store, *(s.point for s in bundle.later_stores)),
        store_ids=frozenset(bundle.store_ids),
        size=len(bundle.orders),
        first_ready=min(readies),
        last_ready=max(readies),
    )


def _may_merge(a: _Shape, b: _Shape, size_cap: int, params: Params) -> bool:
    """The cheap tests first: size, distinct stores, ready window, every store within the radius."""
    if a.size + b.size > size_cap or a.store_ids & b.store_ids:
        return False
    if max(a.last_ready, b.last_ready) - min(a.first_ready, b.first_ready) > params.bundle_ready_window:
        return False
    radius = params.multi_store_radius_m
    return all(math.hypot(p.x - q.x, p.y - q.y) <= radius for p in a.points for q in b.points)


def merge_nearby_stores(
    bundles: list[Bundle], *, meters_per_minute: float, target_size: int, size_cap: int, params: Params
) -> list[Bundle]:
    """Merge bundles of different stores whose stores all lie within `multi_store_radius_m` of
    each other, when the merged bundle keeps the size cap and the ready window and delays no
    order by more than the bound (`max_extra_delay` up to the target size, `free_merge_delay`
    beyond it) against carrying it alone. Greedy, least delay first, in rounds: a bundle made in
    one round may merge again in the next, so three stores can join. Each pair is judged once,
    and only against bundles in the neighbouring radius-wide cells. A merged bundle takes the
    place of its earlier part, so the output order stays stable."""
    radius = params.multi_store_radius_m
    loosest = max(params.max_extra_delay if target_size >= 2 else -math.inf, params.free_merge_delay)
    if loosest < params.pickup_service:
        return bundles  # no merge could pass (see the bound below): couriers are plentiful

    def cell(bundle: Bundle) -> tuple[int, int]:
        return math.floor(bundle.store.x / radius), math.floor(bundle.store.y / radius)

    items = dict(enumerate(bundles))
    place = {k: k for k in items}
    shapes = {k: _shape(b) for k, b in items.items()}
    cells: dict[tuple[int, int], set[int]] = defaultdict(set)
    for k, bundle in items.items():
        cells[cell(bundle)].add(k)
    fresh = list(items)
    while fresh:
        # Judge each new pair once: a fresh bundle against its neighbours (two fresh ones by the
        # smaller key).
        new = set(fresh)
        pairs: list[tuple[float, int, int, int, int, Bundle]] = []
        for k in fresh:
            cx, cy = cell(items[k])
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for m in cells.get((cx + dx, cy + dy), ()):
                        if m == k or (m in new and m < k) or not _may_merge(shapes[k], shapes[m], size_cap, params):
                            continue
                        size = shapes[k].size + shapes[m].size
                        limit = params.max_extra_delay if size <= target_size else params.free_merge_delay
                        # The first store's orders wait at least one more pickup service (the
                        # detour by the other store is no shorter than the straight ride).
                        if limit < params.pickup_service:
                            continue
                        merged = _merged(items[k], items[m], params)
                        extra = _extra_delay(merged, meters_per_minute, params)
                        if extra <= limit:
                            first, second = sorted((place[k], place[m]))
                            pairs.append((extra, first, second, k, m, merged))
        pairs.sort(key=lambda p: (p[0], p[1], p[2]))
        fresh = []
        for _extra, first, _second, k, m, merged in pairs:
            if k not in items or m not in items:
                continue
            for gone in (k, m):
                cells[cell(items[gone])].discard(gone)
                del items[gone]
            key = len(place)
            items[key], place[key], shapes[key] = merged, first, _shape(merged)
            cells[cell(merged)].add(key)
            fresh.append(key)
    return [items[k] for k in sorted(items, key=place.__getitem__)]
