"""The store's board sees dispatch progress: looking for a courier and for how long, the offer's
status, the courier assigned and how far they are from the store, live and throttled."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import Client
from django.urls import reverse

from accounts.models import User
from core.realtime import group_for_store
from core.redis import state_redis
from delivery.models import Store
from dispatch.models import Courier
from dispatch.services.locations import Ping, courier_location_update, positions_flush
from dispatch.services.offers import offer_accept, offer_create
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch

pytestmark = pytest.mark.django_db


def _board(user: User, store: Store) -> dict[str, dict]:  # type: ignore[type-arg]
    client = Client()
    client.force_login(user)
    response = client.get(reverse("api-board", args=[store.pk]))
    assert response.status_code == 200
    return {o["number"]: o for o in response.json()["orders"]}


def test_the_board_api_shows_looking_offered_then_the_courier_approaching(
    diner: User, store: Store, owner: User, outsider: User
) -> None:
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)
    # The store is at (121.45, 31.23) in the factories; the courier about 1.1 km east of it.
    courier = idle_courier(lng=121.4615, lat=31.23, speed_kmh=15)

    shown = _board(owner, store)[order.number]["dispatch"]
    assert shown["state"] == "waiting" and shown["looking"] and shown["looking_since"]
    assert shown["offer"] is None and shown["courier"] is None

    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    shown = _board(owner, store)[order.number]["dispatch"]
    assert shown["looking"] and shown["offer"]["status"] == "pending"
    assert shown["offer"]["expires_at"] == offer.expires_at.isoformat()

    offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)
    shown = _board(owner, store)[order.number]["dispatch"]
    assert not shown["looking"] and shown["offer"] is None
    c = shown["courier"]
    assert c["state"] == Courier.State.TO_STORE and c["name"]
    # 0.0115° of longitude at 31.23° N: 0.0115 × 111,320 m × cos(31.23°) ≈ 1,095 m.
    assert abs(c["distance_m"] - 1095) < 15
    assert c["eta_minutes"] >= 1

    # An outsider never sees the board.
    client = Client()
    client.force_login(outsider)
    assert client.get(reverse("api-board", args=[store.pk])).status_code in (403, 404)


def test_the_courier_approaching_reaches_the_store_group_throttled(diner: User, store: Store, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BOARD_APPROACH_SECONDS = 15
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)
    courier = idle_courier(lng=121.47, lat=31.23)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_for_store(store.pk), channel)
    client = state_redis()
    now = time.time()

    def ping(lng: float, ts: float) -> None:
        courier_location_update(
            client, courier_id=courier.pk, ping=Ping(lat=31.23, lng=lng, accuracy=5, heading=0, speed=4, ts=ts), now=ts
        )
        positions_flush(client)

    ping(121.46, now)
    event = async_to_sync(layer.receive)(channel)["event"]
    assert event["type"] == "courier.approaching" and event["number"] == order.number
    first = event["distance_m"]
    ping(121.455, now + 5)  # within the throttle: nothing for the board
    ping(121.452, now + 16)
    event = async_to_sync(layer.receive)(channel)["event"]
    assert event["type"] == "courier.approaching"
    assert event["distance_m"] < first / 3  # the second ping was skipped, the third is nearer
    async_to_sync(layer.group_discard)(group_for_store(store.pk), channel)
