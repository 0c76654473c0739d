"""A transaction that writes many relevant rows queues one re-evaluation, and a rolled-back one
queues none."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from compliance import tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.flags_evaluate, "delay", lambda **kw: calls.append(kw))
    return calls


def test_one_task_per_transaction_with_every_subject(sent: list[dict[str, Any]]) -> None:
    with transaction.atomic():
        tasks.schedule_flags_reevaluation(store_ids=[3])
        tasks.schedule_flags_reevaluation(store_ids=[1, 3], entity_ids=[7])
        tasks.schedule_flags_reevaluation(entity_ids=[8])
        assert sent == []  # nothing before the commit

    assert sent == [{"store_ids": [1, 3], "entity_ids": [7, 8]}]


def test_a_rolled_back_transaction_queues_nothing_and_the_next_one_still_does(sent: list[dict[str, Any]]) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.schedule_flags_reevaluation(store_ids=[1])
        raise RuntimeError("rolled back")
    assert sent == []

    with transaction.atomic():
        tasks.schedule_flags_reevaluation(store_ids=[2])
    tasks.schedule_flags_reevaluation(store_ids=[5])  # autocommit: at once

    assert sent == [{"store_ids": [2], "entity_ids": []}, {"store_ids": [5], "entity_ids": []}]
