"""Writes for inspections."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import transaction

from accounts.models import User
from compliance.inspections.models import Inspection, InspectionViolation
from compliance.inspections.schemes import ViolationInput, grade_for
from delivery.models import Store


@transaction.atomic
def inspection_record(
    *,
    store: Store,
    inspected_on: datetime.date,
    scheme: str,
    violations: Sequence[ViolationInput],
    kind: str = Inspection.Kind.ROUTINE,
    inspector: User | None = None,
    external_ref: str | None = None,
) -> Inspection:
    """Record an inspection with its violations, scored and graded by `scheme`.

    With an `external_ref` (an import) a second call updates that inspection instead of adding
    one: its violations are replaced."""
    result = grade_for(scheme, violations)
    fields = {
        "store": store,
        "inspected_on": inspected_on,
        "kind": kind,
        "scheme": scheme,
        "inspector": inspector,
        "score": result.score,
        "grade": result.grade,
    }
    if external_ref:
        inspection, _ = Inspection.objects.update_or_create(external_ref=external_ref, defaults=fields)
        inspection.violations.all().delete()
    else:
        inspection = Inspection.objects.create(**fields)
    InspectionViolation.objects.bulk_create(
        InspectionViolation(
            inspection=inspection, code=v.code, description=v.description, points=v.points, critical=v.critical
        )
        for v in violations
    )
    return inspection
