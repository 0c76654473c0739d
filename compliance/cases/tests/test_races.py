"""Races on purpose: two regulators acting on one case at once, two opening the same flag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from accounts.models import User
from accounts.tests.factories import RegulatorFactory
from compliance.cases.models import Case, CaseEvent
from compliance.cases.services import case_audit_verify, case_note, case_open_from_flag, case_triage
from compliance.models import Flag

pytestmark = pytest.mark.django_db(transaction=True)


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects what each thread got
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_regulators_open_one_flag_at_once_and_get_one_case(regulator: User, flag: Flag) -> None:
    colleague = RegulatorFactory(user__username="regulator-wu").user
    results = _race(
        lambda: case_open_from_flag(regulator=regulator, flag=flag),
        lambda: case_open_from_flag(regulator=colleague, flag=flag),
    )
    assert all(isinstance(r, Case) for r in results), results
    assert {r.pk for r in results} == {Case.objects.get().pk}
    assert CaseEvent.objects.filter(action="open").count() == 1


def test_two_regulators_triage_at_once_and_one_move_is_recorded(regulator: User, flag: Flag) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    colleague = RegulatorFactory(user__username="regulator-wu").user
    results = _race(
        lambda: case_triage(regulator=regulator, case=Case.objects.get(pk=case.pk)),
        lambda: case_triage(regulator=colleague, case=Case.objects.get(pk=case.pk)),
    )
    assert all(isinstance(r, Case) for r in results), results  # the loser is an idempotent success
    assert CaseEvent.objects.filter(case=case, action="triage").count() == 1
    assert case_audit_verify(case) is None


def test_notes_written_at_once_keep_one_unbroken_chain(regulator: User, flag: Flag) -> None:
    case = case_open_from_flag(regulator=regulator, flag=flag)
    results = _race(*[lambda i=i: case_note(regulator=regulator, case=case, text=f"note {i}") for i in range(4)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert case_audit_verify(case) is None
