"""Replaying an MDRP instance in simulated minutes.

Every `tick` minutes the dispatcher (`dispatch.engine.plan`, the live loop's library) sees the
orders placed and not yet committed and the couriers on shift (or starting soon) with where and
when their committed work ends; what it commits, the simulator executes under the instance's
rules: the courier leaves at once (or when its current work ends), cannot be diverted, picks up
at max(arrival + pickup_service/2, the bundle's true ready time), and drops off in sequence.

The naive baseline of issue 5 commits each order at its placement, alone, to the courier who can
reach its restaurant first.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from dispatch.engine import CourierView, OrderView, Params, plan
from dispatch.engine.types import Point
from dispatch.mdrp.evaluate import travel
from dispatch.mdrp.instance import Instance, Order
from dispatch.mdrp.solution import OrderRow, Solution, Stop

ReadyMode = Literal["exact", "estimated"]
Policy = Literal["engine", "naive"]


def mdrp_params(instance: Instance, **overrides: float | int | str) -> Params:
    """The engine's parameters for an MDRP instance: its service times, target and travel rule,
    and the values tuned on the public instances (see bench/mdrp_table.py)."""
    p = instance.params
    base: dict[str, float | int | str] = {
        "pickup_service": p.pickup_service,
        "dropoff_service": p.dropoff_service,
        "target_ctd": p.target_ctd,
        "travel_rounding": "ceil",
        "max_bundle_size": 4,
        "commit_horizon": 1.0,
    }
    base.update(overrides)
    return Params(**base)  # type: ignore[arg-type]


@dataclass(slots=True)
class _CourierState:
    id: str
    at: Point
    free_at: float
    on_time: int
    off_time: int
    stops: list[Stop] = field(default_factory=list)


@dataclass(slots=True)
class RunStats:
    dispatch_calls: int = 0
    dispatch_ms: list[float] = field(default_factory=list)
    rejected: int = 0  # commitments the simulator refused (pickup would fall after the shift)
    wall_s: float = 0.0


class _Replay:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.couriers = {
            c.id: _CourierState(c.id, c.start, float(c.on_time), c.on_time, c.off_time)
            for c in instance.couriers.values()
        }
        self.rows: dict[str, OrderRow] = {}
        self.bundles = 0

    def schedule(
        self, courier: _CourierState, orders: list[Order], sequence: list[Order], now: float
    ) -> list[Stop] | None:
        """The stops if `courier` is committed `orders` at `now`, or None if the pickup would
        fall after its shift."""
        p = self.instance.params
        mpm = p.meters_per_minute
        store = self.instance.restaurants[orders[0].restaurant]
        leave = max(now, courier.free_at)
        arrive = leave + travel(courier.at, store, mpm)
        pickup = max(arrive + p.pickup_service / 2, max(o.ready_at for o in orders))
        if pickup > courier.off_time:
            return None
        seq = len(courier.stops)
        stops = [
            Stop(
                courier.id,
                seq + 1,
                "pickup",
                orders[0].restaurant,
                arrive,
                pickup + p.pickup_service / 2,
                tuple(o.id for o in orders),
            )
        ]
        here, t = store, pickup + p.pickup_service / 2
        for o in sequence:
            t += travel(here, o.dropoff, mpm)
            stops.append(Stop(courier.id, len(stops) + seq + 1, "dropoff", o.id, t, t + p.dropoff_service, (o.id,)))
            t += p.dropoff_service
            here = o.dropoff
        return stops

    def commit(self, courier: _CourierState, orders: list[Order], stops: list[Stop], now: float) -> None:
        p = self.instance.params
        self.bundles += 1
        bundle = f"b{self.bundles}"
        pickup_at = stops[0].depart_at - p.pickup_service / 2
        for s in stops[1:]:
            dropoff_at = s.arrive_at + p.dropoff_service / 2
            self.rows[s.place] = OrderRow(s.place, courier.id, bundle, now, pickup_at, dropoff_at)
        courier.stops.extend(stops)
        courier.free_at = stops[-1].depart_at
        courier.at = self.instance.orders[stops[-1].place].dropoff

    def solution(self) -> Solution:
        rows = [self.rows.get(oid, OrderRow(oid)) for oid in self.instance.orders]
        stops = [s for c in self.couriers.values() for s in c.stops]
        return Solution(rows, stops)


def replay(
    instance: Instance,
    *,
    policy: Policy = "engine",
    ready: ReadyMode = "exact",
    params: Params | None = None,
    tick: float = 1.0,
    courier_lookahead: float = 30.0,
) -> tuple[Solution, RunStats]:
    started = time.perf_counter()
    stats = RunStats()
    sim = _Replay(instance)
    if policy == "naive":
        _naive(sim)
    else:
        _engine(sim, stats, params or mdrp_params(instance), ready, tick, courier_lookahead)
    stats.wall_s = time.perf_counter() - started
    return sim.solution(), stats


def _naive(sim: _Replay) -> None:
    mpm = sim.instance.params.meters_per_minute
    for order in sorted(sim.instance.orders.values(), key=lambda o: (o.placed_at, o.id)):
        store = sim.instance.restaurants[order.restaurant]
        best: tuple[float, str] | None = None
        for c in sim.couriers.values():
            arrive = max(order.placed_at, c.free_at) + travel(c.at, store, mpm)
            if max(arrive + sim.instance.params.pickup_service / 2, order.ready_at) > c.off_time:
                continue
            if best is None or (arrive, c.id) < best:
                best = (arrive, c.id)
        if best is not None:
            courier = sim.couriers[best[1]]
            stops = sim.schedule(courier, [order], [order], order.placed_at)
            if stops is not None:
                sim.commit(courier, [order], stops, order.placed_at)


def _engine(
    sim: _Replay, stats: RunStats, params: Params, ready: ReadyMode, tick: float, courier_lookahead: float
) -> None:
    inst = sim.instance
    mpm = inst.params.meters_per_minute
    by_placement = sorted(inst.orders.values(), key=lambda o: (o.placed_at, o.id))
    by_ready = sorted(inst.orders.values(), key=lambda o: (o.ready_at, o.id))
    pending: dict[str, Order] = {}
    next_placed = next_ready = 0
    # Estimated ready times: each restaurant's running mean preparation time, learnt as orders
    # become ready; before a restaurant has any, the mean over all restaurants so far.
    prep_sum: dict[str, float] = defaultdict(float)
    prep_n: dict[str, int] = defaultdict(int)
    all_sum, all_n = 0.0, 0
    default_prep = 15.0  # a prior before any order is ready (README: means 15-24 min by instance)
    end = max(c.off_time for c in inst.couriers.values())
    now = float(by_placement[0].placed_at) if by_placement else end
    while now <= end:
        while next_placed < len(by_placement) and by_placement[next_placed].placed_at <= now:
            o = by_placement[next_placed]
            pending[o.id] = o
            next_placed += 1
        while next_ready < len(by_ready) and by_ready[next_ready].ready_at <= now:
            o = by_ready[next_ready]
            prep = o.ready_at - o.placed_at
            prep_sum[o.restaurant] += prep
            prep_n[o.restaurant] += 1
            all_sum += prep
            all_n += 1
            next_ready += 1
        if not pending and next_placed >= len(by_placement):
            break
        if pending:
            views = []
            for o in pending.values():
                if ready == "exact" or o.ready_at <= now:
                    ready_at, known = float(o.ready_at), True
                else:
                    n = prep_n[o.restaurant]
                    mean = prep_sum[o.restaurant] / n if n else (all_sum / all_n if all_n else default_prep)
                    ready_at, known = max(now, o.placed_at + mean), False
                views.append(
                    OrderView(
                        id=o.id,
                        store_id=o.restaurant,
                        pickup=inst.restaurants[o.restaurant],
                        dropoff=o.dropoff,
                        placed_at=float(o.placed_at),
                        ready_at=ready_at,
                        ready_known=known,
                    )
                )
            couriers = [
                CourierView(
                    id=c.id,
                    position=c.at,
                    free_at=max(c.free_at, now),
                    meters_per_minute=mpm,
                    capacity=params.max_bundle_size,
                    off_at=float(c.off_time),
                )
                for c in sim.couriers.values()
                if c.off_time >= now and c.on_time <= now + courier_lookahead
            ]
            t0 = time.perf_counter()
            decided = plan(now, views, couriers, params)
            stats.dispatch_ms.append((time.perf_counter() - t0) * 1000)
            stats.dispatch_calls += 1
            for a in decided:
                courier = sim.couriers[a.courier_id]
                orders = [pending[i] for i in a.order_ids]
                sequence = [pending[i] for i in a.dropoff_sequence]
                stops = sim.schedule(courier, orders, sequence, now)
                if stops is None:
                    stats.rejected += 1
                    continue
                sim.commit(courier, orders, stops, now)
                for i in a.order_ids:
                    del pending[i]
        now += tick
