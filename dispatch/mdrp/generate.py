"""Instances in the MDRP format that the public copy lacks: small random ones for tests, and
large ones made by placing several public instances side by side (each city shifted 100 km east
of the previous one, so they never share a courier trip) to test the replay at scale."""

from __future__ import annotations

import random

from dispatch.engine.types import Point
from dispatch.mdrp.instance import Courier, Instance, InstanceParams, Order

# The parameters every public instance shares (README beside the instances).
PUBLIC_PARAMS = InstanceParams(320.0, 4.0, 4.0, 40.0, 90.0, 10.0, 15.0)


def random_instance(
    *, seed: int, orders: int = 40, restaurants: int = 6, couriers: int = 8, span_m: int = 6000, minutes: int = 180
) -> Instance:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    rest = {f"r{i + 1}": Point(rng.randrange(span_m), rng.randrange(span_m)) for i in range(restaurants)}
    names = list(rest)
    order_map: dict[str, Order] = {}
    for i in range(orders):
        placed = rng.randrange(minutes - 60)
        oid = f"o{i + 1}"
        order_map[oid] = Order(
            oid,
            Point(rng.randrange(span_m), rng.randrange(span_m)),
            placed,
            rng.choice(names),
            placed + rng.randrange(5, 25),
        )
    courier_map: dict[str, Courier] = {}
    for i in range(couriers):
        on = rng.randrange(0, 30)
        cid = f"c{i + 1}"
        courier_map[cid] = Courier(cid, Point(rng.randrange(span_m), rng.randrange(span_m)), on, minutes)
    return Instance(f"random{seed}", PUBLIC_PARAMS, rest, order_map, courier_map)


def side_by_side(instances: list[Instance], name: str, shift_m: float = 100_000.0) -> Instance:
    """One instance made of `instances` next to each other; ids get a prefix per part (`o12` of
    the second part becomes `o2_12`). All parts must share the travel speed."""
    speeds = {i.params.meters_per_minute for i in instances}
    if len(speeds) != 1:
        raise ValueError(f"parts travel at different speeds: {sorted(speeds)}")
    rest: dict[str, Point] = {}
    orders: dict[str, Order] = {}
    couriers: dict[str, Courier] = {}
    for k, inst in enumerate(instances):
        dx = k * shift_m

        def rid(old: str, k: int = k) -> str:
            return f"{old[0]}{k + 1}_{old[1:]}"

        for r, pt in inst.restaurants.items():
            rest[rid(r)] = Point(pt.x + dx, pt.y)
        for o in inst.orders.values():
            orders[rid(o.id)] = Order(
                rid(o.id), Point(o.dropoff.x + dx, o.dropoff.y), o.placed_at, rid(o.restaurant), o.ready_at
            )
        for c in inst.couriers.values():
            couriers[rid(c.id)] = Courier(rid(c.id), Point(c.start.x + dx, c.start.y), c.on_time, c.off_time)
    return Instance(name, instances[0].params, rest, orders, couriers)
