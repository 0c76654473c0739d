"""ETA: prep time + the wait for a courier + travel, shown before ordering, promised at
placement and updated live while the order moves.

- Prep time is learned per store from its recent accepted -> ready times, shrunk towards a
  prior (the store's declared default prep time) worth PRIOR_WEIGHT orders, so a new store
  starts at its own estimate and a store with history converges on what it really does.
- Travel is the straight line stretched by DETOUR_FACTOR at the vehicle's speed.
- The wait for a courier comes from the current supply near the store: with more available
  couriers than orders waiting there, the order waits for the next free one to ride over; with
  fewer, for the queue ahead of it to clear. With no measurement at all it is
  PICKUP_ALLOWANCE_MINUTES, the first model's constant.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

if TYPE_CHECKING:
    from delivery.models import Order, Store

# The prior counts as this many observed orders; the last RECENT orders are used.
PRIOR_WEIGHT = 5
RECENT = 50
LEARN_DAYS = 7
MAX_WAIT_MINUTES = 60


def travel_minutes(distance_m: float, *, speed_kmh: float | None = None) -> int:
    metres_per_minute = (speed_kmh or settings.COURIER_SPEED_KMH) * 1000 / 60
    return math.ceil(distance_m * settings.DETOUR_FACTOR / metres_per_minute)


def eta_minutes(*, prep_minutes: float, distance_m: float) -> int:
    """Minutes to the door with no measurement of supply: prep, the pickup allowance, travel."""
    return math.ceil(prep_minutes) + settings.PICKUP_ALLOWANCE_MINUTES + travel_minutes(distance_m)


def prep_minutes_learned(*, store: Store) -> float:
    """The store's expected prep time: the mean of its last RECENT accepted -> ready times,
    shrunk towards its declared default (a Bayesian mean with PRIOR_WEIGHT pseudo-orders)."""
    from delivery.models import Order

    durations = list(
        Order.objects.filter(store=store, accepted_at__isnull=False, ready_at__isnull=False)
        .annotate(took=F("ready_at") - F("accepted_at"))
        .order_by("-ready_at")
        .values_list("took", flat=True)[:RECENT]
    )
    observed = [d.total_seconds() / 60 for d in durations if d is not None and d.total_seconds() >= 0]
    prior = float(store.default_prep_minutes)
    return float((PRIOR_WEIGHT * prior + sum(observed)) / (PRIOR_WEIGHT + len(observed)))


def prep_minutes_learned_many(*, stores: Iterable[Store]) -> dict[int, float]:
    """`prep_minutes_learned` for many stores in one query (the dispatcher's round): the same
    shrunk mean, over each store's orders made ready in the last LEARN_DAYS."""
    from delivery.models import Order

    by_id = {s.pk: s for s in stores}
    since = timezone.now() - timedelta(days=LEARN_DAYS)
    rows = (
        Order.objects.filter(store_id__in=by_id, accepted_at__isnull=False, ready_at__gte=since)
        .values("store_id")
        .annotate(total=Sum(F("ready_at") - F("accepted_at")), n=Count("pk"))
    )
    observed = {r["store_id"]: (r["total"].total_seconds() / 60, r["n"]) for r in rows if r["total"] is not None}
    result: dict[int, float] = {}
    for pk, store in by_id.items():
        total, n = observed.get(pk, (0.0, 0))
        result[pk] = float((PRIOR_WEIGHT * store.default_prep_minutes + total) / (PRIOR_WEIGHT + n))
    return result


def courier_wait_minutes(*, point: Point) -> float:
    """Expected minutes until a courier reaches a store at `point`, from the supply around it."""
    from django.db.models.expressions import RawSQL

    from dispatch.models import OrderDispatch
    from dispatch.selectors import couriers_available_near

    radius = settings.DISPATCH_RADIUS_M
    waiting = OrderDispatch.objects.filter(
        Q(state__in=[OrderDispatch.State.WAITING, OrderDispatch.State.POOL]),
        store__location__dwithin=(point, D(m=radius)),
    ).count()
    # Only what the estimate uses (speed and position as two floats): no model rows, no
    # geometry parsing; the KNN query and its order are couriers_available_near's own.
    nearby = list(
        couriers_available_near(point=point, radius_m=radius, limit=50)
        .annotate(lng=RawSQL("ST_X(position::geometry)", ()), lat=RawSQL("ST_Y(position::geometry)", ()))
        .values_list("speed_kmh", "lng", "lat")
    )
    if not nearby and not waiting:
        return float(settings.PICKUP_ALLOWANCE_MINUTES)
    if len(nearby) > waiting:
        speed_kmh, lng, lat = nearby[waiting]  # the first courier not already claimed by the queue
        distance = _metres(point, Point(lng, lat, srid=4326)) if lng is not None else 0.0
        return float(travel_minutes(distance, speed_kmh=speed_kmh))
    # More orders than couriers: the queue ahead clears one courier round at a time.
    rounds = (waiting - len(nearby) + 1) / max(1, len(nearby))
    return float(min(MAX_WAIT_MINUTES, settings.PICKUP_ALLOWANCE_MINUTES * (1 + rounds)))


# store id -> (monotonic expiry, declared prep, location, learned prep, courier wait)
_store_estimates: dict[int, tuple[float, int, tuple[float, float], float, float]] = {}
_STORE_ESTIMATES_MAX = 4096


def _store_estimate(store: Store) -> tuple[float, float]:
    """The store's learned prep time and courier wait, reused for ETA_STORE_ESTIMATE_SECONDS.

    Both are estimates over the last orders and the couriers around (one more order or a courier
    moving changes them by seconds), and they cost three queries: at a busy store every order
    read them anew. A change of the store's declared prep time or location is seen at once."""
    ttl = settings.ETA_STORE_ESTIMATE_SECONDS
    now = time.monotonic()
    where = (store.location.x, store.location.y)
    kept = _store_estimates.get(store.pk)
    if kept is not None and kept[0] > now and kept[1] == store.default_prep_minutes and kept[2] == where:
        return kept[3], kept[4]
    prep = prep_minutes_learned(store=store)
    wait = courier_wait_minutes(point=store.location)
    if ttl > 0:
        if len(_store_estimates) >= _STORE_ESTIMATES_MAX:
            _store_estimates.clear()  # bounded; refilled by the next orders
        _store_estimates[store.pk] = (now + ttl, store.default_prep_minutes, where, prep, wait)
    return prep, wait


def eta_minutes_for_store(*, store: Store, distance_m: float) -> int:
    """The refined ETA before ordering: learned prep (plus the store's busy-mode minutes, read
    fresh) or the supply-based courier wait, whichever is longer, then travel."""
    learned, wait = _store_estimate(store)
    prep = learned + store.busy_extra_minutes
    return math.ceil(max(prep, wait)) + travel_minutes(distance_m)


def order_eta_live(
    *, order: Order, now: datetime, courier_point: Point | None, courier_speed_kmh: float | None = None
) -> datetime | None:
    """When the order should reach the door, from where it is now: None once it is closed.

    picked up: the courier's ride to the door; with a courier riding to the store: their ride,
    or the food if it takes longer, then the ride to the door; still looking for a courier:
    the remaining prep or the expected courier wait, then the ride."""
    from delivery.models import Order

    S = Order.Status
    if order.status not in (S.PAID, S.ACCEPTED, S.PREPARING, S.READY, S.PICKED_UP):
        return None
    store = order.store
    to_door_m = _metres(store.location, order.delivery_point)
    if order.status == S.PICKED_UP:
        if courier_point is None:
            return max(order.eta_at, now)
        minutes = travel_minutes(_metres(courier_point, order.delivery_point), speed_kmh=courier_speed_kmh)
        return now + timedelta(minutes=minutes)
    # The store's estimates as placement reads them (kept a few seconds): a tracking page's
    # every snapshot needs them while no courier is assigned.
    learned = wait = 0.0
    if courier_point is None or not order.prep_minutes:
        learned, wait = _store_estimate(store)
    prep_left = 0.0
    if order.ready_at is None:
        started = order.accepted_at or now
        prep = float(order.prep_minutes) if order.prep_minutes else learned
        prep_left = max(0.0, prep - (now - started).total_seconds() / 60)
    if courier_point is not None:
        reach = float(travel_minutes(_metres(courier_point, store.location), speed_kmh=courier_speed_kmh))
    else:
        reach = wait
    minutes = math.ceil(max(prep_left, reach)) + travel_minutes(to_door_m, speed_kmh=courier_speed_kmh)
    return now + timedelta(minutes=minutes)


def _metres(a: Point, b: Point) -> float:
    # An equirectangular approximation: exact to well under 1 % across a city, and free.
    mean_lat = math.radians((a.y + b.y) / 2)
    dx = (b.x - a.x) * 111_320 * math.cos(mean_lat)
    dy = (b.y - a.y) * 110_540
    return math.hypot(dx, dy)
