"""The first ETA model, shown before ordering and promised at placement.

prep time + time for a courier to reach the store + travel over the straight line stretched by a
detour factor at the courier's speed. The dispatch issue refines each part (learned prep times,
courier supply); callers go through this one function so the refinement lands everywhere.
"""

from __future__ import annotations

import math

from django.conf import settings


def travel_minutes(distance_m: float) -> int:
    metres_per_minute = settings.COURIER_SPEED_KMH * 1000 / 60
    return math.ceil(distance_m * settings.DETOUR_FACTOR / metres_per_minute)


def eta_minutes(*, prep_minutes: int, distance_m: float) -> int:
    return prep_minutes + settings.PICKUP_ALLOWANCE_MINUTES + travel_minutes(distance_m)
