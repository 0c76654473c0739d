"""The regulator's queue a page at a time, and the case page's geocoding kept, not repeated."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from compliance.cases.services import case_open_from_flag
from compliance.models import Flag, StoreRegistration
from delivery.geocoding import get_geocoder, normalise_address
from delivery.models import Store
from delivery.tests.factories import StoreFactory
from frontend import regulator_pages

pytestmark = pytest.mark.django_db
# An address of the test gazetteer (delivery/data/gazetteer.json).
KNOWN = "上海市 南京西路1699号附近"


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rows(page: bytes) -> int:
    return page.count(b'data-testid="queue-row"')


def test_the_queue_is_shown_a_page_at_a_time(regulator: User, shop: Store) -> None:
    now = timezone.now()
    count = regulator_pages.QUEUE_PAGE_SIZE * 2 + 7
    stores = [StoreFactory(location=shop.location, name_zh=f"店{n}") for n in range(count - 1)] + [shop]
    Flag.objects.bulk_create(
        Flag(code="ADDRESS_SHARED", store=store, severity="medium", raised_at=now, evaluated_at=now) for store in stores
    )
    client, url = _client(regulator), reverse("frontend:regulator")
    first = client.get(url).content
    assert _rows(first) == regulator_pages.QUEUE_PAGE_SIZE
    assert b'data-testid="queue-next"' in first and b'data-testid="queue-prev"' not in first
    last = client.get(url, {"page": 3}).content
    assert _rows(last) == 7 and b'data-testid="queue-prev"' in last and b'data-testid="queue-next"' not in last
    # Every row appears once over the pages.
    shown = set()
    for number in (1, 2, 3):
        content = client.get(url, {"page": number}).content.decode()
        shown |= {int(part.split('"')[0]) for part in content.split('data-testid="queue-row" data-store="')[1:]}
    assert shown == {store.pk for store in stores}
    # A page past the end shows the last; nonsense shows the first.
    assert _rows(client.get(url, {"page": 99}).content) == 7
    assert _rows(client.get(url, {"page": "x"}).content) == regulator_pages.QUEUE_PAGE_SIZE


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The configured geocoder, each lookup written down."""
    asked: list[str] = []

    def geocoder() -> Any:
        real = get_geocoder()
        original = real.geocode

        def geocode(query: str, *args: Any, **kwargs: Any) -> Any:
            asked.append(query)
            return original(query, *args, **kwargs)

        real.geocode = geocode
        return real

    monkeypatch.setattr(regulator_pages, "get_geocoder", geocoder)
    return asked


def _forget(address: str) -> None:
    cache.delete("geocoded:" + hashlib.sha256(normalise_address(address).encode()).hexdigest())


def test_the_case_page_geocodes_an_address_once_and_keeps_the_point(
    regulator: User, shop: Store, flag: Flag, counted: list[str]
) -> None:
    Store.objects.filter(pk=shop.pk).update(address=KNOWN)
    StoreRegistration.objects.filter(store=shop).update(geocoded_location=None, geocoded_address="")
    _forget(KNOWN)
    case = case_open_from_flag(regulator=regulator, flag=flag)
    client, url = _client(regulator), reverse("frontend:regulator_case", args=[case.pk])
    for _ in range(3):
        page = client.get(url)
        assert page.status_code == 200 and b"31.2236" in page.content
    assert counted == [KNOWN]
    registration = StoreRegistration.objects.get(store=shop)
    assert registration.geocoded_address == KNOWN and registration.geocoded_location is not None
    assert round(registration.geocoded_location.y, 4) == 31.2236

    # A new address is geocoded anew (once).
    moved = "上海市 吴江路169号附近"
    _forget(moved)
    Store.objects.filter(pk=shop.pk).update(address=moved)
    client.get(url)
    client.get(url)
    assert counted == [KNOWN, moved]


def test_a_store_without_a_registration_is_cached_by_address(
    regulator: User, shop: Store, flag: Flag, counted: list[str]
) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    StoreRegistration.objects.filter(store=shop).delete()
    Store.objects.filter(pk=shop.pk).update(address=KNOWN)
    _forget(KNOWN)
    client, url = _client(regulator), reverse("frontend:regulator_case", args=[case.pk])
    assert b"31.2236" in client.get(url).content
    assert b"31.2236" in client.get(url).content
    assert counted == [KNOWN]


def test_the_far_regulator_gets_no_page_of_the_queue(far_regulator: User, flag: Flag) -> None:
    page = _client(far_regulator).get(reverse("frontend:regulator"), {"page": 2}).content
    assert _rows(page) == 0
