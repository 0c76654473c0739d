"""`manage.py simulate` against a live Daphne and the real dispatcher: simulated diners order and
pay through the API, simulated couriers stream positions over WebSockets, get offers, ride, and
deliver with the diner's code."""

from __future__ import annotations

import asyncio

import pytest
from django.contrib.gis.geos import Point

from accounts.tests.factories import square as square_zone
from delivery.models import Order
from delivery.tests.factories import build_menu_store
from dispatch.simulator import simulate
from tests.conftest import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_simulated_couriers_deliver_simulated_orders(daphne_server: LiveServer, dispatcher: object) -> None:
    build_menu_store(location=Point(121.441, 31.238, srid=4326), zone=square_zone(121.441, 31.238, 0.03))

    stats = asyncio.run(
        simulate(
            base=daphne_server.url,
            couriers=3,
            diners=2,
            orders_per_minute=20,
            duration=35,
            speedup=120,
            accept_rate=1.0,
            ping_seconds=1.2,
            prefix="simtest",
            seed=3,
            play_restaurants=True,
        )
    )

    assert stats.orders_placed >= 2 and stats.acks > 0, stats
    assert stats.offers >= 1 and stats.delivered >= 1, stats
    assert Order.objects.filter(status=Order.Status.DELIVERED, diner__username__startswith="simtest").exists()
