"""`python manage.py export_inspections DIR`: our final inspections as a LIVES feed
(DIR/lives/), and as DIR/inspections.csv (one row per inspection) and DIR/inspections.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from compliance.inspections.lives import inspections_csv, inspections_json, lives_export, lives_write


class Command(BaseCommand):
    help = "Export final inspections: a LIVES feed in DIR/lives/, and DIR/inspections.csv and .json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument("--municipality-name", default="Mingchu")

    def handle(self, *args: Any, directory: Path, municipality_name: str, **options: Any) -> None:
        lives_write(directory / "lives", lives_export(municipality_name=municipality_name))
        (directory / "inspections.csv").write_text(inspections_csv(), encoding="utf-8")
        (directory / "inspections.json").write_text(inspections_json(), encoding="utf-8")
        self.stdout.write(f"written to {directory}")
