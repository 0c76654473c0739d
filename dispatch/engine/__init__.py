"""The dispatch library: plain functions over plain data, shared by the live dispatcher and MDRP.

Nothing here touches Django, the database or the clock: the caller passes `now` and views of the
orders and couriers, in planar metres and minutes (the live loop projects lat/lng around the
zone's centre; MDRP instances are planar already). See `types` for the data and `plan` for the
one entry point.
"""
