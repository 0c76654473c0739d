"""Risk scores per store and the regulator's risk-ranked inspection queue."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import RegulatorProfile, User
from accounts.tests.factories import RegulatorFactory, square
from compliance.inspections.models import Inspection
from compliance.inspections.schemes import ViolationInput
from compliance.inspections.selectors import inspection_queue, store_risk_features, store_risk_scores
from compliance.inspections.services import inspection_record
from compliance.models import Complaint, ExternalRating, Licence, Verification
from delivery.models import Store
from delivery.tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 1)


def _inspect(store: Store, days_ago: int, *criticals: str, failed_points: int = 0) -> None:
    violations = [ViolationInput(code=c, points=10, critical=True) for c in criticals]
    if failed_points:
        violations.append(ViolationInput(code="CN-09", points=failed_points))
    inspection_record(
        store=store,
        inspected_on=TODAY - datetime.timedelta(days=days_ago),
        scheme="cn",
        violations=violations,
        external_ref=f"r:{store.pk}:{days_ago}",
    )


def _licence(store: Store, *, age_days: int, verified: bool = True) -> None:
    Licence.objects.create(
        kind=Licence.Kind.FOOD_BUSINESS,
        number=f"JY1310106{store.pk:07d}",
        store=store,
        valid_from=TODAY - datetime.timedelta(days=age_days),
        valid_to=TODAY + datetime.timedelta(days=365),
        verification=Verification.VERIFIED if verified else Verification.PENDING,
    )


def test_features_are_computed_for_every_store_in_one_query(django_assert_num_queries: Any) -> None:
    clean, risky, unknown = StoreFactory(), StoreFactory(), StoreFactory()
    _inspect(clean, 30)
    _licence(clean, age_days=2000)
    _inspect(risky, 400, "CN-03", "CN-05")
    _inspect(risky, 200, "CN-07", failed_points=50)
    _licence(risky, age_days=100)
    now = timezone.now()
    for category in ("food_safety", "late", "hygiene"):
        Complaint.objects.create(store=risky, category=category, filed_at=now - datetime.timedelta(days=5))
    Complaint.objects.create(store=risky, category="food_safety", filed_at=now - datetime.timedelta(days=800))
    ExternalRating.objects.create(store=risky, stars=2, rated_at=now - datetime.timedelta(days=3))
    with django_assert_num_queries(1):
        features = {f.store_id: f for f in store_risk_features([clean.pk, risky.pk, unknown.pk], today=TODAY)}
    r = features[risky.pk]
    assert (r.critical_3y, r.last_failed, r.days_since_inspection) == (3, True, 200)
    assert (r.complaints_1y, r.food_safety_complaints_1y, r.external_rating_mean_1y) == (3, 2, 2.0)
    assert (r.licence_age_days, r.licence_valid) == (100, True)
    c = features[clean.pk]
    assert (c.critical_3y, c.last_failed, c.days_since_inspection, c.licence_valid) == (0, False, 30, True)
    u = features[unknown.pk]
    assert (u.days_since_inspection, u.licence_age_days, u.licence_valid) == (None, None, False)

    scores = store_risk_scores([clean.pk, risky.pk, unknown.pk], today=TODAY)
    assert all(0 < s < 1 for s in scores.values())
    assert scores[risky.pk] > scores[unknown.pk] > scores[clean.pk]


def test_a_failing_grade_counts_even_when_the_row_does_not_say_failed() -> None:
    """A bulk importer (the registry import) may write grades without the `failed` column."""
    store = StoreFactory()
    _inspect(store, 10)
    Inspection.objects.filter(store=store).update(scheme="nyc", grade="C", failed=False)
    (features,) = store_risk_features([store.pk], today=TODAY)
    assert features.last_failed is True


def test_old_violations_weigh_nothing_after_three_years() -> None:
    store = StoreFactory()
    _inspect(store, 4 * 365, "CN-03")
    (features,) = store_risk_features([store.pk], today=TODAY)
    assert features.critical_3y == 0


def test_empty_input_asks_nothing(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert store_risk_scores([]) == {}


def test_queue_is_limited_to_the_regulators_district_and_ranked(regulator: User) -> None:
    profile = RegulatorProfile.objects.get(user=regulator)  # square around (121.45, 31.23)
    calm = StoreFactory(location=Point(121.451, 31.231, srid=4326))
    _inspect(calm, 20)
    _licence(calm, age_days=3000)
    hot = StoreFactory(location=Point(121.449, 31.229, srid=4326))
    _inspect(hot, 300, "CN-03", "CN-05", failed_points=50)
    closed = StoreFactory(location=Point(121.45, 31.23, srid=4326), status=Store.Status.CLOSED)
    elsewhere = StoreFactory(location=Point(121.60, 31.20, srid=4326))
    _inspect(elsewhere, 900, "CN-03", "CN-05", "CN-07")
    queue = inspection_queue(regulator=profile, today=TODAY)
    ids = [e.store_id for e in queue]
    assert ids == [hot.pk, calm.pk]
    assert closed.pk not in ids and elsewhere.pk not in ids
    assert queue[0].risk > queue[1].risk
    other = RegulatorFactory(district=square(121.60, 31.20, 0.02))
    assert [e.store_id for e in inspection_queue(regulator=other, today=TODAY)] == [elsewhere.pk]
    assert len(inspection_queue(regulator=profile, today=TODAY, limit=1)) == 1
