"""The dispatch library: plan() over plain data (no database)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from dispatch.engine import Assignment, CourierView, OrderView, Params, Point, plan
from dispatch.engine.bundler import best_route
from dispatch.engine.matcher import match
from dispatch.engine.travel import travel_minutes

MPM = 300.0  # metres per minute
P = Params(travel_rounding="ceil")


def order(
    oid: str, store: str, sx: float, dx: float, *, placed: float = 0.0, ready: float = 0.0, **kw: Any
) -> OrderView:
    return OrderView(
        id=oid, store_id=store, pickup=Point(sx, 0.0), dropoff=Point(dx, 0.0), placed_at=placed, ready_at=ready, **kw
    )


def courier(cid: str, x: float, *, free: float = 0.0, cap: int = 3, off: float | None = None) -> CourierView:
    return CourierView(id=cid, position=Point(x, 0.0), free_at=free, meters_per_minute=MPM, capacity=cap, off_at=off)


def check_contract(result: list[Assignment], orders: list[OrderView], couriers: list[CourierView]) -> None:
    by_id = {o.id: o for o in orders}
    caps = {c.id: c.capacity for c in couriers}
    seen_orders = [oid for a in result for oid in a.order_ids]
    assert len(seen_orders) == len(set(seen_orders))
    seen_couriers = [a.courier_id for a in result]
    assert len(seen_couriers) == len(set(seen_couriers))
    for a in result:
        assert len(a.order_ids) <= caps[a.courier_id]
        assert sorted(a.dropoff_sequence) == sorted(a.order_ids)
        assert len({by_id[o].store_id for o in a.order_ids}) == 1
        for oid in a.order_ids:
            assert a.courier_id not in by_id[oid].excluded_couriers


def test_travel_rounding_ceil_and_continuous() -> None:
    assert travel_minutes(Point(0, 0), Point(301, 0), 300, P) == 2.0
    assert travel_minutes(Point(0, 0), Point(300, 0), 300, P) == 1.0
    assert travel_minutes(Point(0, 0), Point(450, 0), 300, Params()) == 1.5


def test_nearest_courier_gets_a_lone_order() -> None:
    orders = [order("o1", "s1", 3000, 6000, ready=0)]
    couriers = [courier("far", 0), courier("near", 2700)]
    result = plan(0.0, orders, couriers, P)
    assert [(a.courier_id, a.order_ids) for a in result] == [("near", ("o1",))]
    assert result[0].pickup_at == 1 + 2  # one minute's ride, half the pickup service


def test_batch_matcher_beats_greedy() -> None:
    # Greedy order by order would give o1 the courier at 1000 (closest to both stores) and send
    # the other far; the assignment serves both well.
    orders = [order("o1", "s1", 0, 500), order("o2", "s2", 1500, 2000)]
    couriers = [courier("a", 1000), courier("b", -300)]
    result = plan(0.0, orders, couriers, P)
    got = {a.order_ids[0]: a.courier_id for a in result}
    assert got == {"o1": "b", "o2": "a"}


def test_same_store_orders_bundle_when_couriers_are_scarce() -> None:
    orders = [order("o1", "s1", 0, 3000), order("o2", "s1", 0, 3300), order("o3", "s1", 0, 2700, ready=2)]
    couriers = [courier("a", 300)]
    result = plan(0.0, orders, couriers, P)
    assert len(result) == 1
    assert sorted(result[0].order_ids) == ["o1", "o2", "o3"]
    assert result[0].dropoff_sequence == ("o3", "o1", "o2")  # nearest door first


def test_bundle_never_exceeds_capacity() -> None:
    orders = [order(f"o{i}", "s1", 0, 1000 + i) for i in range(5)]
    couriers = [courier("a", 0, cap=2)]
    result = plan(0.0, orders, couriers, P)
    check_contract(result, orders, couriers)
    assert len(result) == 1 and len(result[0].order_ids) == 2


def test_excluded_courier_never_gets_the_order() -> None:
    orders = [order("o1", "s1", 0, 1000, excluded_couriers=frozenset({"near"}))]
    couriers = [courier("near", 0), courier("far", 2000)]
    result = plan(0.0, orders, couriers, P)
    assert [a.courier_id for a in result] == ["far"]


def test_priority_and_age_win_the_scarce_courier() -> None:
    couriers = [courier("a", 0)]
    fresh = order("fresh", "s1", 0, 1000, placed=10)
    refused = order("refused", "s2", 0, 1000, placed=10, priority=2)
    assert plan(10.0, [fresh, refused], couriers, P)[0].order_ids == ("refused",)
    old = order("old", "s2", 0, 1000, placed=0)
    assert plan(10.0, [fresh, old], couriers, P)[0].order_ids == ("old",)


def test_commitment_waits_for_food_far_from_ready() -> None:
    orders = [order("soon", "s1", 0, 1000, ready=3), order("later", "s2", 0, 1000, ready=30)]
    couriers = [courier("a", 0), courier("b", 0)]
    result = plan(0.0, orders, couriers, Params(travel_rounding="ceil", commit_horizon=5))
    assert [a.order_ids for a in result] == [("soon",)]


def test_busy_courier_is_not_committed_before_free() -> None:
    orders = [order("o1", "s1", 0, 1000)]
    result = plan(0.0, orders, [courier("busy", 0, free=20)], Params(travel_rounding="ceil", commit_horizon=5))
    assert result == []


def test_no_pickup_after_the_shift() -> None:
    orders = [order("o1", "s1", 3000, 4000)]
    assert plan(0.0, orders, [courier("a", 0, off=5)], P) == []  # 10 minutes away
    assert len(plan(0.0, orders, [courier("a", 0, off=15)], P)) == 1


def test_candidates_restrict_couriers_per_store() -> None:
    orders = [order("o1", "s1", 0, 1000)]
    couriers = [courier("near", 0), courier("far", 3000)]
    result = plan(0.0, orders, couriers, P, candidates={"s1": ["far"]})
    assert [a.courier_id for a in result] == ["far"]
    assert plan(0.0, orders, couriers, P, candidates={}) == []


def test_best_route_is_optimal_sequence() -> None:
    rng = random.Random(5)
    store = Point(0, 0)
    drops = [Point(rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)) for _ in range(4)]
    route = best_route(store, drops, MPM, P)
    best = min(_total(store, drops, perm) for perm in itertools.permutations(range(4)))
    assert sum(route.offsets) == best


def _total(store: Point, drops: list[Point], perm: tuple[int, ...]) -> float:
    t, here, total = P.pickup_service / 2, store, 0.0
    for i in perm:
        t += travel_minutes(here, drops[i], MPM, P)
        total += t + P.dropoff_service / 2
        t += P.dropoff_service
        here = drops[i]
    return total


def test_matcher_sparse_equals_dense_optimum() -> None:
    rng = np.random.default_rng(1)
    n_rows, n_cols = 150, 400  # above the dense threshold: the sparse solver runs
    rows, cols = [], []
    for r in range(n_rows):
        for c in rng.choice(n_cols, 8, replace=False):
            rows.append(r)
            cols.append(int(c))
    r_arr, c_arr = np.array(rows), np.array(cols)
    costs = rng.uniform(-100, 10, len(rows))
    got = match(n_rows, n_cols, r_arr, c_arr, costs)
    total = sum(costs[k] for _, _, k in got)
    # Reference: the dense Hungarian method with a zero-cost "not now" column per row.
    dense = np.full((n_rows, n_cols + n_rows), np.inf)
    dense[r_arr, c_arr] = costs
    dense[np.arange(n_rows), n_cols + np.arange(n_rows)] = 0.0
    ri, ci = linear_sum_assignment(dense)
    assert total == pytest.approx(dense[ri, ci].sum())
    assert len({c for _, c, _ in got}) == len(got)


def test_random_batches_keep_the_contract() -> None:
    rng = random.Random(7)
    for _ in range(30):
        orders = [
            order(
                f"o{i}",
                f"s{rng.randrange(6)}",
                rng.uniform(0, 5000),
                rng.uniform(0, 5000),
                placed=rng.uniform(0, 10),
                ready=rng.uniform(0, 25),
                priority=rng.randrange(3),
                excluded_couriers=frozenset({f"c{rng.randrange(10)}"}),
            )
            for i in range(rng.randrange(1, 40))
        ]
        # Same store position for one store id.
        stores = {o.store_id: o.pickup for o in orders}
        orders = [
            OrderView(
                id=o.id,
                store_id=o.store_id,
                pickup=stores[o.store_id],
                dropoff=o.dropoff,
                placed_at=o.placed_at,
                ready_at=o.ready_at,
                priority=o.priority,
                excluded_couriers=o.excluded_couriers,
            )
            for o in orders
        ]
        couriers = [
            courier(f"c{i}", rng.uniform(0, 5000), free=rng.uniform(0, 15), cap=rng.randrange(1, 4))
            for i in range(rng.randrange(1, 12))
        ]
        result = plan(10.0, orders, couriers, P)
        check_contract(result, orders, couriers)


def test_estimated_ready_time_is_aimed_at_early_unless_couriers_are_scarce() -> None:
    guess = order("o1", "s1", 300, 1000, ready=20, ready_known=False)
    lead = Params(travel_rounding="ceil", commit_horizon=0, unknown_ready_lead=10, scarce_drops_lead=True)
    one = [courier("a", 0)]
    # One minute from the store: leaving at 9 reaches it for the brought-forward ready time 10.
    assert plan(9.0, [guess], one, lead) != []
    assert plan(9.0, [guess], one, Params(travel_rounding="ceil", commit_horizon=0)) == []
    # Three orders for one courier: scarce, so no lead (and nothing to commit yet).
    others = [order(f"x{i}", f"s{i + 2}", 300, 1000, ready=20, ready_known=False) for i in range(2)]
    assert plan(9.0, [guess, *others], one, lead) == []


# Multi-store bundles: stores within 300 m of each other may share a courier.
MULTI = Params(travel_rounding="ceil", multi_store_radius_m=300.0)


def test_orders_of_two_nearby_stores_share_a_courier() -> None:
    # Two stores 200 m apart, both diners near x = 3,000: one courier for the two.
    orders = [order("o1", "s1", 0, 3000, ready=0), order("o2", "s2", 200, 3100, ready=2)]
    couriers = [courier("a", -300)]

    result = plan(0.0, orders, couriers, MULTI)

    assert [a.order_ids for a in result] == [("o1", "o2")]  # s1's food is ready first: picked up first
    assert sorted(result[0].dropoff_sequence) == ["o1", "o2"]
    # Radius 0 keeps one store per bundle: the courier takes one order.
    assert [len(a.order_ids) for a in plan(0.0, orders, couriers, P)] == [1]


def test_stores_farther_apart_than_the_radius_never_share_a_courier() -> None:
    orders = [order("o1", "s1", 0, 3000), order("o2", "s2", 2000, 3100)]
    result = plan(0.0, orders, [courier("a", 1000)], MULTI)
    assert [len(a.order_ids) for a in result] == [1]


def test_a_later_stores_food_is_ready_when_the_courier_gets_there() -> None:
    orders = [order("o1", "s1", 0, 3000, ready=0), order("o2", "s2", 200, 3100, ready=8)]

    result = plan(0.0, orders, [courier("a", 0)], MULTI)

    assert [a.order_ids for a in result] == [("o1", "o2")]
    # The first pickup is brought back by one pickup service only: at s2 (one more minute's
    # ride and a full service later) the food is ready, and nobody waits there.
    assert result[0].pickup_at == 8 - MULTI.pickup_service
    assert result[0].pickup_at + MULTI.pickup_service + travel_minutes(Point(0, 0), Point(200, 0), MPM, MULTI) >= 8


def test_multi_store_bundles_respect_the_delay_bound() -> None:
    # Nearby stores, diners in opposite directions: carried together, one of them would arrive
    # far later than alone.
    orders = [order("o1", "s1", 0, 3000), order("o2", "s2", 200, -3000)]
    couriers = [courier("a", 100)]
    assert [len(a.order_ids) for a in plan(0.0, orders, couriers, MULTI)] == [1]
    loose = dataclasses.replace(MULTI, max_extra_delay=60.0)
    assert [len(a.order_ids) for a in plan(0.0, orders, couriers, loose)] == [2]


def test_multi_store_bundles_respect_capacity_and_bundle_size() -> None:
    orders = [order("o1", "s1", 0, 3000), order("o2", "s2", 200, 3100), order("o3", "s3", 100, 3050)]
    assert [len(a.order_ids) for a in plan(0.0, orders, [courier("a", 0, cap=1)], MULTI)] == [1]
    two = dataclasses.replace(MULTI, max_bundle_size=2)
    assert [len(a.order_ids) for a in plan(0.0, orders, [courier("a", 0)], two)] == [2]
    # Three stores fit four orders, once the bound allows two extra stops.
    three = plan(0.0, orders, [courier("a", 0)], dataclasses.replace(MULTI, max_extra_delay=30.0))
    assert [sorted(a.order_ids) for a in three] == [["o1", "o2", "o3"]]


def test_random_batches_keep_the_contract_with_nearby_stores() -> None:
    rng = random.Random(11)
    for _ in range(20):
        spots = {f"s{k}": Point(rng.uniform(0, 1500), rng.uniform(0, 1500)) for k in range(8)}
        orders = [
            OrderView(
                id=f"o{i}",
                store_id=(s := f"s{rng.randrange(8)}"),
                pickup=spots[s],
                dropoff=Point(rng.uniform(0, 5000), rng.uniform(0, 5000)),
                placed_at=rng.uniform(0, 10),
                ready_at=rng.uniform(0, 25),
            )
            for i in range(rng.randrange(2, 30))
        ]
        couriers = [courier(f"c{i}", rng.uniform(0, 5000), cap=rng.randrange(1, 4)) for i in range(rng.randrange(1, 6))]
        result = plan(10.0, orders, couriers, MULTI)
        by_id = {o.id: o for o in orders}
        caps = {c.id: c.capacity for c in couriers}
        seen = [oid for a in result for oid in a.order_ids]
        assert len(seen) == len(set(seen))
        for a in result:
            assert len(a.order_ids) <= min(caps[a.courier_id], MULTI.max_bundle_size)
            points = [by_id[o].pickup for o in a.order_ids]
            assert all(math.hypot(p.x - q.x, p.y - q.y) <= MULTI.multi_store_radius_m for p in points for q in points)
            # Pickup order: store by store, never back to a store already left.
            stores = [by_id[o].store_id for o in a.order_ids]
            assert stores == sorted(stores, key=stores.index)


def test_radius_zero_plans_exactly_as_before() -> None:
    # The same batches with the radius at 0 and with stores too far apart to merge.
    rng = random.Random(3)
    orders = [order(f"o{i}", f"s{i % 4}", 1000.0 * (i % 4), rng.uniform(0, 5000)) for i in range(12)]
    couriers = [courier(f"c{i}", rng.uniform(0, 5000)) for i in range(3)]
    far_apart = dataclasses.replace(MULTI, multi_store_radius_m=1.0)
    assert plan(0.0, orders, couriers, P) == plan(0.0, orders, couriers, far_apart)
