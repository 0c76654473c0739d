"""Candidate search: nearest available couriers by KNN on the GiST index, within a radius; the
availability hook; the query plan uses the index."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from dispatch import selectors
from dispatch.models import Courier
from dispatch.selectors import (
    candidates_for_stores,
    candidates_sql_explain,
    couriers_available,
    couriers_available_near,
)
from dispatch.tests.factories import CourierFactory, idle_courier

pytestmark = pytest.mark.django_db


def test_available_means_idle_with_a_fresh_position() -> None:
    ok = idle_courier()
    idle_courier(state=Courier.State.OFFLINE)
    idle_courier(state=Courier.State.TO_STORE)
    idle_courier(position_at=timezone.now() - timedelta(hours=1))
    CourierFactory(state=Courier.State.IDLE)  # never sent a position

    assert list(couriers_available()) == [ok]


def test_availability_filters_are_extensible(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = idle_courier(), idle_courier(lng=121.452)
    monkeypatch.setattr(selectors, "AVAILABILITY_FILTERS", [*selectors.AVAILABILITY_FILTERS, lambda: ~Q(pk=a.pk)])

    assert list(couriers_available()) == [b]
    found = candidates_for_stores(stores=[(1, 121.45, 31.23)], radius_m=5000, limit=5)
    assert [c.courier_id for c in found[1]] == [b.pk]


def test_candidates_nearest_first_within_radius() -> None:
    near = idle_courier(lng=121.4505, lat=31.2300)
    mid = idle_courier(lng=121.4550, lat=31.2300)
    idle_courier(lng=121.60, lat=31.23)  # ~14 km: outside the radius

    found = candidates_for_stores(stores=[(7, 121.45, 31.23), (8, 121.456, 31.23)], radius_m=3000, limit=5)

    assert [c.courier_id for c in found[7]] == [near.pk, mid.pk]
    assert [c.courier_id for c in found[8]] == [mid.pk, near.pk]
    assert 40 < found[7][0].distance_m < 60
    near_qs = couriers_available_near(point=Point(121.45, 31.23, srid=4326), radius_m=3000, limit=1)
    assert list(near_qs) == [near]


def test_candidates_are_exactly_the_available_couriers_through_every_move() -> None:
    # Given couriers near one store: each availability condition failed by one of them
    from compliance.models import HealthCertificate, Verification
    from dispatch.transitions import courier_transition

    courier = idle_courier(lng=121.4501)  # the nearest: moves through its states below
    idle_courier(lng=121.4502, state=Courier.State.TO_STORE)
    idle_courier(lng=121.4503, position_at=timezone.now() - timedelta(hours=1))
    idle_courier(lng=121.4504, certified=False)
    HealthCertificate.objects.create(
        courier=idle_courier(lng=121.4505, certified=False),
        number="HC-EXPIRED",
        valid_to=timezone.localdate() - timedelta(days=1),
        verification=Verification.VERIFIED,
    )
    inactive = idle_courier(lng=121.4506)
    inactive.user.is_active = False
    inactive.user.save(update_fields=["is_active"])
    far = idle_courier(lng=121.4507)

    def found() -> list[int]:
        return [c.courier_id for c in candidates_for_stores(stores=[(1, 121.45, 31.231)], radius_m=3000, limit=10)[1]]

    def available() -> list[int]:
        return sorted(couriers_available().values_list("pk", flat=True))

    # Then the KNN walk (on the index of idle couriers only) finds exactly couriers_available()
    assert found() == [courier.pk, far.pk] and sorted(found()) == available()
    # ... and stays so as the courier leaves idle, comes back, goes offline and online again
    for to in (Courier.State.OFFERED, Courier.State.IDLE, Courier.State.TO_STORE, Courier.State.IDLE):
        courier_transition(courier_id=courier.pk, to=to, actor=None)
        expected = [courier.pk, far.pk] if to == Courier.State.IDLE else [far.pk]
        assert found() == expected and sorted(found()) == available(), to


def _position_gist_index() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'dispatch_courier' AND indexdef ILIKE %s",
            ["%USING gist (%position%)%"],
        )
        row = cursor.fetchone()
    assert row is not None, "no GiST index on dispatch_courier.position"
    return str(row[0])


def test_candidate_query_uses_the_gist_index() -> None:
    # Enough couriers, spread over Shanghai, that the planner prefers the index on its own.
    rng = random.Random(5)
    users = []
    from accounts.models import User

    users = User.objects.bulk_create([User(username=f"knn{i}") for i in range(3000)])
    now = timezone.now()
    couriers = Courier.objects.bulk_create(
        [
            Courier(
                user=u,
                state=Courier.State.IDLE,
                position=Point(rng.uniform(121.2, 121.8), rng.uniform(30.9, 31.5), srid=4326),
                position_at=now,
            )
            for u in users
        ],
        batch_size=1000,
    )
    # Each with a valid health certificate, as the compliance gate in couriers_available wants.
    from compliance.models import HealthCertificate, Verification

    today = timezone.localdate()
    HealthCertificate.objects.bulk_create(
        [
            HealthCertificate(
                courier=c,
                number=f"HC{c.pk}",
                valid_to=today + timedelta(days=200),
                verification=Verification.VERIFIED,
            )
            for c in couriers
        ],
        batch_size=1000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE dispatch_courier")
        cursor.execute("ANALYZE compliance_healthcertificate")

    plan = candidates_sql_explain(lng=121.47, lat=31.23, radius_m=3000, limit=10)

    assert _position_gist_index() in plan and "Index Scan" in plan, plan
    # The index holds idle couriers only (so the walk never visits a busy one), and each
    # courier the walk yields is tested on its own row, not fetched again by primary key.
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [_position_gist_index()])
        (indexdef,) = cursor.fetchone()
    assert "WHERE" in indexdef and "'idle'" in indexdef, indexdef
    assert "dispatch_courier_pkey" not in plan, plan
