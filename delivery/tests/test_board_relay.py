"""The store relay's group membership stays alive while its boards stay connected."""

from __future__ import annotations

import asyncio
from typing import Any

from delivery.consumers import RELAY_RENEW_SECONDS, _StoreRelay


class _Layer:
    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    async def new_channel(self) -> str:
        return "relay!1"

    async def group_add(self, group: str, channel: str) -> None:
        self.added.append((group, channel))

    async def group_discard(self, group: str, channel: str) -> None:
        pass

    async def receive(self, channel: str) -> dict[str, Any]:
        await asyncio.Event().wait()  # no events in this test
        return {}


class _Board:  # the relay holds its boards weakly: any object that takes a weak reference
    pass


def test_pings_renew_the_membership_at_most_once_per_period() -> None:
    async def scenario() -> list[tuple[str, str]]:
        layer = _Layer()
        relay = _StoreRelay(layer, "store.7", (asyncio.get_running_loop(), "store.7"))
        board = _Board()
        await relay.join(board)  # type: ignore[arg-type]
        await relay.renew()  # just joined: nothing to renew
        relay.joined_at -= RELAY_RENEW_SECONDS  # an hour of pings later
        await relay.renew()
        await relay.renew()
        assert relay.task is not None
        relay.task.cancel()
        return layer.added

    assert asyncio.run(scenario()) == [("store.7", "relay!1")] * 2
