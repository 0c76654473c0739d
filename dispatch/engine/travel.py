"""Travel minutes between planar points, the one rule every part of the library and the MDRP
evaluator shares."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from dispatch.engine.types import Params, Point

FloatArray = npt.NDArray[np.float64]


def travel_minutes(a: Point, b: Point, meters_per_minute: float, params: Params) -> float:
    """Minutes from `a` to `b`: MDRP's `ceil(distance / meters_per_minute)` when
    `travel_rounding == "ceil"`, else distance × detour_factor / speed."""
    metres = math.hypot(a.x - b.x, a.y - b.y) * params.detour_factor
    minutes = metres / meters_per_minute
    return float(math.ceil(minutes)) if params.travel_rounding == "ceil" else minutes


def travel_minutes_array(
    ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray, meters_per_minute: FloatArray, params: Params
) -> FloatArray:
    """The same rule, element-wise over arrays (the cost matrix). The scalar form is the
    reference: simulations recompute committed times with it."""
    minutes = np.hypot(ax - bx, ay - by) * params.detour_factor / meters_per_minute
    return np.ceil(minutes) if params.travel_rounding == "ceil" else minutes
