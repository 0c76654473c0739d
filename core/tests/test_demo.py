"""The demo city seeds once, completely, and is usable: restaurants deliver to demo addresses."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point

from core.demo import COURIER_COUNT, STORES, seed_demo_city
from delivery.models import Coupon, MenuItem, SetMeal, Store
from delivery.selectors.discovery import stores_delivering_to

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_seed_is_complete_and_idempotent() -> None:
    first = seed_demo_city(password="pw-for-tests-only")
    second = seed_demo_city(password="pw-for-tests-only")

    assert first == second
    assert first["stores"] == len(STORES) and first["couriers"] == COURIER_COUNT
    for store in Store.objects.all():
        assert store.zone is not None and store.zone.valid
        assert store.fee_bands.count() == 3
        assert store.opening_hours.exists()
        assert MenuItem.objects.filter(store=store).count() >= 3
        assert SetMeal.objects.filter(store=store).exists()
        assert store.name_en and store.name_zh
    assert set(Coupon.objects.values_list("code", flat=True)) == {"NEWDINER10", "MAN30JIAN5", "XIAOLONG8"}


def test_a_demo_address_finds_restaurants_at_lunch_and_at_3_am() -> None:
    seed_demo_city(password="pw-for-tests-only")
    jingan = Point(121.4500, 31.2290, srid=4326)  # 南京西路, among the demo stores

    lunch = stores_delivering_to(jingan, at=datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI))
    night = stores_delivering_to(jingan, at=datetime(2026, 11, 24, 3, 0, tzinfo=SHANGHAI))

    assert len(lunch) >= 10
    assert 1 <= len(night) < len(lunch)  # the all-night stores only
    assert all(card.delivery_fee_cents > 0 and card.eta_minutes > 0 for card in lunch)
