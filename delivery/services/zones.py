"""A store's delivery zone: drawn by the store, or a circle of a radius around its pin.

Invariants kept here:
- `Store.zone` is a valid, non-empty MultiPolygon in SRID 4326 (lon/lat), or NULL.
- `Store.delivery_radius_m` is set only while the zone is the circle it generated; drawing a
  zone clears it.
- Each write is one transaction touching only `zone`, `delivery_radius_m` and `updated_at`, so
  a concurrent edit of the store's other fields (its status, its name) is never overwritten.
Both services are idempotent: setting the same zone again writes the same values.
"""

from __future__ import annotations

from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import connection, transaction
from django.utils import timezone

from delivery.models import Store

ZONE_SRID = 4326
# Beyond this a "delivery radius" is a typo (and a buffer that size would cover the city).
MAX_RADIUS_M = 50_000


class ZoneInvalid(Exception):
    """The zone was refused; `code` is stable for API clients, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def _checked_zone(zone: MultiPolygon | Polygon) -> MultiPolygon:
    """`zone` as a MultiPolygon after every check, or ZoneInvalid."""
    if not isinstance(zone, MultiPolygon | Polygon):
        raise ZoneInvalid("zone_invalid", f"A zone is a polygon or a multipolygon, not a {zone.geom_type}.")
    if zone.srid != ZONE_SRID:
        raise ZoneInvalid(
            "zone_invalid", f"A zone is given in longitude/latitude (SRID {ZONE_SRID}), not SRID {zone.srid}."
        )
    if zone.empty:
        raise ZoneInvalid("zone_empty", "The zone is empty: draw at least one area.")
    if not zone.valid:
        # GEOS says why and where, e.g. "Self-intersection[121.45 31.23]" for a bow-tie.
        raise ZoneInvalid("zone_invalid", f"The zone is not a valid shape: {zone.valid_reason}.")
    xmin, ymin, xmax, ymax = zone.extent
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise ZoneInvalid("zone_invalid", "The zone lies outside longitude -180..180 / latitude -90..90.")
    if isinstance(zone, Polygon):
        return MultiPolygon(zone.clone(), srid=ZONE_SRID)
    return zone.clone()


def store_zone_set(*, store: Store, zone: MultiPolygon | Polygon) -> Store:
    """Set a zone the store drew; a Polygon is stored as a one-part MultiPolygon.

    Raises ZoneInvalid: "zone_empty" for an empty geometry, "zone_invalid" for a self-
    intersecting (bow-tie) or otherwise invalid shape (the message carries GEOS's reason), an
    SRID other than 4326, or coordinates out of lon/lat range. Clears `delivery_radius_m`.
    """
    checked = _checked_zone(zone)
    with transaction.atomic():
        store.zone = checked
        store.delivery_radius_m = None
        store.save(update_fields=["zone", "delivery_radius_m", "updated_at"])
    return store


def store_zone_set_radius(*, store: Store, radius_m: int) -> Store:
    """Set the zone to a circle of `radius_m` metres around the store's pin, and remember the radius.

    Raises ZoneInvalid("zone_radius_invalid") unless 0 < radius_m <= MAX_RADIUS_M. The store
    object is updated in place (zone, delivery_radius_m, updated_at) from what was stored.
    """
    if isinstance(radius_m, bool) or not isinstance(radius_m, int) or not 0 < radius_m <= MAX_RADIUS_M:
        raise ZoneInvalid("zone_radius_invalid", f"A delivery radius is 1 to {MAX_RADIUS_M} metres, not {radius_m}.")
    now = timezone.now()
    table = connection.ops.quote_name(Store._meta.db_table)
    # Raw SQL because the circle must be drawn on the spheroid: ST_Buffer on *geography* buffers
    # in metres in a suitable local projection, so the radius is true in every direction (a
    # degree of longitude is shorter than one of latitude here), which GEOS on lon/lat cannot do.
    # The cast to geometry (still SRID 4326) and ST_Multi match the column's type. It reads the
    # pin from the row itself, in the same statement, so it can never use a stale one.
    sql = (
        f"UPDATE {table} SET "  # noqa: S608 - the table name comes from the model, values are parameters
        "zone = ST_Multi(ST_Buffer(location, %s, 'quad_segs=16')::geometry), "
        "delivery_radius_m = %s, updated_at = %s "
        "WHERE id = %s RETURNING ST_AsEWKB(zone)"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [float(radius_m), radius_m, now, store.pk])
        row = cursor.fetchone()
    if row is None:
        raise Store.DoesNotExist(f"Store {store.pk} does not exist.")
    zone = GEOSGeometry(memoryview(row[0]))  # memoryview: GEOS reads it as WKB
    if not isinstance(zone, MultiPolygon):  # pragma: no cover - ST_Multi always returns one
        raise ZoneInvalid("zone_invalid", f"The generated zone is a {zone.geom_type}.")
    store.zone = zone
    store.delivery_radius_m = radius_m
    store.updated_at = now
    return store
