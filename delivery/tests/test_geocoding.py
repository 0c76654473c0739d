"""The offline gazetteer geocoder, the gazetteer file itself, and the configurable factory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from geopy.distance import geodesic
from geopy.geocoders import Nominatim
from geopy.location import Location
from pytest_django import Settings

from core.demo import STORES
from delivery.geocoding import GazetteerGeocoder, get_geocoder

ENTRIES = [
    {"address": "上海市静安区南京西路1788号", "lat": 31.2229, "lng": 121.4433},
    {"address": "上海市 南京西路1699号附近", "lat": 31.2236, "lng": 121.4456},
    {"address": "上海市黄浦区人民大道200号", "lat": 31.2304, "lng": 121.4737},
]


@pytest.fixture
def geocoder() -> GazetteerGeocoder:
    return GazetteerGeocoder(entries=ENTRIES)


def test_exact_address_geocodes_to_its_entry(geocoder: GazetteerGeocoder) -> None:
    location = geocoder.geocode("上海市静安区南京西路1788号")

    assert isinstance(location, Location)
    assert (location.latitude, location.longitude) == (31.2229, 121.4433)
    assert location.address == "上海市静安区南京西路1788号"
    assert location.raw == ENTRIES[0]


def test_city_and_district_prefixes_may_be_left_out_or_added(geocoder: GazetteerGeocoder) -> None:
    for query in ("南京西路1788号", "静安区南京西路1788号", "上海南京西路1788号", "上海市 静安区 南京西路1788号"):
        location = geocoder.geocode(query)
        assert location is not None, query
        assert location.address == "上海市静安区南京西路1788号"
    # The seed writes "上海市 <address>"; with or without the space, with a district or without.
    for query in ("上海市 南京西路1699号附近", "上海市南京西路1699号附近", "上海市静安区南京西路1699号附近"):
        location = geocoder.geocode(query)
        assert location is not None, query
        assert location.latitude == 31.2236


def test_full_width_characters_and_spaces_are_normalised(geocoder: GazetteerGeocoder) -> None:
    location = geocoder.geocode("上海市　静安区南京西路１７８８号　")

    assert location is not None
    assert location.address == "上海市静安区南京西路1788号"


def test_an_unknown_address_geocodes_to_none(geocoder: GazetteerGeocoder) -> None:
    assert geocoder.geocode("上海市静安区南京西路9999号") is None
    assert geocoder.geocode("北京市东城区南京西路1788号") is None
    assert geocoder.geocode("   ") is None
    assert geocoder.geocode("上海市静安区") is None


def test_geocode_can_return_every_match(geocoder: GazetteerGeocoder) -> None:
    locations = geocoder.geocode("南京西路1788号", exactly_one=False)

    assert isinstance(locations, list)
    assert [loc.address for loc in locations] == ["上海市静安区南京西路1788号"]


def test_reverse_finds_the_nearest_entry_within_200_m(geocoder: GazetteerGeocoder) -> None:
    near = geodesic(meters=150).destination((31.2304, 121.4737), bearing=90)

    location = geocoder.reverse((near.latitude, near.longitude))

    assert location is not None
    assert location.address == "上海市黄浦区人民大道200号"
    assert geocoder.reverse(f"{near.latitude}, {near.longitude}") is not None


def test_reverse_beyond_200_m_finds_nothing(geocoder: GazetteerGeocoder) -> None:
    far = geodesic(meters=250).destination((31.2304, 121.4737), bearing=180)

    assert geocoder.reverse((far.latitude, far.longitude)) is None
    assert geocoder.reverse((31.11, 121.38)) is None


def test_reverse_picks_the_nearer_of_two_entries(geocoder: GazetteerGeocoder) -> None:
    # The two Nanjing West Road entries are ~230 m apart; a point between, nearer the second.
    location = geocoder.reverse((31.2235, 121.4452))

    assert location is not None
    assert location.address == "上海市 南京西路1699号附近"


def test_bad_gazetteer_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="entry 1"):
        GazetteerGeocoder(entries=[ENTRIES[0], {"address": "上海市某路1号", "lat": "31.2", "lng": 121.4}])
    with pytest.raises(ValueError, match="no address"):
        GazetteerGeocoder(entries=[{"lat": 31.2, "lng": 121.4}])
    with pytest.raises(ValueError, match="in range"):
        GazetteerGeocoder(entries=[{"address": "上海市某路1号", "lat": 121.4, "lng": 31.2}])


def test_a_gazetteer_file_can_be_given(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text(json.dumps(ENTRIES, ensure_ascii=False), encoding="utf-8")

    assert GazetteerGeocoder(path).geocode("人民大道200号") is not None


# --- get_geocoder and the shipped gazetteer ---------------------------------------------------


def test_get_geocoder_builds_the_configured_class() -> None:
    geocoder = get_geocoder()

    assert isinstance(geocoder, GazetteerGeocoder)
    assert geocoder.geocode("上海市黄浦区人民大道200号") is not None


def test_get_geocoder_can_build_a_geopy_provider(settings: Settings) -> None:
    settings.GEOCODER_CLASS = "geopy.geocoders.Nominatim"

    geocoder = get_geocoder(user_agent="mingchu-tests")

    assert isinstance(geocoder, Nominatim)


def test_every_demo_store_address_is_in_the_gazetteer_at_its_pin() -> None:
    geocoder = GazetteerGeocoder()

    for demo in STORES:
        for address in (f"上海市 {demo.address}", f"上海市{demo.address}", demo.address):
            location = geocoder.geocode(address)
            assert location is not None, address
            assert (location.latitude, location.longitude) == (demo.lat, demo.lng), address


def test_the_gazetteer_has_drop_off_points_and_addresses_no_demo_store_reaches() -> None:
    entries = json.loads(Path(django_settings.GEOCODER_GAZETTEER).read_text(encoding="utf-8"))
    store_addresses = {f"上海市 {demo.address}" for demo in STORES}
    others = [e for e in entries if e["address"] not in store_addresses]
    assert len(others) >= 30
    assert len({e["address"] for e in entries}) == len(entries)
    for entry in entries:
        assert 30.9 < entry["lat"] < 31.5 and 121.2 < entry["lng"] < 121.8, entry

    def metres_to_nearest_store(entry: dict[str, float]) -> float:
        return float(min(geodesic((entry["lat"], entry["lng"]), (s.lat, s.lng)).meters for s in STORES))

    # Demo zones are at most 5 km: at least three addresses lie well beyond every one.
    assert sum(metres_to_nearest_store(e) > 8000 for e in others) >= 3
