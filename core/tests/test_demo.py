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


def test_the_demo_gives_regulators_something_to_find_and_keeps_the_rest_in_good_standing() -> None:
    from compliance.models import Flag
    from core import demo_compliance as dc
    from dispatch.models import Courier
    from dispatch.selectors import couriers_available
    from dispatch.services.couriers import GO_ONLINE_CHECKS

    seed_demo_city(password="pw-for-tests-only")
    by_name = {demo.name_zh: i for i, demo in enumerate(STORES, start=1)}
    found = {
        (code, by_name[name])
        for code, name in Flag.objects.filter(status="open").values_list("code", "store__name_zh")
        if name
    }

    assert {("LICENCE_SHARED", i) for i in dc.SHARED_LICENCE} <= found
    assert ("LICENCE_EXPIRED", dc.EXPIRED_LICENCE) in found
    assert ("HEALTH_CERT_MISSING", dc.STAFF_WITHOUT_CERTIFICATE) in found
    assert ("INSPECTION_FAILED", dc.FAILED_INSPECTION) in found
    assert not Flag.objects.filter(status="open", code__in=["LICENCE_MISSING", "LICENCE_INVALID"]).exists()
    # Every courier but the uncertified one may go online
    couriers = list(Courier.objects.order_by("pk"))
    refused = [i for i, c in enumerate(couriers, start=1) if any(check(c) for check in GO_ONLINE_CHECKS)]
    assert refused == list(dc.UNCERTIFIED_COURIERS)
    assert couriers_available().count() == 0  # nobody is online until the simulator or a courier says so
