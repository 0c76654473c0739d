"""Our own MDRP evaluator, written from the rules in `../shared/benchmarks/mdrp/README.md` and
SOLUTION_FORMAT.md (the upstream script is not used): checks the eight rules on a solution and
recomputes the metrics from the solution alone."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from dispatch.engine.types import Point
from dispatch.mdrp.instance import Instance
from dispatch.mdrp.solution import OrderRow, Solution, Stop

EPS = 1e-6

# The eight rules, by the code a violation carries.
RULES = {
    "assigned_once": "each order is assigned at most once",
    "assigned_after_placement": "no assignment before the order's placement",
    "pickup_before_off": "pickups happen no later than the courier's off_time",
    "pickup_after_ready": "a bundle is picked up no earlier than its latest ready time",
    "delivery_sequence": "deliveries follow the assigned sequence, by the courier who picked up",
    "moves": "courier moves are consistent (travel times, service times, no teleporting)",
    "at_restaurant": "the courier is at the orders' restaurant at pickup",
    "at_customer": "the courier is at the customer at drop-off",
}


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def travel(a: Point, b: Point, meters_per_minute: float) -> float:
    """The instance's travel rule: ceil(euclidean metres / metres per minute)."""
    return float(math.ceil(math.hypot(a.x - b.x, a.y - b.y) / meters_per_minute))


def check(instance: Instance, solution: Solution) -> list[Violation]:
    """Every broken rule, one Violation each (empty: the solution is valid)."""
    v: list[Violation] = []
    p = instance.params
    rows: dict[str, OrderRow] = {}
    for r in solution.orders:
        if r.order not in instance.orders:
            v.append(Violation("assigned_once", f"unknown order {r.order} in orders.csv"))
            continue
        if r.order in rows:
            v.append(Violation("assigned_once", f"order {r.order} has two rows"))
        rows[r.order] = r
        if r.courier is None:
            if r.pickup_at is not None or r.dropoff_at is not None:
                v.append(Violation("delivery_sequence", f"order {r.order} has times but no courier"))
            continue
        if r.courier not in instance.couriers:
            v.append(Violation("assigned_once", f"order {r.order} names an unknown courier {r.courier}"))
            continue
        if r.assigned_at is None or r.pickup_at is None or r.dropoff_at is None:
            v.append(Violation("delivery_sequence", f"order {r.order} lacks a time"))
            continue
        if r.assigned_at < instance.orders[r.order].placed_at - EPS:
            v.append(Violation("assigned_after_placement", f"order {r.order} assigned at {r.assigned_at}"))

    pickups: dict[str, tuple[str, Stop]] = {}
    dropoffs: dict[str, tuple[str, Stop]] = {}
    by_courier: dict[str, list[Stop]] = defaultdict(list)
    for s in solution.stops:
        by_courier[s.courier].append(s)
    for cid, stops in by_courier.items():
        courier = instance.couriers.get(cid)
        if courier is None:
            v.append(Violation("moves", f"stops of an unknown courier {cid}"))
            continue
        stops.sort(key=lambda s: s.seq)
        if [s.seq for s in stops] != list(range(1, len(stops) + 1)):
            v.append(Violation("moves", f"courier {cid}: stop numbers are not 1..{len(stops)}"))
        here, free = courier.start, float(courier.on_time)
        carrying: set[str] = set()
        for s in stops:
            where = _place(instance, s)
            if where is None:
                v.append(Violation("at_restaurant" if s.kind == "pickup" else "at_customer", f"{cid}#{s.seq}: {s}"))
                continue
            # Leaving for a pickup needs the assignment first: the courier waits where it is.
            leave = free
            if s.kind == "pickup":
                for oid in s.orders:
                    row = rows.get(oid)
                    if row is not None and row.assigned_at is not None:
                        leave = max(leave, row.assigned_at)
            if s.arrive_at < leave + travel(here, where, p.meters_per_minute) - EPS:
                v.append(Violation("moves", f"{cid}#{s.seq} arrives at {s.arrive_at}, too soon"))
            if s.kind == "pickup":
                _check_pickup(instance, s, rows, pickups, carrying, v)
            elif s.kind == "dropoff":
                _check_dropoff(instance, s, rows, dropoffs, carrying, v)
            else:
                v.append(Violation("moves", f"{cid}#{s.seq}: unknown kind {s.kind}"))
            here, free = where, s.depart_at
        if carrying:
            v.append(Violation("delivery_sequence", f"courier {cid} never drops off {sorted(carrying)}"))

    for oid, r in rows.items():
        if r.courier is None:
            if oid in pickups or oid in dropoffs:
                v.append(Violation("delivery_sequence", f"order {oid} has stops but no courier in orders.csv"))
            continue
        if oid not in pickups or oid not in dropoffs:
            v.append(Violation("delivery_sequence", f"order {oid} is not both picked up and dropped off"))
            continue
        (pc, ps), (dc, ds) = pickups[oid], dropoffs[oid]
        if pc != r.courier or dc != r.courier:
            v.append(Violation("delivery_sequence", f"order {oid}: courier {r.courier}, stops by {pc}/{dc}"))
        if r.pickup_at is not None and not (
            ps.arrive_at + p.pickup_service / 2 - EPS <= r.pickup_at <= ps.depart_at - p.pickup_service / 2 + EPS
        ):
            v.append(Violation("moves", f"order {oid} picked up at {r.pickup_at} outside its stop's service"))
        if r.courier in instance.couriers and r.pickup_at is not None:
            if r.pickup_at > instance.couriers[r.courier].off_time + EPS:
                v.append(Violation("pickup_before_off", f"order {oid} picked up at {r.pickup_at} after off_time"))
            if r.pickup_at < instance.orders[oid].ready_at - EPS:
                v.append(Violation("pickup_after_ready", f"order {oid} picked up at {r.pickup_at} before ready"))
        if r.dropoff_at is not None and abs(r.dropoff_at - (ds.arrive_at + p.dropoff_service / 2)) > EPS:
            v.append(Violation("at_customer", f"order {oid} dropped at {r.dropoff_at}, its stop says otherwise"))
    for oid in set(pickups) | set(dropoffs):
        if oid not in rows:
            v.append(Violation("delivery_sequence", f"order {oid} has stops but no row in orders.csv"))
    return v


def _place(instance: Instance, s: Stop) -> Point | None:
    if s.kind == "pickup":
        return instance.restaurants.get(s.place)
    o = instance.orders.get(s.place)
    return o.dropoff if o is not None else None


def _check_pickup(
    instance: Instance,
    s: Stop,
    rows: dict[str, OrderRow],
    pickups: dict[str, tuple[str, Stop]],
    carrying: set[str],
    v: list[Violation],
) -> None:
    p = instance.params
    if not s.orders:
        v.append(Violation("delivery_sequence", f"{s.courier}#{s.seq}: a pickup of nothing"))
    for oid in s.orders:
        order = instance.orders.get(oid)
        if order is None:
            v.append(Violation("assigned_once", f"{s.courier}#{s.seq}: unknown order {oid}"))
            continue
        if oid in pickups:
            v.append(Violation("assigned_once", f"order {oid} picked up twice"))
        pickups[oid] = (s.courier, s)
        carrying.add(oid)
        if order.restaurant != s.place:
            v.append(Violation("at_restaurant", f"order {oid} of {order.restaurant} picked up at {s.place}"))
        r = rows.get(oid)
        if r is not None and r.pickup_at is not None:
            ready = max(instance.orders[o].ready_at for o in s.orders if o in instance.orders)
            if r.pickup_at < ready - EPS:
                detail = f"order {oid} picked up at {r.pickup_at}, bundle ready {ready}"
                v.append(Violation("pickup_after_ready", detail))
            if s.depart_at < r.pickup_at + p.pickup_service / 2 - EPS:
                v.append(Violation("moves", f"{s.courier}#{s.seq} leaves before the pickup service ends"))


def _check_dropoff(
    instance: Instance,
    s: Stop,
    rows: dict[str, OrderRow],
    dropoffs: dict[str, tuple[str, Stop]],
    carrying: set[str],
    v: list[Violation],
) -> None:
    p = instance.params
    if s.orders != (s.place,):
        v.append(Violation("at_customer", f"{s.courier}#{s.seq} at {s.place} drops {s.orders}"))
    for oid in s.orders:
        if oid in dropoffs:
            v.append(Violation("assigned_once", f"order {oid} dropped off twice"))
        dropoffs[oid] = (s.courier, s)
        if oid not in carrying:
            v.append(Violation("delivery_sequence", f"{s.courier}#{s.seq} drops {oid} it does not carry"))
        carrying.discard(oid)
    if s.depart_at < s.arrive_at + p.dropoff_service - EPS:
        v.append(Violation("moves", f"{s.courier}#{s.seq} leaves the door before the service ends"))


def _stats(prefix: str, values: list[float]) -> dict[str, float | None]:
    if not values:
        return {f"{prefix}_{k}": None for k in ("mean", "sd", "min", "p10", "median", "p90", "max")}
    a = np.asarray(values, dtype=float)
    return {
        f"{prefix}_mean": float(a.mean()),
        f"{prefix}_sd": float(a.std()),
        f"{prefix}_min": float(a.min()),
        f"{prefix}_p10": float(np.percentile(a, 10)),
        f"{prefix}_median": float(np.median(a)),
        f"{prefix}_p90": float(np.percentile(a, 90)),
        f"{prefix}_max": float(a.max()),
    }


def metrics(instance: Instance, solution: Solution) -> dict[str, Any]:
    """The README's metrics, from the solution alone (times from orders.csv, moves from
    stops.csv)."""
    p = instance.params
    delivered = [r for r in solution.orders if r.courier is not None and r.dropoff_at is not None]
    ctd = [r.dropoff_at - instance.orders[r.order].placed_at for r in delivered if r.dropoff_at is not None]
    rtp = [r.pickup_at - instance.orders[r.order].ready_at for r in delivered if r.pickup_at is not None]
    rtd = [r.dropoff_at - instance.orders[r.order].ready_at for r in delivered if r.dropoff_at is not None]
    per_courier: dict[str, int] = defaultdict(int)
    for r in delivered:
        assert r.courier is not None  # noqa: S101 (narrowing for the type checker)
        per_courier[r.courier] += 1
    by_courier: dict[str, list[Stop]] = defaultdict(list)
    for s in solution.stops:
        by_courier[s.courier].append(s)
    utilisation: list[float] = []
    pay_total = 0.0
    on_guarantee = 0
    courier_hours = 0.0
    for cid, c in instance.couriers.items():
        here = c.start
        work = 0.0
        for s in sorted(by_courier.get(cid, []), key=lambda s: s.seq):
            where = _place(instance, s) or here
            work += travel(here, where, p.meters_per_minute)
            work += p.pickup_service if s.kind == "pickup" else p.dropoff_service
            here = where
        shift = c.off_time - c.on_time
        utilisation.append(work / shift if shift > 0 else 0.0)
        hours = shift / 60
        courier_hours += hours
        guaranteed = p.pay_per_hour * hours
        earned = p.pay_per_order * per_courier.get(cid, 0)
        pay_total += max(earned, guaranteed)
        on_guarantee += guaranteed > earned
    bundles = sum(1 for s in solution.stops if s.kind == "pickup")
    n = len(instance.orders)
    out: dict[str, Any] = {
        "instance": instance.name,
        "orders": n,
        "delivered": len(delivered),
        "pct_undelivered": 100.0 * (n - len(delivered)) / n if n else 0.0,
        **_stats("ctd", ctd),
        "ctd_overage_mean": float(np.mean([max(0.0, x - p.target_ctd) for x in ctd])) if ctd else None,
        **_stats("ready_to_door", rtd),
        **_stats("rtp", rtp),
        **_stats("utilisation", utilisation),
        "total_pay": pay_total,
        "cost_per_order": pay_total / len(delivered) if delivered else None,
        "share_on_guarantee": on_guarantee / len(instance.couriers) if instance.couriers else 0.0,
        "orders_per_courier_hour": len(delivered) / courier_hours if courier_hours else 0.0,
        "bundles_per_courier_hour": bundles / courier_hours if courier_hours else 0.0,
        "bundles": bundles,
        "orders_per_bundle": len(delivered) / bundles if bundles else None,
    }
    return out
