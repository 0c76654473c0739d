"""`manage.py simulate`: couriers as real WebSocket clients and diners ordering through the API,
against a running system (`make run`, or any URL). See dispatch.simulator."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.simulator import simulate


class Command(BaseCommand):
    help = "Simulate N couriers (WebSocket clients) and diners placing orders against a running server."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default=f"http://{settings.WEB_HOST}:{settings.WEB_PORT}")
        parser.add_argument("--couriers", type=int, default=20)
        parser.add_argument("--diners", type=int, default=10)
        parser.add_argument("--orders-per-minute", type=float, default=6.0)
        parser.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until Ctrl-C")
        parser.add_argument("--speedup", type=float, default=5.0, help="simulated seconds per real second")
        parser.add_argument("--accept-rate", type=float, default=0.85)
        parser.add_argument("--ping-seconds", type=float, default=4.0)
        parser.add_argument("--prefix", default="sim")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-restaurants", action="store_true", help="do not play the restaurants")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            stats = asyncio.run(
                simulate(
                    base=options["url"],
                    couriers=options["couriers"],
                    diners=options["diners"],
                    orders_per_minute=options["orders_per_minute"],
                    duration=options["duration"],
                    speedup=options["speedup"],
                    accept_rate=options["accept_rate"],
                    ping_seconds=options["ping_seconds"],
                    prefix=options["prefix"],
                    seed=options["seed"],
                    play_restaurants=not options["no_restaurants"],
                )
            )
        except KeyboardInterrupt:
            return
        self.stdout.write(json.dumps(asdict(stats)))
