"""`python manage.py import_lives DIR`: import a LIVES inspection feed (all or nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.inspections.lives import LivesError, lives_import


class Command(BaseCommand):
    help = "Import a LIVES 1.0 feed (businesses, inspections, violations, legend, feed_info)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--municipality", help="prefix of the external refs (default: feed_info's name)")

    def handle(self, *args: Any, directory: Path, municipality: str | None, **options: Any) -> None:
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        try:
            report = lives_import(directory, municipality=municipality)
        except LivesError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{report.municipality}: {report.stores_created} stores created, {report.stores_matched} matched, "
            f"{len(report.businesses_skipped)} businesses without coordinates skipped; "
            f"{report.inspections} inspections, {report.violations} violations "
            f"({report.violations_unmatched} on dates with no inspection, skipped)"
        )
