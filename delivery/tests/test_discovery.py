"""Discovery: which stores deliver to a point, with distance, fee, ETA; edges, states, sorting."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection
from geopy.distance import geodesic
from pytest_django import DjangoAssertNumQueries, Settings

from delivery.models import DeliveryFeeBand, HoursException, OpeningHours, Store
from delivery.selectors.discovery import StoreCard, delivery_quote_for, stores_covering_queryset, stores_delivering_to
from delivery.services.zones import store_zone_set, store_zone_set_radius
from delivery.tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 23 November 2026, noon in Shanghai.
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
ALL_DAY = ((time(0), time(0)),)
BANDS = ((1000, 300), (3000, 500), (5000, 800))


def square(lng: float, lat: float, half: float) -> Polygon:
    ring = ((lng - half, lat - half), (lng + half, lat - half), (lng + half, lat + half), (lng - half, lat + half))
    return Polygon((*ring, ring[0]), srid=4326)


def make_store(
    lng: float = 121.45,
    lat: float = 31.23,
    *,
    radius_m: int | None = 5000,
    zone: Polygon | MultiPolygon | None = None,
    status: str = Store.Status.LIVE,
    hours: Sequence[tuple[time, time]] = ALL_DAY,
    bands: Sequence[tuple[int, int]] = BANDS,
    prep: int = 15,
    ratings: tuple[int, int] = (0, 0),  # (count, sum)
    min_order_cents: int = 2000,
) -> Store:
    store: Store = StoreFactory(
        location=Point(lng, lat, srid=4326),
        status=status,
        default_prep_minutes=prep,
        rating_count=ratings[0],
        rating_sum=ratings[1],
        min_order_cents=min_order_cents,
    )
    if zone is not None:
        store_zone_set(store=store, zone=zone)
    elif radius_m is not None:
        store_zone_set_radius(store=store, radius_m=radius_m)
    DeliveryFeeBand.objects.bulk_create(DeliveryFeeBand(store=store, up_to_m=u, fee_cents=f) for u, f in bands)
    OpeningHours.objects.bulk_create(
        OpeningHours(store=store, weekday=day, opens=o, closes=c) for day in range(7) for o, c in hours
    )
    return store


def east_of(lng: float, lat: float, metres: float) -> Point:
    p = geodesic(meters=metres).destination((lat, lng), bearing=90)
    return Point(p.longitude, p.latitude, srid=4326)


def ids(cards: list[StoreCard]) -> list[int]:
    return [card.store.pk for card in cards]


def test_a_store_delivering_here_is_listed_with_distance_fee_eta_rating(settings: Settings) -> None:
    settings.COURIER_SPEED_KMH, settings.DETOUR_FACTOR, settings.PICKUP_ALLOWANCE_MINUTES = 15.0, 1.3, 8
    store = make_store(prep=12, ratings=(4, 18), min_order_cents=2500)
    point = east_of(121.45, 31.23, 2000)

    [card] = stores_delivering_to(point, at=NOON)

    assert card.store == store
    assert abs(card.distance_m - 2000) <= 1
    assert card.delivery_fee_cents == 500  # the 3000 m band: the smallest reaching 2 km
    travel = math.ceil(card.distance_m * 1.3 / (15.0 * 1000 / 60))
    assert card.eta_minutes == 12 + 8 + travel
    assert card.rating == 4.5
    assert card.min_order_cents == 2500


def test_a_point_exactly_on_a_zone_edge_is_covered() -> None:
    store = make_store(zone=square(121.45, 31.23, 0.01), bands=((20_000, 500),))
    on_edge = Point(121.46, 31.23, srid=4326)  # the east side, x = 121.45 + 0.01
    on_corner = Point(121.44, 31.22, srid=4326)

    assert ids(stores_delivering_to(on_edge, at=NOON)) == [store.pk]
    assert ids(stores_delivering_to(on_corner, at=NOON)) == [store.pk]
    assert stores_delivering_to(Point(121.4601, 31.23, srid=4326), at=NOON) == []


def test_both_parts_of_a_multipolygon_zone_deliver() -> None:
    zone = MultiPolygon(square(121.45, 31.23, 0.005), square(121.48, 31.23, 0.005), srid=4326)
    store = make_store(zone=zone, bands=((20_000, 500),))

    assert ids(stores_delivering_to(Point(121.45, 31.23, srid=4326), at=NOON)) == [store.pk]
    assert ids(stores_delivering_to(Point(121.48, 31.231, srid=4326), at=NOON)) == [store.pk]
    assert stores_delivering_to(Point(121.465, 31.23, srid=4326), at=NOON) == []  # between the parts


def test_a_store_closed_now_is_not_listed() -> None:
    lunch_only = make_store(hours=((time(11), time(14)),))
    make_store(hours=((time(17), time(22)),))  # dinner only
    closed_today = make_store()
    HoursException.objects.create(store=closed_today, date=NOON.date(), closed=True)
    make_store(hours=())  # no hours at all

    assert ids(stores_delivering_to(Point(121.45, 31.23, srid=4326), at=NOON)) == [lunch_only.pk]


def test_a_store_open_past_midnight_is_listed_after_midnight() -> None:
    late = make_store(hours=((time(18), time(2)),))
    one_am_tuesday = datetime(2026, 11, 24, 1, 0, tzinfo=SHANGHAI)

    assert ids(stores_delivering_to(Point(121.45, 31.23, srid=4326), at=one_am_tuesday)) == [late.pk]


@pytest.mark.parametrize(
    "status",
    [
        Store.Status.SUSPENDED,
        Store.Status.PAUSED,
        Store.Status.DRAFT,
        Store.Status.PENDING_REVIEW,
        Store.Status.CLOSED,
    ],
)
def test_a_store_that_is_not_live_is_not_listed(status: str) -> None:
    live = make_store()
    make_store(status=status)

    assert ids(stores_delivering_to(Point(121.45, 31.23, srid=4326), at=NOON)) == [live.pk]


def test_a_store_without_a_zone_is_not_listed() -> None:
    make_store(radius_m=None)

    assert stores_delivering_to(Point(121.45, 31.23, srid=4326), at=NOON) == []


def test_a_point_outside_every_zone_gets_an_empty_list() -> None:
    make_store(121.45, 31.23, radius_m=3000)
    make_store(121.48, 31.22, radius_m=3000)

    assert stores_delivering_to(Point(121.60, 31.20, srid=4326), at=NOON) == []


def test_a_point_beyond_the_last_fee_band_is_not_listed() -> None:
    # The zone reaches 5 km, but the store only prices deliveries up to 2 km.
    store = make_store(radius_m=5000, bands=((1000, 300), (2000, 600)))
    inside_bands = east_of(121.45, 31.23, 1500)
    beyond_bands = east_of(121.45, 31.23, 3000)

    assert ids(stores_delivering_to(inside_bands, at=NOON)) == [store.pk]
    assert stores_delivering_to(beyond_bands, at=NOON) == []
    assert delivery_quote_for(store, beyond_bands) is None


def test_a_store_without_fee_bands_is_not_listed() -> None:
    make_store(bands=())

    assert stores_delivering_to(Point(121.45, 31.23, srid=4326), at=NOON) == []


def _three_stores() -> tuple[Store, Store, Store]:
    # Distances from the point (121.45, 31.23): near ~300 m, mid ~1.5 km, far ~2.5 km.
    near = make_store(*_lnglat(east_of(121.45, 31.23, 300)), prep=40, ratings=(2, 6), bands=((5000, 900),))
    mid = make_store(*_lnglat(east_of(121.45, 31.23, 1500)), prep=5, ratings=(0, 0), bands=((5000, 100),))
    far = make_store(*_lnglat(east_of(121.45, 31.23, 2500)), prep=10, ratings=(3, 15), bands=((5000, 400),))
    return near, mid, far


def _lnglat(point: Point) -> tuple[float, float]:
    return point.x, point.y


def test_sorting_by_each_key() -> None:
    near, mid, far = _three_stores()
    point = Point(121.45, 31.23, srid=4326)

    assert ids(stores_delivering_to(point, at=NOON)) == [near.pk, mid.pk, far.pk]
    assert ids(stores_delivering_to(point, at=NOON, sort="distance")) == [near.pk, mid.pk, far.pk]
    # Highest rating first (5.0, then 3.0), the unrated store last.
    assert ids(stores_delivering_to(point, at=NOON, sort="rating")) == [far.pk, near.pk, mid.pk]
    # ETA: mid 5 + 8 + 8 = 21, far 10 + 8 + 13 = 31, near 40 + 8 + 2 = 50.
    cards = stores_delivering_to(point, at=NOON, sort="eta")
    assert ids(cards) == [mid.pk, far.pk, near.pk]
    assert [c.eta_minutes for c in cards] == sorted(c.eta_minutes for c in cards)
    assert ids(stores_delivering_to(point, at=NOON, sort="fee")) == [mid.pk, far.pk, near.pk]


def test_ties_are_broken_by_distance() -> None:
    near, mid, far = _three_stores()
    Store.objects.update(rating_count=0, rating_sum=0)
    DeliveryFeeBand.objects.update(fee_cents=500)
    point = Point(121.45, 31.23, srid=4326)

    assert ids(stores_delivering_to(point, at=NOON, sort="rating")) == [near.pk, mid.pk, far.pk]
    assert ids(stores_delivering_to(point, at=NOON, sort="fee")) == [near.pk, mid.pk, far.pk]


def test_an_unknown_sort_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sort"):
        stores_delivering_to(Point(121.45, 31.23, srid=4326), at=NOON, sort="popularity")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        stores_delivering_to(Point(121.45, 31.23, srid=4326), at=datetime(2026, 11, 23, 12))


def test_a_point_without_an_srid_is_taken_as_lon_lat() -> None:
    store = make_store()

    assert ids(stores_delivering_to(Point(121.451, 31.231), at=NOON)) == [store.pk]


def test_now_is_the_default_time() -> None:
    store = make_store()  # open around the clock

    assert ids(stores_delivering_to(Point(121.45, 31.23, srid=4326))) == [store.pk]


def test_a_search_costs_the_same_few_queries_however_many_stores_answer(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    for i in range(6):
        make_store(121.45 + i * 0.001, 31.23)
    point = Point(121.45, 31.23, srid=4326)

    # Stores (spatial filter and distance in one statement), then fee bands, hours, exceptions,
    # and the learned prep times.
    with django_assert_num_queries(5):
        cards = stores_delivering_to(point, at=NOON)
    assert len(cards) == 6


# --- delivery_quote_for -----------------------------------------------------------------------


def test_a_quote_gives_distance_and_fee() -> None:
    store = make_store()
    point = east_of(121.45, 31.23, 3500)

    quote = delivery_quote_for(store, point)

    assert quote is not None
    distance_m, fee = quote
    assert abs(distance_m - 3500) <= 1
    assert fee == 800


def test_a_quote_outside_the_zone_or_without_one_is_none() -> None:
    store = make_store(radius_m=3000)
    unzoned = make_store(radius_m=None)

    assert delivery_quote_for(store, east_of(121.45, 31.23, 3300)) is None
    assert delivery_quote_for(unzoned, Point(121.45, 31.23, srid=4326)) is None


def test_a_quote_agrees_with_the_discovery_card() -> None:
    store = make_store()
    point = east_of(121.45, 31.23, 2222)

    [card] = stores_delivering_to(point, at=NOON)

    assert delivery_quote_for(store, point) == (card.distance_m, card.delivery_fee_cents)


# --- the GiST index -------------------------------------------------------------------------


def _zone_gist_index_name() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef ILIKE %s",
            [Store._meta.db_table, "%USING gist (zone)%"],
        )
        row = cursor.fetchone()
    assert row is not None, "no GiST index on delivery_store.zone"
    return str(row[0])


def test_the_spatial_filter_uses_the_gist_index_on_zone() -> None:
    # Enough stores, spread over Shanghai, that the planner prefers the index on its own (no
    # enable_seqscan tricks): small square zones, so a point is covered by only a few.
    rng = random.Random(7)
    stores = []
    for i in range(2000):
        lng, lat = rng.uniform(121.2, 121.8), rng.uniform(30.9, 31.5)
        stores.append(
            Store(
                name_zh=f"索引测试{i}",
                address="上海市",
                location=Point(lng, lat, srid=4326),
                zone=MultiPolygon(square(lng, lat, 0.02), srid=4326),
                status=Store.Status.LIVE,
            )
        )
    Store.objects.bulk_create(stores, batch_size=500)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Store._meta.db_table)}")

    plan = stores_covering_queryset(Point(121.47, 31.23, srid=4326)).explain()

    index = _zone_gist_index_name()
    assert ("Index Scan" in plan or "Bitmap Index Scan" in plan) and index in plan, plan
