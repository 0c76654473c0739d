"""Data the dispatch library works on. Times are minutes (floats) on the caller's clock; positions
are planar metres. Identifiers are strings so that MDRP ids ("o12") and database ids fit alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order waiting for a courier."""

    id: str
    store_id: str
    pickup: Point  # the store
    dropoff: Point  # the diner
    placed_at: float
    # Best knowledge of when the food is ready: the exact time if `ready_known`, else an estimate
    # (the store's running mean prep time), which the live loop refreshes each tick.
    ready_at: float
    ready_known: bool = True
    # Raised each time an offer of this order is declined or times out: late and refused orders
    # go first.
    priority: int = 0
    # Couriers who declined it or let the offer lapse: never offered it again.
    excluded_couriers: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CourierView:
    """A courier who could take work: idle now, or free at `free_at` where their route ends."""

    id: str
    position: Point  # where the courier is (or will be, at `free_at`)
    free_at: float  # when they can start towards a new store (now, if idle)
    meters_per_minute: float
    capacity: int = 1  # orders carried at once
    off_at: float | None = None  # end of shift: no pickup after it


@dataclass(frozen=True, slots=True)
class Params:
    pickup_service: float = 4.0  # minutes at the store (half before pickup, half after)
    dropoff_service: float = 4.0  # minutes at the door (half before drop-off, half after)
    target_ctd: float = 40.0  # target click-to-door, minutes
    max_bundle_size: int = 4
    # Only commit a plan whose pickup is this close (minutes) to now: later ones wait for a
    # better courier or bundle at the next tick.
    commit_horizon: float = 10.0
    # Let bundles include orders from different stores this close to each other (metres); 0 keeps
    # MDRP's same-restaurant rule.
    multi_store_radius_m: float = 0.0
    # Travel minutes = distance × detour_factor / meters_per_minute, rounded up to whole minutes
    # with "ceil" (MDRP's rule: ceil(distance / meters_per_minute)) or left continuous ("none",
    # the live system).
    travel_rounding: Literal["ceil", "none"] = "none"
    detour_factor: float = 1.0
    # Cost of a (bundle, courier) pair, in minutes (see costs.py): each order's minutes from now
    # to its drop-off, plus these weights on the courier's idle wait at the store, the courier
    # time the trip consumes, and each minute an order ends beyond target_ctd; minus a reward per
    # order served that grows with the order's age and priority (so late and refused orders win
    # scarce couriers). Leaving a bundle for the next call costs 0.
    wait_weight: float = 1.0
    busy_weight: float = 0.5
    late_weight: float = 1.0
    serve_reward: float = 1000.0
    age_weight: float = 1.0
    priority_weight: float = 30.0
    # Bundling (bundler.py): orders of one store whose ready times lie within this window may
    # share a courier; bundles grow beyond pairs only when orders outnumber free couriers; a
    # bundle may delay its earliest order's drop-off by at most max_extra_delay minutes.
    bundle_ready_window: float = 10.0
    max_extra_delay: float = 10.0
    free_merge_delay: float = 0.0
    # For orders whose ready time is only an estimate (`ready_known=False`), plan to reach the
    # store this many minutes before it: food is often ready before the mean says, and a courier
    # who waits a little costs less than food that waits for a courier.
    unknown_ready_lead: float = 0.0
    scarce_drops_lead: bool = False  # no lead while orders outnumber free couriers
    # Couriers counted as "free" for the orders-per-courier ratio: free within this many minutes.
    supply_horizon: float = 10.0


@dataclass(frozen=True, slots=True)
class Assignment:
    """One committed decision: a courier picks up `order_ids` (in this pickup order) and delivers
    them in `dropoff_sequence`."""

    courier_id: str
    order_ids: tuple[str, ...]
    dropoff_sequence: tuple[str, ...]
    # Planned pickup time at the first store (the bundle's ready time or the courier's arrival).
    pickup_at: float
    cost: float = 0.0
    detail: dict[str, float] = field(default_factory=dict)
