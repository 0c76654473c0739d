"""The dispatcher's round for one zone: gather the orders looking for a courier, find candidate
couriers per store in PostGIS, hand both to the dispatch library (`dispatch.engine.plan`:
bundles, costs, assignment, commitment) and turn each assignment into an offer, under the zone's
lease. Plus the per-tick housekeeping: new orders enter dispatch, lapsed offers return.

The library works in planar metres and minutes: positions are projected around the zone's
centre (equirectangular; under 1 % error across a city) and times are minutes from now. Travel
speed is the courier's vehicle speed divided by DETOUR_FACTOR, since the library measures
straight lines and streets are not straight.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from delivery.eta import prep_minutes_learned_many
from delivery.models import Order
from dispatch.engine import Assignment, CourierView, OrderView, Params, Point, plan
from dispatch.models import DispatchZone, Offer, OrderDispatch
from dispatch.selectors import Candidate, candidates_for_stores
from dispatch.services.leases import LeaseHold, lease_acquire
from dispatch.services.offers import (
    DISPATCHABLE_ORDER_STATES,
    ORDER_ENDED_STATES,
    dispatch_status_push,
    offer_create,
    offers_expire,
    order_dispatch_ensure,
    order_dispatch_withdraw,
)

DS = OrderDispatch.State
CITY_ZONE = "city"
# Live bundles may combine stores this close (metres); MDRP keeps its same-restaurant rule.
LIVE_PARAMS = Params(multi_store_radius_m=300.0)

PlanFn = Callable[..., list[Assignment]]


@dataclass(frozen=True)
class Zone:
    key: str
    zone_id: int | None  # None: the implicit city-wide zone (no DispatchZone defined)


@dataclass
class RoundReport:
    zone: str
    orders: int = 0
    couriers: int = 0
    offers: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class TickReport:
    expired: int = 0
    enqueued: int = 0
    rounds: list[RoundReport] = field(default_factory=list)
    zones_held: list[str] = field(default_factory=list)


def zones_list() -> list[Zone]:
    zones = [Zone(key=f"zone-{pk}", zone_id=pk) for pk in DispatchZone.objects.values_list("pk", flat=True)]
    return zones or [Zone(key=CITY_ZONE, zone_id=None)]


def orders_enqueue() -> int:
    """Orders the store has accepted enter dispatch (one row each, idempotent); dispatch rows of
    orders that were cancelled or rejected meanwhile close. Returns how many entered."""
    fresh = Order.objects.filter(status__in=DISPATCHABLE_ORDER_STATES, dispatch__isnull=True, courier__isnull=True)
    entered = 0
    # The fields the status push reads come with the order (not deferred: one query each).
    for order in fresh.only("pk", "store_id", "diner_id", "number", "ready_at"):
        with transaction.atomic():
            dispatch = order_dispatch_ensure(order=order)
            dispatch_status_push(dispatch)
        entered += 1
    # A backstop: order_transition's hook withdraws at once; rows left behind by any other
    # path (a bulk update) are withdrawn here, offers and tasks included.
    stale = OrderDispatch.objects.filter(
        state__in=[DS.WAITING, DS.POOL, DS.OFFERED, DS.ASSIGNED], order__status__in=ORDER_ENDED_STATES
    )
    for order_id in stale.values_list("order_id", flat=True):
        order_dispatch_withdraw(order_id=order_id, actor=None, reason="order ended")
    return entered


class Projection:
    """lat/lng <-> planar metres around a centre (equirectangular)."""

    def __init__(self, lng0: float, lat0: float) -> None:
        self.lng0, self.lat0 = lng0, lat0
        self.kx = 111_320 * math.cos(math.radians(lat0))
        self.ky = 110_540

    def __call__(self, lng: float, lat: float) -> Point:
        return Point((lng - self.lng0) * self.kx, (lat - self.lat0) * self.ky)


def _minutes(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else (at - now).total_seconds() / 60


def _zone_store_ids(zone_id: int) -> list[int]:
    # Raw SQL: the ORM cannot test a geography point against a geometry area in one lookup.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id FROM delivery_store s JOIN dispatch_dispatchzone z ON ST_Covers(z.area, s.location::geometry)"
            " WHERE z.id = %s",
            [zone_id],
        )
        return [row[0] for row in cursor.fetchall()]


def _waiting(zone: Zone) -> list[OrderDispatch]:
    rows = OrderDispatch.objects.filter(state=DS.WAITING, order__status__in=DISPATCHABLE_ORDER_STATES)
    if zone.zone_id is not None:
        rows = rows.filter(store_id__in=_zone_store_ids(zone.zone_id))
    # Coordinates come as plain floats from SQL, and the store's zone polygon is never loaded:
    # parsing geometries into GEOS objects was most of a round's time (bench/dispatch_batch.py).
    return list(
        rows.select_related("order", "store")
        .defer("store__zone", "store__location", "order__delivery_point")
        .annotate(
            store_lng=RawSQL("ST_X(delivery_store.location::geometry)", ()),
            store_lat=RawSQL("ST_Y(delivery_store.location::geometry)", ()),
            drop_lng=RawSQL("ST_X(delivery_order.delivery_point::geometry)", ()),
            drop_lat=RawSQL("ST_Y(delivery_order.delivery_point::geometry)", ()),
        )
    )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one decision, back on after. A round
    allocates a few hundred thousand objects (model instances, views, routes), enough to set off
    a full collection of the whole process now and then: ~100 ms of CPU landing inside the
    decision, on a ~50 ms budget (bench/dispatch_batch.py). Nearly all of a round's garbage is
    freed by reference counting anyway; the few cycles wait for the first collection after the
    round, outside the decision."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dispatch_round(*, zone: Zone, lease: LeaseHold | None, plan_fn: PlanFn | None = None) -> RoundReport:
    """One round for one zone: candidates, plan, offers. Offers are written under `lease`
    (fenced); an order or courier that moved meanwhile is skipped, never double-booked."""
    report = RoundReport(zone=zone.key)
    started = time.perf_counter()
    with collector_paused():
        waiting = _waiting(zone)
        report.orders = len(waiting)
        if not waiting:
            return report
        now = timezone.now()
        stores = {d.store_id: (d.store_id, d.store_lng, d.store_lat) for d in waiting}  # type: ignore[attr-defined]
        lng0 = sum(s[1] for s in stores.values()) / len(stores)
        lat0 = sum(s[2] for s in stores.values()) / len(stores)
        project = Projection(lng0, lat0)
        loaded = time.perf_counter()
        found = candidates_for_stores(
            stores=list(stores.values()), radius_m=settings.DISPATCH_RADIUS_M, limit=settings.DISPATCH_CANDIDATES
        )
        searched = time.perf_counter()
        orders, couriers, candidates, by_id = build_views(waiting=waiting, found=found, now=now, project=project)
        report.couriers = len(couriers)
        assignments = (plan_fn or plan)(0.0, orders, couriers, LIVE_PARAMS, candidates)
        planned = time.perf_counter()
        views = {o.id: o for o in orders}
    for a in assignments:
        cid = int(a.courier_id)
        offer = offer_create(
            courier_id=cid,
            order_ids=[int(o) for o in a.order_ids],
            sequence=[int(o) for o in a.dropoff_sequence],
            pickup_distance_m=pickup_distance_m(a, views=views, found=found, by_id=by_id),
            dropoff_distance_m=dropoff_distance_m(a, views=views),
            lease=lease,
        )
        report.offers += offer is not None
    done = time.perf_counter()
    report.timings_ms = {
        "load": (loaded - started) * 1000,
        "candidates": (searched - loaded) * 1000,
        "plan": (planned - searched) * 1000,
        "offers": (done - planned) * 1000,
    }
    return report


def pickup_distance_m(
    assignment: Assignment,
    *,
    views: dict[str, OrderView],
    found: dict[int, list[Candidate]],
    by_id: dict[int, Candidate],
) -> float:
    """Metres the courier rides before the first drop-off leg: to the first store (the
    candidate search's distance to that store), then on to each later store of a multi-store
    bundle (straight lines, as the search measures). The offer's earnings grow with it."""
    cid = int(assignment.courier_id)
    stops: list[OrderView] = []
    for oid in assignment.order_ids:
        view = views[oid]
        if not stops or stops[-1].store_id != view.store_id:
            stops.append(view)
    first = next((c for c in found.get(int(stops[0].store_id), ()) if c.courier_id == cid), by_id.get(cid))
    metres = first.distance_m if first is not None else 0.0
    for a, b in itertools.pairwise(stops):
        metres += math.hypot(a.pickup.x - b.pickup.x, a.pickup.y - b.pickup.y)
    return metres


def dropoff_distance_m(assignment: Assignment, *, views: dict[str, OrderView]) -> float:
    """Metres from the last store through the doors in the planned drop-off order (straight
    lines, as pickup_distance_m measures): the trip the courier rides, not the sum of each
    order's own store-to-door distance (two orders to one building are one ride)."""
    here = views[assignment.order_ids[-1]].pickup  # order_ids are in pickup order
    metres = 0.0
    for oid in assignment.dropoff_sequence:
        door = views[oid].dropoff
        metres += math.hypot(here.x - door.x, here.y - door.y)
        here = door
    return metres


def build_views(
    *,
    waiting: Sequence[OrderDispatch],
    found: dict[int, list[Candidate]],
    now: datetime,
    project: Projection,
) -> tuple[list[OrderView], list[CourierView], dict[str, list[str]], dict[int, Candidate]]:
    """The library's views of the waiting orders and their candidate couriers."""
    prep = prep_minutes_learned_many(stores=[d.store for d in waiting])
    orders: list[OrderView] = []
    for d in waiting:
        order = d.order
        ready = _minutes(order.ready_at, now)
        known = ready is not None
        if ready is None:
            started = _minutes(order.accepted_at or order.placed_at, now) or 0.0
            ready = max(0.0, started + (order.prep_minutes or prep[d.store_id]))
        orders.append(
            OrderView(
                id=str(order.pk),
                store_id=str(d.store_id),
                pickup=project(d.store_lng, d.store_lat),  # type: ignore[attr-defined]
                dropoff=project(d.drop_lng, d.drop_lat),  # type: ignore[attr-defined]
                placed_at=_minutes(order.placed_at, now) or 0.0,
                ready_at=ready,
                ready_known=known,
                priority=d.priority,
                excluded_couriers=frozenset(str(c) for c in d.excluded_couriers),
            )
        )
    by_id: dict[int, Candidate] = {}
    candidates: dict[str, list[str]] = {}
    for store_id, cands in found.items():
        candidates[str(store_id)] = [str(c.courier_id) for c in cands]
        for c in cands:
            by_id.setdefault(c.courier_id, c)
    detour = settings.DETOUR_FACTOR  # read once: a lazy settings lookup per courier adds up
    couriers = [
        CourierView(
            id=str(c.courier_id),
            position=project(c.lng, c.lat),
            free_at=0.0,
            meters_per_minute=c.speed_kmh * 1000 / 60 / detour,
            capacity=c.capacity,
        )
        for c in by_id.values()
    ]
    return orders, couriers, candidates, by_id


def dispatch_tick(*, holder: str, plan_fn: PlanFn | None = None) -> TickReport:
    """One tick of a dispatcher process: lapse overdue offers, enqueue new orders, then a round
    for every zone whose lease this process holds or can take. Safe with several processes."""
    report = TickReport(expired=offers_expire(), enqueued=orders_enqueue())
    for zone in zones_list():
        hold = lease_acquire(zone_key=zone.key, holder=holder, seconds=settings.DISPATCHER_LEASE_SECONDS)
        if hold is None:
            continue
        report.zones_held.append(zone.key)
        report.rounds.append(dispatch_round(zone=zone, lease=hold, plan_fn=plan_fn))
    return report


def pending_offers_count() -> int:
    return Offer.objects.filter(status=Offer.Status.PENDING).count()
