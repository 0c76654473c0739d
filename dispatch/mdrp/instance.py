"""Reading an MDRP instance folder (tab-separated, one header line, integers; see the README
beside the instances)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from dispatch.engine.types import Point


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    dropoff: Point
    placed_at: int
    restaurant: str
    ready_at: int


@dataclass(frozen=True, slots=True)
class Courier:
    id: str
    start: Point
    on_time: int
    off_time: int


@dataclass(frozen=True, slots=True)
class InstanceParams:
    meters_per_minute: float
    pickup_service: float
    dropoff_service: float
    target_ctd: float
    max_ctd: float
    pay_per_order: float
    pay_per_hour: float


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    params: InstanceParams
    restaurants: dict[str, Point]
    orders: dict[str, Order]
    couriers: dict[str, Courier]


class InstanceError(ValueError):
    pass


def _rows(path: Path, columns: int) -> list[list[str]]:
    if not path.is_file():
        raise InstanceError(f"missing {path}")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    body = [r for r in rows[1:] if r and any(cell.strip() for cell in r)]
    for r in body:
        if len(r) < columns:
            raise InstanceError(f"{path.name}: expected {columns} columns, got {r!r}")
    return body


def read_instance(folder: Path) -> Instance:
    folder = Path(folder)
    (p,) = _rows(folder / "instance_parameters.txt", 7)
    params = InstanceParams(*(float(v) for v in p[:7]))
    restaurants = {r[0]: Point(float(r[1]), float(r[2])) for r in _rows(folder / "restaurants.txt", 3)}
    orders: dict[str, Order] = {}
    for r in _rows(folder / "orders.txt", 6):
        if r[4] not in restaurants:
            raise InstanceError(f"order {r[0]} names an unknown restaurant {r[4]}")
        orders[r[0]] = Order(r[0], Point(float(r[1]), float(r[2])), int(r[3]), r[4], int(r[5]))
    couriers = {
        r[0]: Courier(r[0], Point(float(r[1]), float(r[2])), int(r[3]), int(r[4]))
        for r in _rows(folder / "couriers.txt", 5)
    }
    return Instance(folder.name, params, restaurants, orders, couriers)


def write_instance(folder: Path, instance: Instance) -> None:
    """Write `instance` in the MDRP text format (for generated test and scale instances)."""
    folder.mkdir(parents=True, exist_ok=True)
    p = instance.params

    def num(v: float) -> str:
        return str(int(v)) if float(v).is_integer() else str(v)

    def put(name: str, header: list[str], rows: list[list[str]]) -> None:
        with (folder / name).open("w", newline="") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    put(
        "instance_parameters.txt",
        [
            "meters_per_minute",
            "pickup service minutes",
            "dropoff service minutes",
            "target click-to-door",
            "maximum click-to-door",
            "pay per order",
            "guaranteed pay per hour",
        ],
        [
            [
                num(p.meters_per_minute),
                num(p.pickup_service),
                num(p.dropoff_service),
                num(p.target_ctd),
                num(p.max_ctd),
                num(p.pay_per_order),
                num(p.pay_per_hour),
            ]
        ],
    )
    put(
        "restaurants.txt",
        ["restaurant", "x", "y"],
        [[rid, num(pt.x), num(pt.y)] for rid, pt in instance.restaurants.items()],
    )
    put(
        "orders.txt",
        ["order", "x", "y", "placement_time", "restaurant", "ready_time"],
        [
            [o.id, num(o.dropoff.x), num(o.dropoff.y), str(o.placed_at), o.restaurant, str(o.ready_at)]
            for o in instance.orders.values()
        ],
    )
    put(
        "couriers.txt",
        ["courier", "x", "y", "on_time", "off_time"],
        [[c.id, num(c.start.x), num(c.start.y), str(c.on_time), str(c.off_time)] for c in instance.couriers.values()],
    )
