from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.demo import seed_demo_city
from delivery.models import Store


class Command(BaseCommand):
    help = "Create the demo city (part of Jing'an and Huangpu, Shanghai). Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-empty", action="store_true", help="do nothing when any store exists")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and Store.objects.exists():
            self.stdout.write("The database already has stores: demo city not seeded.")
            return
        counts = seed_demo_city()
        self.stdout.write(self.style.SUCCESS("Demo city ready: " + ", ".join(f"{v} {k}" for k, v in counts.items())))
