"""Grade states: pending with a contest window, one reply, the beat sweep finalising."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from compliance.inspections.models import Inspection, InspectionEvent, ViolationCode
from compliance.inspections.schemes import ViolationInput
from compliance.inspections.services import (
    InspectionRefused,
    inspection_contest,
    inspection_grades_finalise,
    inspection_record,
)
from compliance.inspections.tasks import inspection_grades_finalise as finalise_task
from compliance.inspections.tests.factories import violation_codes_ensure
from delivery.models import Store

pytestmark = pytest.mark.django_db


def _record(store: Store, **kw: object) -> Inspection:
    return inspection_record(
        store=store,
        inspected_on=timezone.localdate(),
        scheme="cn",
        violations=[ViolationInput(code="CN-05", points=10, critical=True)],
        **kw,  # type: ignore[arg-type]
    )


def test_code_lists_are_seeded_for_each_scheme() -> None:
    violation_codes_ensure()  # the data migration's rows (a transactional test may have flushed them)
    violation_codes_ensure()  # idempotent
    schemes = set(ViolationCode.objects.values_list("scheme", flat=True))
    assert {"nyc", "cn", "fhrs"} <= schemes
    assert ViolationCode.objects.filter(scheme="cn", critical=True).exists()


def test_recorded_inspection_is_pending_with_a_window(store: Store, regulator: User, settings: Any) -> None:
    settings.INSPECTION_CONTEST_DAYS = 10
    inspection = _record(store, inspector=regulator)
    assert (inspection.score, inspection.grade, inspection.failed) == (90, "优秀", False)
    assert inspection.grade_state == Inspection.GradeState.PENDING
    assert inspection.contest_until == timezone.localdate() + datetime.timedelta(days=10)
    assert list(inspection.events.values_list("action", "to_state")) == [("recorded", "pending")]


def test_imported_inspection_is_final_and_idempotent(store: Store) -> None:
    first = _record(store, external_ref="x:1")
    again = _record(store, external_ref="x:1")
    assert first.pk == again.pk
    assert again.grade_state == Inspection.GradeState.FINAL
    assert again.violations.count() == 1
    assert InspectionEvent.objects.filter(inspection=again).count() == 1


def test_merchant_contests_once_and_the_reply_is_kept(store: Store, owner: User) -> None:
    inspection = _record(store)
    inspection_contest(inspection=inspection, actor=owner, reply="  The fridge was fixed that day. ")
    inspection.refresh_from_db()
    assert inspection.merchant_reply == "The fridge was fixed that day."
    assert inspection.contested_at is not None
    with pytest.raises(InspectionRefused) as refused:
        inspection_contest(inspection=inspection, actor=owner, reply="second thoughts")
    assert refused.value.code == "already_replied"
    inspection.refresh_from_db()
    assert inspection.merchant_reply == "The fridge was fixed that day."
    assert inspection.events.filter(action="contested").count() == 1


def test_contest_refused_after_the_window_and_when_final(store: Store, owner: User) -> None:
    late = _record(store)
    Inspection.objects.filter(pk=late.pk).update(contest_until=timezone.localdate() - datetime.timedelta(days=1))
    with pytest.raises(InspectionRefused) as refused:
        inspection_contest(inspection=late, actor=owner, reply="too late")
    assert refused.value.code == "contest_closed"
    final = _record(store, external_ref="imported")
    with pytest.raises(InspectionRefused):
        inspection_contest(inspection=final, actor=owner, reply="no")
    with pytest.raises(InspectionRefused) as empty:
        inspection_contest(inspection=_record(store), actor=owner, reply="   ")
    assert empty.value.code == "reply_required"


def test_sweep_finalises_expired_windows_and_a_rerun_does_nothing(store: Store) -> None:
    today = timezone.localdate()
    expired, open_ = _record(store), _record(store)
    Inspection.objects.filter(pk=expired.pk).update(contest_until=today - datetime.timedelta(days=1))
    assert inspection_grades_finalise(today=today) == 1
    assert inspection_grades_finalise(today=today) == 0
    expired.refresh_from_db()
    open_.refresh_from_db()
    assert expired.grade_state == Inspection.GradeState.FINAL
    assert open_.grade_state == Inspection.GradeState.PENDING
    assert expired.events.filter(action="finalised").count() == 1
    # The task wraps the same service (called in-process here; the worker test covers Celery).
    assert finalise_task() == 0
