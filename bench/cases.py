"""The regulator's queue and the audit chain at a city's scale.

- `queue_for` for a regulator whose district holds 2,000 flagged stores (and 2,000 outside it):
  latency of one queue (ms, median and p95 of 20 runs).
- `case_audit_verify` on a case with 1,000 audit rows: latency of one verification (ms).

Everything is written inside one transaction that is rolled back at the end, so the database
(the demo city) is left as it was. Figures taken on a shared machine are provisional.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.common import emit, log, percentile, setup_django

STORES_INSIDE = 2_000
STORES_OUTSIDE = 2_000
EVENTS = 1_000
RUNS = 20
SEED = 20261124


class _Rollback(Exception):
    pass


def run() -> list[dict[str, Any]]:
    setup_django()
    from django.contrib.gis.geos import Point
    from django.db import transaction
    from django.utils import timezone

    from accounts.tests.factories import RegulatorFactory, square
    from compliance.cases.models import Case
    from compliance.cases.selectors import queue_for
    from compliance.cases.services import _audit_append, case_audit_verify
    from compliance.models import Flag
    from delivery.models import Store

    records: list[dict[str, Any]] = []
    rng = random.Random(SEED)
    try:
        with transaction.atomic():
            regulator = RegulatorFactory(
                user__username="bench-regulator", jurisdiction_name="Bench", district=square(121.45, 31.23, 0.05)
            ).user
            stores = []
            for i in range(STORES_INSIDE + STORES_OUTSIDE):
                lng = 121.45 + rng.uniform(-0.045, 0.045) + (0 if i < STORES_INSIDE else 0.3)
                lat = 31.23 + rng.uniform(-0.045, 0.045)
                stores.append(
                    Store(
                        name_zh=f"基准店{i}",
                        name_en=f"Bench {i}",
                        address="上海市",
                        location=Point(lng, lat, srid=4326),
                        status=Store.Status.LIVE,
                    )
                )
            stores = Store.objects.bulk_create(stores)
            now = timezone.now()
            codes = ("LICENCE_SHARED", "ADDRESS_SHARED", "PIN_MISMATCH", "LOW_RATING")
            severities = list(Flag.Severity.values)
            Flag.objects.bulk_create(
                [
                    Flag(
                        code=rng.choice(codes),
                        store=store,
                        severity=rng.choice(severities),
                        evidence={"bench": True},
                        raised_at=now,
                        evaluated_at=now,
                    )
                    for store in stores
                ]
            )
            log(f"{len(stores)} stores with a flag each; timing queue_for")
            timings = []
            for _ in range(RUNS):
                started = time.perf_counter()
                rows = queue_for(regulator)
                timings.append((time.perf_counter() - started) * 1000)
            assert len(rows) == STORES_INSIDE, len(rows)
            records.append(
                emit(
                    "cases",
                    "queue_for_ms_median",
                    percentile(timings, 50),
                    "ms",
                    {"p95_ms": round(percentile(timings, 95), 1), "rows": len(rows), "runs": RUNS},
                )
            )
            case = Case.objects.create(store=stores[0], source=Case.Source.REGULATOR, title="bench")
            for i in range(EVENTS):
                _audit_append(case, actor=regulator, actor_role="regulator", action="note", payload={"text": f"n{i}"})
            timings = []
            for _ in range(RUNS):
                started = time.perf_counter()
                broken = case_audit_verify(case)
                timings.append((time.perf_counter() - started) * 1000)
            assert broken is None
            records.append(
                emit(
                    "cases",
                    "audit_verify_ms_median",
                    percentile(timings, 50),
                    "ms",
                    {"p95_ms": round(percentile(timings, 95), 1), "events": EVENTS, "runs": RUNS},
                )
            )
            raise _Rollback
    except _Rollback:
        log("rolled back the bench rows")
    return records
