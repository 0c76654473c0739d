"""The dispatch library: plain functions over plain data, shared by the live dispatcher and MDRP.

Nothing here touches Django, the database or the clock: the caller passes `now` and views of the
orders and couriers, in planar metres and minutes (the live loop projects lat/lng around the
zone's centre; MDRP instances are planar already). See `types` for the data and `plan` for the
one entry point: bundler → costs → matcher → commitment.
"""

from dispatch.engine.planner import plan
from dispatch.engine.types import Assignment, CourierView, OrderView, Params, Point

__all__ = ["Assignment", "CourierView", "OrderView", "Params", "Point", "plan"]
