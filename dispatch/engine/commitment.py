"""Which matched pairs to commit now; the others wait for the next call, when more orders,
better bundles or a closer courier may exist.

Commit when the courier can start within `commit_horizon` minutes and, leaving then, would not
idle at the store for longer than `commit_horizon` (its latest useful departure is near). Late
orders (pickup already later than the food) therefore commit at once; early ones wait, as in the
rolling-horizon policy of Reyes et al. 2018 (section 4.3: commit only what must start soon).
"""

from __future__ import annotations

from dispatch.engine.types import Params


def should_commit(*, now: float, start: float, wait: float, params: Params) -> bool:
    return start - now <= params.commit_horizon and wait <= params.commit_horizon
