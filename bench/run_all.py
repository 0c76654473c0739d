"""Run the baseline benchmarks: `bench/run_all.py [ws_echo|http|knn ...]` (all by default).

Each figure is one JSON line on stdout; progress goes to stderr. See bench/README.md.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ first on sys.path; the benches import `bench.common` and
# the project's own packages, which live in the project root.
_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == _ROOT / "bench":
    sys.path[0] = str(_ROOT)
elif str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench import (  # noqa: E402
    board_events,
    cases,
    chicago_risk,
    discovery,
    dispatch_batch,
    engine_batch,
    http_ping,
    knn,
    location_pings,
    order_cost,
    order_placement,
    registry_scale,
    ws_echo,
)
from bench.common import SHARED_CORE_TOLERANCE, background_load, log  # noqa: E402

BENCHES: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "ws_echo": ws_echo.run,
    "http": http_ping.run,
    "knn": knn.run,
    "discovery": discovery.run,
    "orders": order_placement.run,
    "order_cost": order_cost.run,
    "engine_batch": engine_batch.run,
    "board": board_events.run,
    "pings": location_pings.run,
    "dispatch": dispatch_batch.run,
    "registry": registry_scale.run,
    "chicago_risk": chicago_risk.run,
    "cases": cases.run,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    # Figures from a busy machine are not comparable; say so up front rather than after the fact.
    load = background_load()
    log("background load before starting: " + ", ".join(f"core {cpu} {busy:.0%}" for cpu, busy in load.items()))
    if any(busy > SHARED_CORE_TOLERANCE for busy in load.values()):
        log("the machine is not idle: expect lower, noisier figures")
    failed: list[str] = []
    for name in names:
        log(f"=== {name} ===")
        bench_started = time.monotonic()
        try:
            BENCHES[name]()
        except Exception:  # noqa: BLE001 - one broken bench must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
        log(f"{name} took {time.monotonic() - bench_started:.1f} s")
    log(f"total {time.monotonic() - started:.1f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
