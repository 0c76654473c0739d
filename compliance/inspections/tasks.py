"""Inspection housekeeping (scheduled by Celery beat)."""

from __future__ import annotations

from celery import shared_task

from compliance.inspections.services import inspection_grades_finalise as _inspection_grades_finalise


@shared_task(name="compliance.inspections.tasks.inspection_grades_finalise", acks_late=True)
def inspection_grades_finalise() -> int:
    """Finalise pending grades whose contest window has ended; a rerun finalises nothing twice."""
    return _inspection_grades_finalise()
