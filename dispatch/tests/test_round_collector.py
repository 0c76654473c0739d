"""The round pauses Python's cyclic garbage collector while it decides, and always restores it."""

from __future__ import annotations

import gc

import pytest

from dispatch.services import dispatching
from dispatch.services.dispatching import CITY_ZONE, Zone, collector_paused, dispatch_round

pytestmark = pytest.mark.django_db


def test_collector_is_off_inside_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()

    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError
    assert gc.isenabled()


def test_collector_left_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_round_decides_with_the_collector_off(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def waiting(zone: Zone) -> list[object]:
        seen.append(gc.isenabled())
        return []

    monkeypatch.setattr(dispatching, "_waiting", waiting)
    dispatch_round(zone=Zone(key=CITY_ZONE, zone_id=None), lease=None)

    assert seen == [False] and gc.isenabled()
