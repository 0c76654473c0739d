"""Compliance sweeps run by Celery beat: each calls one idempotent service."""

from __future__ import annotations

from celery import shared_task

from compliance.services.complaints import complaints_escalate as _complaints_escalate


@shared_task(name="compliance.cases.tasks.complaints_escalate", acks_late=True)
def complaints_escalate() -> int:
    """Escalate each breached complaint deadline once; a rerun escalates nothing twice."""
    return _complaints_escalate()
