"""One MDRP run end to end: replay, write the files, read them back, check every rule and
recompute the metrics. Used by `manage.py mdrp_run` and `bench/mdrp_table.py`."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from dispatch.engine.types import Params
from dispatch.mdrp.evaluate import Violation, check, metrics
from dispatch.mdrp.instance import read_instance
from dispatch.mdrp.simulate import Policy, ReadyMode, mdrp_params, replay
from dispatch.mdrp.solution import read_solution, write_solution


class RuleBroken(RuntimeError):
    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        shown = "\n".join(f"  {v}" for v in violations[:20])
        more = f"\n  ... and {len(violations) - 20} more" if len(violations) > 20 else ""
        super().__init__(f"the solution breaks {len(violations)} rule check(s):\n{shown}{more}")


def run_instance(
    folder: Path,
    out: Path,
    *,
    policy: Policy = "engine",
    ready: ReadyMode = "exact",
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay the instance in `folder`, write orders.csv, stops.csv and metrics.json to `out`,
    and return the metrics. Raises RuleBroken (after writing the files, for inspection) if the
    evaluator finds any rule broken or disagrees with the simulator's own bookkeeping."""
    instance = read_instance(folder)
    params: Params = mdrp_params(instance, **(overrides or {}))
    solution, stats = replay(instance, policy=policy, ready=ready, params=params)
    figures = metrics(instance, solution)
    ms = stats.dispatch_ms or [0.0]
    figures.update(
        {
            "policy": policy,
            "ready": ready,
            "wall_s": stats.wall_s,
            "dispatch_calls": stats.dispatch_calls,
            "dispatch_ms_p50": statistics.median(ms),
            "dispatch_ms_max": max(ms),
            "rejected_commitments": stats.rejected,
        }
    )
    write_solution(out, solution, figures)
    # Check the files as written, not the objects: what anyone else would evaluate.
    written = read_solution(out)
    violations = check(instance, written)
    again = metrics(instance, written)
    for key in ("delivered", "ctd_mean", "rtp_mean", "total_pay", "bundles"):
        a, b = figures[key], again[key]
        if a != b and not (isinstance(a, float) and isinstance(b, float) and abs(a - b) < 1e-6):
            violations.append(Violation("metrics", f"{key}: run says {a}, files say {b}"))
    if violations:
        raise RuleBroken(violations)
    return figures
