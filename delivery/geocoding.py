"""Geocoding: addresses to coordinates and back, behind geopy's Geocoder interface.

Production configures a geopy provider (Nominatim, Baidu, ...) by dotted path in
settings.GEOCODER_CLASS; development, tests and offline demos use `GazetteerGeocoder`, which
answers from a JSON list of {"address", "lat", "lng"} (delivery/data/gazetteer.json, or the
`gazetteer` section of a merchant registry file). Callers go through `get_geocoder()` and the
two geopy calls only: `geocode(query)` and `reverse((lat, lng))`.

Coordinates are WGS 84, as the rest of the project stores them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

from django.conf import settings
from django.utils.module_loading import import_string
from geopy.distance import geodesic
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point as GeoPoint

# A reverse lookup answers only with an entry this close to the asked point.
REVERSE_MAX_DISTANCE_M = 200.0

# Shanghai's sixteen districts: a leading one may be left out of an address (or added to it).
SHANGHAI_DISTRICTS = (
    "浦东新区",
    "黄浦区",
    "徐汇区",
    "长宁区",
    "静安区",
    "普陀区",
    "虹口区",
    "杨浦区",
    "闵行区",
    "宝山区",
    "嘉定区",
    "金山区",
    "松江区",
    "青浦区",
    "奉贤区",
    "崇明区",
)
_CITY_PREFIX = re.compile(r"^(?:中国)?上海(?:市)?")
_DISTRICT_PREFIX = re.compile("^(?:" + "|".join(SHANGHAI_DISTRICTS) + ")")
_WHITESPACE = re.compile(r"\s+")


def normalise_address(address: str) -> str:
    """The form addresses are compared in: NFKC (full-width digits, letters and spaces become
    ASCII ones), no whitespace at all (Chinese addresses need none), case-folded."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", address)).casefold()


def strip_city_and_district(normalised: str) -> str:
    """A normalised address without a leading "上海市" (or "上海") and district."""
    return _DISTRICT_PREFIX.sub("", _CITY_PREFIX.sub("", normalised, count=1), count=1)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class GazetteerGeocoder(Geocoder):  # type: ignore[misc]  # geopy ships no type information
    """A geopy geocoder answering from a fixed list of addresses, without any network access.

    `geocode` matches the normalised query against the normalised addresses exactly first, then
    with a leading city and district stripped from both ("上海市 南京西路1号", "南京西路1号" and
    "上海市静安区南京西路1号" all find one another). When several entries share the stripped
    form, they come back in file order. `reverse` answers with the nearest entry within
    REVERSE_MAX_DISTANCE_M (geodesic distance on WGS 84).

    Each returned `Location` has `raw` = the entry as read ({"address", "lat", "lng"}).
    Bad entries (a missing address, coordinates out of range) raise ValueError at construction.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        entries: Iterable[Mapping[str, Any]] | None = None,
        **geopy_options: Any,
    ) -> None:
        super().__init__(**geopy_options)
        if entries is None:
            source = Path(path if path is not None else settings.GEOCODER_GAZETTEER)
            loaded = json.loads(source.read_text(encoding="utf-8"))
            if not isinstance(loaded, list):
                raise ValueError(f"{source}: a gazetteer is a JSON list of {{address, lat, lng}}")
            entries = loaded
        self._entries: list[tuple[str, float, float, dict[str, Any]]] = []
        self._exact: dict[str, list[int]] = {}
        self._stripped: dict[str, list[int]] = {}
        for index, entry in enumerate(entries):
            address, lat, lng = self._checked(index, entry)
            self._entries.append((address, lat, lng, dict(entry)))
            key = normalise_address(address)
            self._exact.setdefault(key, []).append(index)
            self._stripped.setdefault(strip_city_and_district(key), []).append(index)

    @staticmethod
    def _checked(index: int, entry: Mapping[str, Any]) -> tuple[str, float, float]:
        address, lat, lng = entry.get("address"), _number(entry.get("lat")), _number(entry.get("lng"))
        if not isinstance(address, str) or not address.strip():
            raise ValueError(f"gazetteer entry {index}: no address")
        if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise ValueError(f"gazetteer entry {index} ({address}): lat and lng must be numbers in range")
        return address, lat, lng

    def _location(self, index: int) -> Location:
        address, lat, lng, raw = self._entries[index]
        return Location(address, (lat, lng, 0.0), raw)

    @overload
    def geocode(
        self, query: str, *, exactly_one: Literal[True] = True, timeout: Any = DEFAULT_SENTINEL
    ) -> Location | None: ...

    @overload
    def geocode(
        self, query: str, *, exactly_one: Literal[False], timeout: Any = DEFAULT_SENTINEL
    ) -> list[Location] | None: ...

    def geocode(
        self, query: str, *, exactly_one: bool = True, timeout: Any = DEFAULT_SENTINEL
    ) -> Location | list[Location] | None:
        """The entry (or, with exactly_one=False, the entries) for `query`, or None."""
        key = normalise_address(str(query))
        if not key:
            return None
        stripped = strip_city_and_district(key)
        # A bare city or district ("上海市", "上海市静安区") is no address: it matches nothing.
        found = self._exact.get(key) or (self._stripped.get(stripped) if stripped else None) or []
        if not found:
            return None
        if exactly_one:
            return self._location(found[0])
        return [self._location(i) for i in found]

    @overload
    def reverse(
        self, query: Any, *, exactly_one: Literal[True] = True, timeout: Any = DEFAULT_SENTINEL
    ) -> Location | None: ...

    @overload
    def reverse(
        self, query: Any, *, exactly_one: Literal[False], timeout: Any = DEFAULT_SENTINEL
    ) -> list[Location] | None: ...

    def reverse(
        self, query: Any, *, exactly_one: bool = True, timeout: Any = DEFAULT_SENTINEL
    ) -> Location | list[Location] | None:
        """The nearest entry within REVERSE_MAX_DISTANCE_M of `query` ((lat, lng), a geopy Point
        or "lat, lng"), or None; with exactly_one=False every such entry, nearest first."""
        point = GeoPoint(query)
        near: list[tuple[float, int]] = []
        for index, (_address, lat, lng, _raw) in enumerate(self._entries):
            metres = geodesic((point.latitude, point.longitude), (lat, lng)).meters
            if metres <= REVERSE_MAX_DISTANCE_M:
                near.append((metres, index))
        if not near:
            return None
        near.sort()
        if exactly_one:
            return self._location(near[0][1])
        return [self._location(index) for _metres, index in near]


def get_geocoder(**options: Any) -> Geocoder:
    """A new instance of settings.GEOCODER_CLASS (a dotted path to a geopy Geocoder class).

    Keyword options go to its constructor (a provider's `user_agent`, `api_key`, `domain`...),
    after those of the optional settings.GEOCODER_OPTIONS dict.
    """
    cls = import_string(settings.GEOCODER_CLASS)
    merged = {**getattr(settings, "GEOCODER_OPTIONS", {}), **options}
    return cls(**merged)
