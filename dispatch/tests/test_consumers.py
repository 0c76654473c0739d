"""The socket consumers' process-level pieces that the live socket tests do not show."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from pytest_django import Settings

import core.realtime
from core.realtime import server_gc_once
from dispatch.consumers import CourierConsumer


@pytest.fixture
def saved_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    core.realtime._gc_tuned = False
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
        core.realtime._gc_tuned = False


@pytest.mark.usefixtures("saved_thresholds")
def test_a_process_serving_sockets_takes_the_configured_gc_thresholds_and_freezes_its_heap(settings: Settings) -> None:
    settings.WEB_GC_THRESHOLDS = [12_345, 7, 9]
    server_gc_once()
    assert gc.get_threshold() == (12_345, 7, 9)
    assert gc.get_freeze_count() > 0
    # Once per process: a later change of the setting is not applied by the next socket.
    settings.WEB_GC_THRESHOLDS = [777, 1, 1]
    server_gc_once()
    assert gc.get_threshold() == (12_345, 7, 9)


@pytest.mark.usefixtures("saved_thresholds")
def test_no_thresholds_keep_pythons_own(settings: Settings) -> None:
    before = gc.get_threshold()
    settings.WEB_GC_THRESHOLDS = []
    server_gc_once()
    assert gc.get_threshold() == before


def test_the_consumer_refuses_a_message_it_has_no_handler_for() -> None:
    # The consumer's own dispatch (no per-message database clean-up) keeps Channels' contract.
    consumer = CourierConsumer()
    with pytest.raises(ValueError, match="No handler"):
        asyncio.run(consumer.dispatch({"type": "no.such.thing"}))
    with pytest.raises(ValueError):
        asyncio.run(consumer.dispatch({"text": "no type"}))
