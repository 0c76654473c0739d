"""A run's whole solution and its files (`orders.csv`, `stops.csv`, `metrics.json`), as
`../shared/benchmarks/mdrp/SOLUTION_FORMAT.md` defines them."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORDER_COLUMNS = ["order", "courier", "bundle", "assigned_at", "pickup_at", "dropoff_at"]
STOP_COLUMNS = ["courier", "seq", "kind", "place", "arrive_at", "depart_at", "orders"]


@dataclass(frozen=True, slots=True)
class OrderRow:
    order: str
    courier: str | None = None
    bundle: str | None = None
    assigned_at: float | None = None
    pickup_at: float | None = None
    dropoff_at: float | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    courier: str
    seq: int
    kind: str  # "pickup" or "dropoff"
    place: str  # restaurant id or order id
    arrive_at: float
    depart_at: float
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Solution:
    orders: list[OrderRow]
    stops: list[Stop]


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _opt(v: str) -> float | None:
    return float(v) if v.strip() else None


def write_solution(out: Path, solution: Solution, metrics: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "orders.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(ORDER_COLUMNS)
        for r in solution.orders:
            w.writerow(
                [r.order, r.courier or "", r.bundle or "", _num(r.assigned_at), _num(r.pickup_at), _num(r.dropoff_at)]
            )
    with (out / "stops.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(STOP_COLUMNS)
        for s in solution.stops:
            w.writerow([s.courier, s.seq, s.kind, s.place, _num(s.arrive_at), _num(s.depart_at), ";".join(s.orders)])
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def read_solution(folder: Path) -> Solution:
    with (folder / "orders.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != ORDER_COLUMNS:
            raise ValueError(f"orders.csv header {reader.fieldnames} != {ORDER_COLUMNS}")
        orders = [
            OrderRow(
                order=r["order"],
                courier=r["courier"] or None,
                bundle=r["bundle"] or None,
                assigned_at=_opt(r["assigned_at"]),
                pickup_at=_opt(r["pickup_at"]),
                dropoff_at=_opt(r["dropoff_at"]),
            )
            for r in reader
        ]
    with (folder / "stops.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != STOP_COLUMNS:
            raise ValueError(f"stops.csv header {reader.fieldnames} != {STOP_COLUMNS}")
        stops = [
            Stop(
                courier=r["courier"],
                seq=int(r["seq"]),
                kind=r["kind"],
                place=r["place"],
                arrive_at=float(r["arrive_at"]),
                depart_at=float(r["depart_at"]),
                orders=tuple(o for o in r["orders"].split(";") if o),
            )
            for r in reader
        ]
    return Solution(orders, stops)
