"""`manage.py import_registry FILE.json`: load a merchant registry (merchant-registry-format.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from compliance.services.registry import RegistryInvalid, registry_import


class Command(BaseCommand):
    help = "Import a merchant registry JSON file; all of it or, when any record is bad, none of it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror or error}") from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(f"{path}: not a UTF-8 JSON file: {error}") from error
        try:
            report = registry_import(data=data)
        except RegistryInvalid as error:
            for problem in error.errors:
                self.stderr.write(problem)
            raise CommandError(f"{path}: {len(error.errors)} problem(s); nothing was imported") from error
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        created = ", ".join(f"{n} {label}" for label, n in sorted(report.created.items()) if n) or "nothing"
        updated = ", ".join(f"{n} {label}" for label, n in sorted(report.updated.items()) if n) or "nothing"
        self.stdout.write(f"imported {path}: created {created}; updated {updated}")
