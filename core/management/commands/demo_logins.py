from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from core.demo import demo_logins


class Command(BaseCommand):
    help = "Print the URL and one demo login per role."

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = settings.WEB_HOST, settings.WEB_PORT
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(f"Mingchu: http://{host}:{port}/   (health: http://{host}:{port}/healthz)")
        )
        self.stdout.write(f"Demo logins (password for all: {settings.DEMO_PASSWORD}):")
        for login in demo_logins():
            self.stdout.write(f"  {login.role:<17} {login.username:<18} {login.note}")
        self.stdout.write("Ctrl-C stops every process.\n")
