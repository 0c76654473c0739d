"""Delivery zones: drawn polygons are checked; radius zones are true circles on the ground."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from geopy.distance import geodesic

from delivery.models import Store
from delivery.services.zones import ZoneInvalid, store_zone_set, store_zone_set_radius
from delivery.tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

PIN = (121.45, 31.23)  # lng, lat


def square(lng: float, lat: float, half: float, srid: int | None = 4326) -> Polygon:
    ring = ((lng - half, lat - half), (lng + half, lat - half), (lng + half, lat + half), (lng - half, lat + half))
    return Polygon((*ring, ring[0]), srid=srid)


def covers(store: Store, lng: float, lat: float) -> bool:
    return Store.objects.filter(pk=store.pk, zone__covers=Point(lng, lat, srid=4326)).exists()


def test_a_valid_polygon_is_stored_as_a_multipolygon() -> None:
    store: Store = StoreFactory(delivery_radius_m=3000)

    store_zone_set(store=store, zone=square(*PIN, 0.02))

    store.refresh_from_db()
    assert isinstance(store.zone, MultiPolygon)
    assert store.zone.srid == 4326
    assert len(store.zone) == 1
    assert store.delivery_radius_m is None  # a drawn zone is no longer the radius's circle
    assert covers(store, 121.46, 31.24)
    assert not covers(store, 121.48, 31.23)


def test_a_multipolygon_keeps_all_its_parts() -> None:
    store: Store = StoreFactory()
    zone = MultiPolygon(square(121.45, 31.23, 0.01), square(121.50, 31.23, 0.01), srid=4326)

    store_zone_set(store=store, zone=zone)

    assert covers(store, 121.45, 31.23) and covers(store, 121.50, 31.23)
    assert not covers(store, 121.475, 31.23)


def test_setting_a_zone_writes_only_the_zone_fields() -> None:
    store: Store = StoreFactory(name_zh="旧名")
    Store.objects.filter(pk=store.pk).update(name_zh="新名", status=Store.Status.PAUSED)  # meanwhile, elsewhere

    store_zone_set(store=store, zone=square(*PIN, 0.02))

    store.refresh_from_db()
    assert (store.name_zh, store.status) == ("新名", Store.Status.PAUSED)
    assert store.zone is not None


def test_a_bow_tie_polygon_is_refused_with_the_reason() -> None:
    store: Store = StoreFactory()
    bow_tie = Polygon(((121.44, 31.22), (121.46, 31.24), (121.46, 31.22), (121.44, 31.24), (121.44, 31.22)), srid=4326)

    with pytest.raises(ZoneInvalid) as refused:
        store_zone_set(store=store, zone=bow_tie)

    assert refused.value.code == "zone_invalid"
    assert "Self-intersection" in refused.value.message
    store.refresh_from_db()
    assert store.zone is None


def test_an_empty_zone_is_refused() -> None:
    store: Store = StoreFactory()

    for empty in (Polygon(srid=4326), MultiPolygon(srid=4326)):
        with pytest.raises(ZoneInvalid) as refused:
            store_zone_set(store=store, zone=empty)
        assert refused.value.code == "zone_empty"


def test_a_zone_in_another_srid_or_without_one_is_refused() -> None:
    store: Store = StoreFactory()

    for srid in (3857, None):
        with pytest.raises(ZoneInvalid) as refused:
            store_zone_set(store=store, zone=square(*PIN, 0.02, srid=srid))
        assert refused.value.code == "zone_invalid"
        assert "4326" in refused.value.message


def test_a_zone_off_the_globe_is_refused() -> None:
    store: Store = StoreFactory()

    with pytest.raises(ZoneInvalid, match="outside"):
        store_zone_set(store=store, zone=square(181.0, 31.23, 0.5))


@pytest.mark.parametrize("bearing", [0, 45, 90, 180, 270])
def test_a_radius_zone_covers_0_9_r_and_not_1_1_r(bearing: int) -> None:
    store: Store = StoreFactory(location=Point(*PIN, srid=4326))
    radius = 3000

    store_zone_set_radius(store=store, radius_m=radius)

    def at(fraction: float) -> tuple[float, float]:
        p = geodesic(meters=radius * fraction).destination((PIN[1], PIN[0]), bearing=bearing)
        return p.longitude, p.latitude

    assert covers(store, *at(0.9))
    assert covers(store, *at(0.98))
    assert not covers(store, *at(1.1))


def test_a_radius_zone_is_stored_with_its_radius_and_returned_in_place() -> None:
    store: Store = StoreFactory(location=Point(*PIN, srid=4326))

    returned = store_zone_set_radius(store=store, radius_m=5000)

    assert returned is store
    assert isinstance(store.zone, MultiPolygon) and store.zone.valid and store.zone.srid == 4326
    assert store.delivery_radius_m == 5000
    store.refresh_from_db()
    assert store.delivery_radius_m == 5000
    assert store.zone is not None
    assert store.zone.contains(Point(*PIN, srid=4326))


def test_drawing_a_zone_after_a_radius_clears_the_radius() -> None:
    store: Store = StoreFactory(location=Point(*PIN, srid=4326))
    store_zone_set_radius(store=store, radius_m=3000)

    store_zone_set(store=store, zone=square(*PIN, 0.01))

    store.refresh_from_db()
    assert store.delivery_radius_m is None
    assert not covers(store, 121.45, 31.25)


@pytest.mark.parametrize("radius", [0, -5, 50_001])
def test_an_unreasonable_radius_is_refused(radius: int) -> None:
    store: Store = StoreFactory()

    with pytest.raises(ZoneInvalid) as refused:
        store_zone_set_radius(store=store, radius_m=radius)

    assert refused.value.code == "zone_radius_invalid"
    store.refresh_from_db()
    assert store.zone is None
