"""Reads for the pages of the web app."""

from __future__ import annotations

from typing import TypedDict

from delivery.models import Store


class StorePin(TypedDict):
    id: int
    name: str
    lat: float
    lng: float


def store_pins_live() -> list[StorePin]:
    """Every live store's map pin, for the home page map."""
    stores = Store.objects.filter(status=Store.Status.LIVE).only("id", "name_zh", "name_en", "location")
    return [StorePin(id=s.pk, name=s.display_name, lat=s.location.y, lng=s.location.x) for s in stores.order_by("pk")]
