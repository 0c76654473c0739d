"""Events reach a group only when the transaction that caused them commits."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from core.realtime import event_push_on_commit, group_for_store

pytestmark = pytest.mark.django_db(transaction=True)


async def _listen(group: str) -> tuple[object, str]:
    layer = get_channel_layer()
    assert layer is not None
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


async def _next(layer: object, channel: str) -> dict[str, object] | None:
    try:
        return await asyncio.wait_for(layer.receive(channel), 1.0)  # type: ignore[attr-defined]
    except TimeoutError:
        return None


def test_event_is_sent_after_commit_and_not_after_rollback() -> None:
    group = group_for_store(42)

    async def scenario() -> tuple[dict[str, object] | None, dict[str, object] | None]:
        layer, channel = await _listen(group)

        def rolled_back() -> None:
            with transaction.atomic():
                event_push_on_commit(group, "order.created", {"order": 1})
                transaction.set_rollback(True)

        def committed() -> None:
            with transaction.atomic():
                event_push_on_commit(group, "order.created", {"order": 2})

        await database_sync_to_async(rolled_back)()
        after_rollback = await _next(layer, channel)
        await database_sync_to_async(committed)()
        after_commit = await _next(layer, channel)
        return after_rollback, after_commit

    after_rollback, after_commit = asyncio.run(scenario())
    assert after_rollback is None
    assert after_commit == {"type": "event.push", "event": {"type": "order.created", "v": 1, "order": 2}}
