"""A suspension with an end date lifts itself when its term ends (the beat sweep), once."""

from __future__ import annotations

import datetime as dt
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from compliance.cases.models import Case, CaseEvent
from compliance.cases.services import case_audit_verify
from compliance.cases.tasks import suspensions_ended_lift as suspensions_ended_lift_task
from compliance.models import Sanction
from compliance.services.sanctions import sanction_impose, suspensions_ended_lift
from delivery.models import Store

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 23)


def _at(day: date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


def _suspend(regulator: User, shop: Store, *, until: date | None, today: date = DAY) -> Sanction:
    return sanction_impose(
        regulator=regulator, store=shop, kind="suspension", reason="Rats", effective_until=until, today=today
    )


@pytest.mark.parametrize("before", [Store.Status.LIVE, Store.Status.PAUSED])
def test_a_suspension_lifts_itself_the_day_after_its_term_and_the_store_goes_back_as_it_was(
    shop: Store, regulator: User, before: str, django_capture_on_commit_callbacks: Any
) -> None:
    Store.objects.filter(pk=shop.pk).update(status=before)
    sanction = _suspend(regulator, shop, until=DAY + timedelta(days=7))
    assert sanction.store_status_before == before
    # Its last day: still in force.
    assert suspensions_ended_lift(today=DAY + timedelta(days=7)) == 0
    assert Store.objects.get(pk=shop.pk).status == Store.Status.SUSPENDED

    with django_capture_on_commit_callbacks(execute=False) as pushes:
        assert suspensions_ended_lift(today=DAY + timedelta(days=8)) == 1
    sanction.refresh_from_db()
    assert sanction.lifted_on == DAY + timedelta(days=8) and sanction.lifted_by is None
    assert Store.objects.get(pk=shop.pk).status == before
    assert pushes, "the store's board hears the lifting"
    # Idempotent: a second sweep lifts nothing and moves nothing.
    Store.objects.filter(pk=shop.pk).update(status=Store.Status.PAUSED)
    assert suspensions_ended_lift(today=DAY + timedelta(days=9)) == 0
    assert Store.objects.get(pk=shop.pk).status == Store.Status.PAUSED


def test_another_sanction_in_force_keeps_the_store_off(shop: Store, regulator: User) -> None:
    short = _suspend(regulator, shop, until=DAY + timedelta(days=3))
    longer = _suspend(regulator, shop, until=DAY + timedelta(days=30))
    # The second suspension remembers the status before the first, not `suspended`.
    assert longer.store_status_before == Store.Status.LIVE
    assert suspensions_ended_lift(today=DAY + timedelta(days=4)) == 1
    short.refresh_from_db()
    assert short.lifted_on is not None
    assert Store.objects.get(pk=shop.pk).status == Store.Status.SUSPENDED
    assert suspensions_ended_lift(today=DAY + timedelta(days=31)) == 1
    assert Store.objects.get(pk=shop.pk).status == Store.Status.LIVE


def test_an_open_ended_suspension_and_a_delisting_never_lift_themselves(shop: Store, regulator: User) -> None:
    _suspend(regulator, shop, until=None)
    assert suspensions_ended_lift(today=DAY + timedelta(days=3650)) == 0
    assert Store.objects.get(pk=shop.pk).status == Store.Status.SUSPENDED


def test_a_store_closed_meanwhile_stays_closed(shop: Store, regulator: User) -> None:
    _suspend(regulator, shop, until=DAY + timedelta(days=3))
    sanction_impose(regulator=regulator, store=shop, kind="delisting", reason="Fraud", today=DAY)
    assert suspensions_ended_lift(today=DAY + timedelta(days=4)) == 1
    assert Store.objects.get(pk=shop.pk).status == Store.Status.CLOSED


def test_the_cases_audit_chain_records_the_end_of_its_suspension(
    shop: Store, regulator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    sanction = _suspend(regulator, shop, until=timezone.localdate() + timedelta(days=5), today=timezone.localdate())
    case = Case.objects.create(
        store=shop,
        source=Case.Source.REGULATOR,
        title="Rats in the kitchen",
        status=Case.Status.DECISION,
        decision=Case.Decision.SUSPENSION,
        sanction=sanction,
    )
    # Time moves on: the beat task, run as Celery runs it, with the clock a week later.
    later = _at(timezone.localdate() + timedelta(days=7))
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert suspensions_ended_lift_task.apply().get() == 1
    assert suspensions_ended_lift_task.apply().get() == 0
    last = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert last is not None and last.action == "sanction_expired" and last.actor_role == "system"
    assert last.payload["store_status"] == Store.Status.LIVE
    assert case_audit_verify(case) is None
    assert Store.objects.get(pk=shop.pk).status == Store.Status.LIVE
