"""Platform housekeeping tasks (scheduled by Celery beat)."""

from __future__ import annotations

from celery import shared_task

from core.services import sessions_clear_expired as _sessions_clear_expired


@shared_task(name="core.tasks.sessions_clear_expired", acks_late=True)
def sessions_clear_expired() -> int:
    """Delete expired sessions; idempotent (a rerun finds nothing), hence acks_late."""
    return _sessions_clear_expired()
