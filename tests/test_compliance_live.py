"""Compliance with a real Celery worker: a change re-evaluates its store's flags after commit."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.conf import settings

from accounts.models import User
from compliance.models import Flag, StoreRegistration
from compliance.services.flags import flags_evaluate
from compliance.services.licences import licence_submit
from compliance.tasks import flags_nightly_sweep
from compliance.tests.factories import LegalEntityFactory
from config.celery import app as celery_app
from delivery.models import Store
from delivery.tests.factories import StoreMembershipFactory

pytestmark = [pytest.mark.live]


def _wait_for(predicate: Any, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_submitted_licence_resolves_licence_missing_after_commit(celery_worker: Any) -> None:
    membership = StoreMembershipFactory()
    store: Store = membership.store
    owner: User = membership.user
    StoreRegistration.objects.create(store=store, entity=LegalEntityFactory())
    flags_evaluate()
    assert Flag.objects.filter(code="LICENCE_MISSING", store=store, status=Flag.Status.OPEN).exists()

    licence_submit(
        user=owner,
        store=store,
        kind="food_business",
        number="JY23101060099991",
        valid_from=datetime.date(2026, 1, 1),
        valid_to=datetime.date(2031, 1, 1),
    )

    assert _wait_for(
        lambda: not Flag.objects.filter(code="LICENCE_MISSING", store=store, status=Flag.Status.OPEN).exists()
    ), "the worker did not re-evaluate the store's flags"


def test_the_nightly_sweep_is_scheduled_and_runs(celery_worker: Any) -> None:
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"compliance.tasks.flags_nightly_sweep", "compliance.tasks.health_certificate_reminders_send"} <= names
    assert "compliance.tasks.flags_nightly_sweep" in celery_app.tasks
    assert flags_nightly_sweep.delay().get(timeout=60) == {"raised": 0, "updated": 0, "resolved": 0}
