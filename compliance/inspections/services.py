"""Writes for inspections: record (scored by the jurisdiction's scheme), contest, finalise."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from compliance.inspections.models import Inspection, InspectionEvent, InspectionViolation
from compliance.inspections.schemes import Result, ViolationInput, grade_for
from delivery.models import Store

# The merchant may contest a new grade for this many days (settings.INSPECTION_CONTEST_DAYS
# overrides it). NYC gives a "Grade Pending" period until the adjudication hearing; 14 days is
# our default, not a borrowed figure.
DEFAULT_CONTEST_DAYS = 14


class InspectionRefused(Exception):
    """A transition that is not allowed now: `code` is stable for the API and the forms."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def contest_days() -> int:
    return int(getattr(settings, "INSPECTION_CONTEST_DAYS", DEFAULT_CONTEST_DAYS))


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
    published: Result | None = None,
    contestable: bool | None = None,
    notes: str = "",
) -> Inspection:
    """Record an inspection with its violations, scored and graded by `scheme`.

    With an `external_ref` (an import) a second call updates that inspection instead of adding
    one: its violations are replaced. `published` carries a score and grade as the source
    published them (an open-data feed whose violations carry no points); otherwise the scheme
    computes them. A grade is `pending` with a contest window when `contestable` (by default:
    an inspection recorded here, not an import), `final` otherwise."""
    result = published if published is not None else grade_for(scheme, violations)
    if contestable is None:
        contestable = external_ref is None
    today = timezone.localdate()
    fields = {
        "store": store,
        "inspected_on": inspected_on,
        "kind": kind,
        "scheme": scheme,
        "inspector": inspector,
        "score": result.score,
        "grade": result.grade,
        "failed": result.failed,
        "notes": notes,
        "grade_state": Inspection.GradeState.PENDING if contestable else Inspection.GradeState.FINAL,
        "contest_until": today + datetime.timedelta(days=contest_days()) if contestable else None,
    }
    if external_ref:
        inspection, created = Inspection.objects.update_or_create(external_ref=external_ref, defaults=fields)
        if not created:
            inspection.violations.all().delete()
    else:
        inspection, created = Inspection.objects.create(**fields), True
    InspectionViolation.objects.bulk_create(
        InspectionViolation(
            inspection=inspection,
            code=v.code,
            description=v.description[:500],
            points=v.points,
            critical=v.critical,
        )
        for v in violations
    )
    if created:
        InspectionEvent.objects.create(
            inspection=inspection, actor=inspector, action="recorded", to_state=inspection.grade_state
        )
    return inspection


def inspection_can_contest(inspection: Inspection, *, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return (
        inspection.grade_state == Inspection.GradeState.PENDING
        and inspection.contested_at is None
        and inspection.contest_until is not None
        and today <= inspection.contest_until
    )


@transaction.atomic
def inspection_contest(*, inspection: Inspection, actor: User, reply: str) -> Inspection:
    """The merchant contests a pending grade with a reply, once: a compare-and-swap on
    `contested_at IS NULL` inside the window, so a double submit or a retry writes once.

    The grade stays pending (a regulator reviews the reply); the reply is public beside it."""
    reply = reply.strip()
    if not reply:
        raise InspectionRefused("reply_required", "Write your reply.")
    now = timezone.now()
    claimed = Inspection.objects.filter(
        pk=inspection.pk,
        grade_state=Inspection.GradeState.PENDING,
        contested_at__isnull=True,
        contest_until__gte=timezone.localdate(),
    ).update(contested_at=now, merchant_reply=reply[:4000], merchant_reply_at=now)
    inspection.refresh_from_db()
    if not claimed:
        if inspection.contested_at is not None:
            raise InspectionRefused("already_replied", "This grade already has your reply.")
        raise InspectionRefused("contest_closed", "The window to contest this grade has closed.")
    InspectionEvent.objects.create(
        inspection=inspection,
        actor=actor,
        action="contested",
        from_state=Inspection.GradeState.PENDING,
        to_state=Inspection.GradeState.PENDING,
    )
    return inspection


@transaction.atomic
def inspection_grades_finalise(*, today: datetime.date | None = None) -> int:
    """Finalise every pending grade whose contest window ended before `today`.

    Selected by state, claimed by a compare-and-swap per batch: a rerun (or an overlapping run)
    finds nothing left to do and writes no second event. Returns how many it finalised."""
    today = today or timezone.localdate()
    ids = list(
        Inspection.objects.select_for_update(skip_locked=True)
        .filter(grade_state=Inspection.GradeState.PENDING, contest_until__lt=today)
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    done = Inspection.objects.filter(pk__in=ids, grade_state=Inspection.GradeState.PENDING).update(
        grade_state=Inspection.GradeState.FINAL
    )
    InspectionEvent.objects.bulk_create(
        InspectionEvent(
            inspection_id=pk,
            action="finalised",
            from_state=Inspection.GradeState.PENDING,
            to_state=Inspection.GradeState.FINAL,
            reason="contest window ended",
        )
        for pk in ids
    )
    return done
