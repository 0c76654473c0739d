"""Which stores deliver to a drop-off point, at what distance, fee and ETA.

The spatial part runs in PostGIS: `zone` (geometry, lon/lat) is filtered with ST_Covers on its
GiST index, so a point exactly on a zone's edge counts as inside, and the distance from the
store's pin is measured on the spheroid (geography). Hours and fee bands are then checked in
Python on rows fetched for all those stores at once: a search costs a fixed number of queries
(one for the stores, one each for fee bands, opening hours and exceptions) however many answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import QuerySet
from django.utils import timezone

from delivery.eta import eta_minutes, prep_minutes_learned_many
from delivery.hours import is_open_at
from delivery.models import DeliveryFeeBand, HoursException, OpeningHours, Store

SRID = 4326


@dataclass(frozen=True)
class StoreCard:
    """One store that delivers to the point now, as the discovery list shows it."""

    store: Store
    distance_m: int  # pin to drop-off, on the spheroid, rounded to the metre
    delivery_fee_cents: int  # of the smallest fee band reaching distance_m
    eta_minutes: int  # prep + pickup allowance + travel (delivery.eta)
    rating: float | None  # mean stars; None before the first review
    min_order_cents: int


def _lonlat(point: Point) -> Point:
    """`point` in SRID 4326; a point without an SRID is taken to be lon/lat already."""
    if point.srid is None:
        return Point(point.x, point.y, srid=SRID)
    if point.srid != SRID:
        transformed = point.transform(SRID, clone=True)
        if not isinstance(transformed, Point):  # pragma: no cover - transforming a point gives a point
            raise TypeError("expected a point")
        return transformed
    return point


def stores_covering_queryset(point: Point) -> QuerySet[Store]:
    """Live stores whose zone covers `point`, annotated with `distance` (a Distance, metres).

    The spatial statement of a discovery search (the first of its queries); its WHERE clause is
    `status = 'live' AND ST_Covers(zone, point)`, served by the GiST index on `zone`.
    """
    point = _lonlat(point)
    return Store.objects.filter(status=Store.Status.LIVE, zone__covers=point).annotate(
        distance=Distance("location", point)
    )


def _fee_for(bands: Iterable[tuple[int, int]], distance_m: int) -> int | None:
    """The fee of the smallest (up_to_m, fee_cents) band reaching distance_m, or None."""
    reaching = [(up_to_m, fee_cents) for up_to_m, fee_cents in bands if up_to_m >= distance_m]
    if not reaching:
        return None
    return min(reaching)[1]


def _metres(distance: object) -> int:
    """A Distance annotation (django.contrib.gis.measure.Distance) in whole metres."""
    if not isinstance(distance, D):
        raise TypeError(f"expected a Distance, got {distance!r}")
    return round(float(distance.m))


SORT_KEYS: dict[str, Callable[[StoreCard], tuple[float, ...]]] = {
    "distance": lambda c: (c.distance_m, c.store.pk),
    # Highest first, unrated last.
    "rating": lambda c: (c.rating is None, -(c.rating or 0.0), c.distance_m, c.store.pk),
    "eta": lambda c: (c.eta_minutes, c.distance_m, c.store.pk),
    "fee": lambda c: (c.delivery_fee_cents, c.distance_m, c.store.pk),
}


def _by_store[T](rows: Iterable[tuple[int, T]]) -> dict[int, list[T]]:
    grouped: dict[int, list[T]] = defaultdict(list)
    for store_id, row in rows:
        grouped[store_id].append(row)
    return grouped


def stores_delivering_to(point: Point, *, at: datetime | None = None, sort: str = "distance") -> list[StoreCard]:
    """Every store that would take an order to `point` at `at` (default: now), sorted.

    A store is listed when it is live, its zone covers the point (edges included), its opening
    hours cover `at` (delivery.hours.is_open_at, in settings.TIME_ZONE), and one of its fee bands
    reaches the distance. `sort` is one of SORT_KEYS ("distance", "rating", "eta", "fee"), ties
    broken by distance then id; another value raises ValueError.

    Five queries whatever the number of stores: the stores (spatial filter and distance in one
    statement), then, for those stores at once, their fee bands, the opening periods of the two
    weekdays that matter (today's, and yesterday's for periods past midnight), the exceptions
    of those two dates, and each store's learned prep time (delivery.eta, from its recent
    accepted -> ready times; the declared one, plus busy minutes, for a store with no history).
    The rows come back as tuples, not model instances (a search in central
    Shanghai answers with 100+ stores, and building a thousand model objects would cost more than
    all the SQL). So the cards' stores carry no prefetched relations, and `zone` is deferred
    (reading it costs a query).
    """
    if sort not in SORT_KEYS:
        raise ValueError(f"unknown sort {sort!r}; choose from {', '.join(SORT_KEYS)}")
    at = at or timezone.now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware")
    tz = ZoneInfo(settings.TIME_ZONE)
    today = at.astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    stores = list(stores_covering_queryset(point).defer("zone"))
    if not stores:
        return []
    ids = [store.pk for store in stores]
    bands = _by_store(
        (store_id, (up_to_m, fee_cents))
        for store_id, up_to_m, fee_cents in DeliveryFeeBand.objects.filter(store_id__in=ids).values_list(
            "store_id", "up_to_m", "fee_cents"
        )
    )
    periods = _by_store(
        (store_id, (weekday, opens, closes))
        for store_id, weekday, opens, closes in OpeningHours.objects.filter(
            store_id__in=ids, weekday__in=[today.weekday(), yesterday.weekday()]
        ).values_list("store_id", "weekday", "opens", "closes")
    )
    exceptions = _by_store(
        (store_id, (day, (closed, opens, closes)))
        for store_id, day, closed, opens, closes in HoursException.objects.filter(
            store_id__in=ids, date__in=[yesterday, today]
        ).values_list("store_id", "date", "closed", "opens", "closes")
    )
    prep = prep_minutes_learned_many(stores=stores)
    cards: list[StoreCard] = []
    for store in stores:
        distance_m = _metres(store.distance)  # type: ignore[attr-defined]  # the annotation
        fee = _fee_for(bands.get(store.pk, ()), distance_m)
        if fee is None:
            continue
        if store.paused_at(at):
            continue
        if not is_open_at(
            periods=periods.get(store.pk, ()), exceptions=dict(exceptions.get(store.pk, ())), at=at, tz=tz
        ):
            continue
        cards.append(
            StoreCard(
                store=store,
                distance_m=distance_m,
                delivery_fee_cents=fee,
                eta_minutes=eta_minutes(prep_minutes=prep[store.pk] + store.busy_extra_minutes, distance_m=distance_m),
                rating=store.rating_mean,
                min_order_cents=store.min_order_cents,
            )
        )
    cards.sort(key=SORT_KEYS[sort])
    return cards


def delivery_quote_for(store: Store, point: Point) -> tuple[int, int] | None:
    """(distance_m, fee_cents) for delivering from `store` to `point`, or None when its zone does
    not cover the point (or it has no zone) or no fee band reaches that far.

    Only the geography and the fees: the store's status and hours are the caller's to check.
    Reads the zone and pin from the database (one query); fee bands through
    `store.fee_bands.all()`, so a prefetch is used.
    """
    point = _lonlat(point)
    distance = (
        Store.objects.filter(pk=store.pk, zone__covers=point)
        .annotate(distance=Distance("location", point))
        .values_list("distance", flat=True)
        .first()
    )
    if distance is None:
        return None
    distance_m = _metres(distance)
    fee = _fee_for(((band.up_to_m, band.fee_cents) for band in store.fee_bands.all()), distance_m)
    if fee is None:
        return None
    return distance_m, fee
