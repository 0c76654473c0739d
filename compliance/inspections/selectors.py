"""Reads for inspections: grades and badges for store pages, risk scores, the inspection queue."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import RegulatorProfile
from compliance.inspections.models import Inspection
from compliance.inspections.risk import RiskFeatures, risk_score
from compliance.inspections.schemes import FAILING_GRADES
from compliance.models import Licence, StoreRegistration, Verification
from delivery.models import Store


@dataclass(frozen=True, slots=True)
class StoreBadge:
    """What a diner sees of a store's compliance: its latest grade, licence and open kitchen."""

    store_id: int
    inspection_id: int | None
    grade: str
    scheme: str
    grade_state: str
    inspected_on: datetime.date | None
    merchant_reply: str
    licence_verified: bool
    open_kitchen_url: str

    @property
    def grade_pending(self) -> bool:
        return self.grade_state == Inspection.GradeState.PENDING


def store_badges(store_ids: list[int], *, today: datetime.date | None = None) -> dict[int, StoreBadge]:
    """Badges for many stores in ONE query (store cards list dozens at once).

    The grade is the latest inspection's that has one; "licence verified" means a food-business
    licence of the store verified by an operator and valid today."""
    if not store_ids:
        return {}
    today = today or timezone.localdate()
    latest = Inspection.objects.filter(store_id=OuterRef("pk")).exclude(grade="").order_by("-inspected_on", "-id")
    licence_ok = Licence.objects.filter(
        store_id=OuterRef("pk"),
        kind=Licence.Kind.FOOD_BUSINESS,
        verification=Verification.VERIFIED,
    ).filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today), Q(valid_to__isnull=True) | Q(valid_to__gte=today))
    rows = (
        Store.objects.filter(pk__in=store_ids)
        .annotate(
            b_inspection=Subquery(latest.values("pk")[:1]),
            b_grade=Subquery(latest.values("grade")[:1]),
            b_scheme=Subquery(latest.values("scheme")[:1]),
            b_state=Subquery(latest.values("grade_state")[:1]),
            b_on=Subquery(latest.values("inspected_on")[:1]),
            b_reply=Subquery(latest.values("merchant_reply")[:1]),
            b_licence=Exists(licence_ok),
            b_kitchen=Subquery(
                StoreRegistration.objects.filter(store_id=OuterRef("pk")).values("open_kitchen_url")[:1]
            ),
        )
        .values_list(
            "pk", "b_inspection", "b_grade", "b_scheme", "b_state", "b_on", "b_reply", "b_licence", "b_kitchen"
        )
    )
    return {
        pk: StoreBadge(
            store_id=pk,
            inspection_id=insp,
            grade=grade or "",
            scheme=scheme or "",
            grade_state=state or "",
            inspected_on=on,
            merchant_reply=reply or "",
            licence_verified=bool(licence),
            open_kitchen_url=kitchen or "",
        )
        for pk, insp, grade, scheme, state, on, reply, licence, kitchen in rows
    }


def store_inspections(*, store: Store, limit: int = 10) -> list[Inspection]:
    return list(Inspection.objects.filter(store=store).prefetch_related("violations")[:limit])


# --- Risk -------------------------------------------------------------------------------------


# Set-based on purpose: one statement aggregates every feature for all the stores at once
# (grouped CTEs joined to the store list), instead of a correlated subquery per store and
# feature; the regulator's queue ranks a whole district with it.
_FEATURES_SQL = """
WITH s AS (
    SELECT st.id, st.rating_count, st.rating_sum FROM delivery_store st WHERE {where}
), insp AS (
    SELECT i.store_id, max(i.inspected_on) AS last_on
    FROM inspections_inspection i JOIN s ON s.id = i.store_id GROUP BY i.store_id
), lastfail AS (
    -- failed as recorded, or by the scheme's failing grades (bulk importers may not set it)
    SELECT DISTINCT ON (i.store_id) i.store_id,
           i.failed OR (i.scheme || ':' || i.grade) = ANY(%(failing)s) AS failed
    FROM inspections_inspection i JOIN s ON s.id = i.store_id
    ORDER BY i.store_id, i.inspected_on DESC, i.id DESC
), crit AS (
    SELECT i.store_id, count(*) AS n
    FROM inspections_inspectionviolation v
    JOIN inspections_inspection i ON i.id = v.inspection_id JOIN s ON s.id = i.store_id
    WHERE v.critical AND i.inspected_on >= %(since_3y)s GROUP BY i.store_id
), comp AS (
    SELECT c.store_id, count(*) AS n,
           count(*) FILTER (WHERE c.category IN ('food_safety', 'hygiene')) AS n_food
    FROM compliance_complaint c JOIN s ON s.id = c.store_id
    WHERE c.filed_at >= %(since_1y_at)s GROUP BY c.store_id
), ext AS (
    SELECT r.store_id, avg(r.stars)::float AS mean
    FROM compliance_externalrating r JOIN s ON s.id = r.store_id
    WHERE r.rated_at >= %(since_1y_at)s GROUP BY r.store_id
), lic AS (
    SELECT l.store_id, min(l.valid_from) AS first_from,
           bool_or(l.verification = 'verified'
                   AND (l.valid_from IS NULL OR l.valid_from <= %(today)s)
                   AND (l.valid_to IS NULL OR l.valid_to >= %(today)s)) AS ok
    FROM compliance_licence l JOIN s ON s.id = l.store_id
    WHERE l.kind = 'food_business' GROUP BY l.store_id
)
SELECT s.id, coalesce(crit.n, 0), coalesce(lastfail.failed, false), %(today)s - insp.last_on,
       coalesce(comp.n, 0), coalesce(comp.n_food, 0),
       CASE WHEN s.rating_count > 0 THEN s.rating_sum::float / s.rating_count END,
       ext.mean, %(today)s - lic.first_from, coalesce(lic.ok, false)
FROM s
LEFT JOIN insp ON insp.store_id = s.id
LEFT JOIN lastfail ON lastfail.store_id = s.id
LEFT JOIN crit ON crit.store_id = s.id
LEFT JOIN comp ON comp.store_id = s.id
LEFT JOIN ext ON ext.store_id = s.id
LEFT JOIN lic ON lic.store_id = s.id
"""


def _features(where: str, params: dict[str, Any], today: datetime.date) -> list[RiskFeatures]:
    year_ago = datetime.datetime.combine(today - datetime.timedelta(days=365), datetime.time())
    params = {
        **params,
        "today": today,
        "since_3y": today - datetime.timedelta(days=3 * 365),
        "since_1y_at": timezone.make_aware(year_ago),
        "failing": [f"{scheme}:{grade}" for scheme, grades in FAILING_GRADES.items() for grade in grades],
    }
    with connection.cursor() as cursor:
        cursor.execute(_FEATURES_SQL.format(where=where), params)
        rows = cursor.fetchall()
    return [RiskFeatures(*row) for row in rows]


def store_risk_features(store_ids: list[int], *, today: datetime.date | None = None) -> list[RiskFeatures]:
    if not store_ids:
        return []
    return _features("st.id = ANY(%(ids)s)", {"ids": list(store_ids)}, today or timezone.localdate())


def store_risk_scores(store_ids: list[int], *, today: datetime.date | None = None) -> dict[int, float]:
    """Risk score in (0, 1) per store id, in one query whatever the number of stores."""
    return {f.store_id: risk_score(f) for f in store_risk_features(store_ids, today=today)}


@dataclass(frozen=True, slots=True)
class QueueEntry:
    store_id: int
    risk: float
    features: RiskFeatures


def inspection_queue(
    *, regulator: RegulatorProfile, limit: int = 50, today: datetime.date | None = None
) -> list[QueueEntry]:
    """The stores of the regulator's district (its polygon covers the pin), riskiest first.

    Stores that are closed for good are left out; ties go to the longest uninspected, then id."""
    rows = _features(
        "st.status <> 'closed' AND ST_Covers("
        "(SELECT district FROM accounts_regulatorprofile WHERE id = %(regulator)s), st.location::geometry)",
        {"regulator": regulator.pk},
        today or timezone.localdate(),
    )
    entries = [QueueEntry(store_id=f.store_id, risk=risk_score(f), features=f) for f in rows]
    entries.sort(
        key=lambda e: (
            -e.risk,
            -(e.features.days_since_inspection if e.features.days_since_inspection is not None else 10**6),
            e.store_id,
        )
    )
    return entries[:limit]
