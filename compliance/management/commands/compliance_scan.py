"""`manage.py compliance_scan --as-of DATE --json`: run every flag rule, print the open flags."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.selectors import open_flags_report
from compliance.services.flags import flags_evaluate


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--as-of {value!r} is not an ISO date (YYYY-MM-DD)") from error


class Command(BaseCommand):
    help = "Run every flag rule as of a day (today by default) and print the open flags."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", dest="as_of", type=str, default=None, help="scan date, YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="print a JSON array of the open flags")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _date(options["as_of"]) if options["as_of"] else None
        result = flags_evaluate(as_of=as_of)
        flags = open_flags_report()
        if options["json"]:
            self.stdout.write(json.dumps(flags, ensure_ascii=False, indent=1))
            return
        self.stdout.write(f"raised {result.raised}, updated {result.updated}, resolved {result.resolved}")
        for flag in flags:
            subject = flag["store"] or flag["entity"] or flag["store_id"] or flag["entity_id"]
            self.stdout.write(f"{flag['code']:<22} {flag['severity']:<8} {subject}")
