"""A real Celery worker on the Redis broker runs a real task that writes to the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from core.tasks import sessions_clear_expired

pytestmark = [pytest.mark.live]


def test_worker_runs_sessions_clear_expired(celery_worker: Any) -> None:
    now = timezone.now()
    Session.objects.create(session_key="expired" + "x" * 25, session_data="", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="current" + "y" * 25, session_data="", expire_date=now + timedelta(days=1))

    deleted = sessions_clear_expired.delay().get(timeout=30)

    assert deleted == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["current" + "y" * 25]


def test_rerun_does_nothing(celery_worker: Any) -> None:
    """Idempotent (hence acks_late): a rerun finds nothing to delete."""
    assert sessions_clear_expired.delay().get(timeout=30) == 0
