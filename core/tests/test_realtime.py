"""Events reach a group only when the transaction that caused them commits."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from core.realtime import event_push, event_push_on_commit, group_for_store

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


def test_pushes_from_several_plain_threads_all_arrive_in_each_threads_order() -> None:
    """Sync code outside any event loop (Celery, the dispatcher) pushes through one publisher
    loop per process; pushes from several threads at once must all arrive, each thread's in
    the order it sent them."""
    group = group_for_store(43)
    threads, per_thread = 4, 10

    async def scenario() -> list[dict[str, object]]:
        layer, channel = await _listen(group)

        def pusher(name: int) -> None:
            for seq in range(per_thread):
                event_push(group, "order.updated", {"thread": name, "seq": seq})

        await asyncio.gather(*(asyncio.to_thread(pusher, name) for name in range(threads)))
        received = []
        while (message := await _next(layer, channel)) is not None:
            received.append(message["event"])
        return received  # type: ignore[return-value]

    events = asyncio.run(scenario())
    assert len(events) == threads * per_thread
    for name in range(threads):
        assert [e["seq"] for e in events if e["thread"] == name] == list(range(per_thread))
