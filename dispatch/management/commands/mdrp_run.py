"""`manage.py mdrp_run INSTANCE_DIR --out DIR [--ready exact|estimated] [--policy engine|naive]`:
replay one MDRP instance through the dispatch library and write its solution (see
dispatch/mdrp/). Fails (exit 1) if the evaluator finds a broken rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dispatch.mdrp.instance import InstanceError
from dispatch.mdrp.run import RuleBroken, run_instance


class Command(BaseCommand):
    help = "Replay an MDRP instance in simulated time and write orders.csv, stops.csv, metrics.json."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("instance_dir", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--ready", choices=["exact", "estimated"], default="exact")
        parser.add_argument("--policy", choices=["engine", "naive"], default="engine")
        parser.add_argument(
            "--set", action="append", default=[], metavar="NAME=VALUE", help="override an engine Params field"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        overrides: dict[str, Any] = {}
        for item in options["set"]:
            name, _, value = item.partition("=")
            try:
                overrides[name] = float(value) if name != "travel_rounding" else value
            except ValueError as exc:
                raise CommandError(f"--set {item}: not a number") from exc
        try:
            figures = run_instance(
                options["instance_dir"],
                options["out"],
                policy=options["policy"],
                ready=options["ready"],
                overrides=overrides,
            )
        except (InstanceError, TypeError) as exc:
            raise CommandError(str(exc)) from exc
        except RuleBroken as exc:
            raise CommandError(str(exc)) from exc
        keys = ["instance", "orders", "delivered", "pct_undelivered", "ctd_mean", "rtp_mean", "cost_per_order"]
        keys += ["orders_per_bundle", "wall_s"]
        self.stdout.write(json.dumps({k: figures[k] for k in keys}))
