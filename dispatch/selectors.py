"""Reads of the dispatch app: which couriers can take work, the candidates near each store
(PostGIS KNN on the GiST index of `dispatch_courier.position`), what a courier sees, and what a
diner's tracking shows."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db import connection, models
from django.db.models import Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from delivery.models import Order
from dispatch.models import Courier, Offer, OrderDispatch


def _is_idle() -> Q:
    return Q(state=Courier.State.IDLE)


def _has_fresh_position() -> Q:
    cutoff = timezone.now() - timedelta(seconds=settings.COURIER_POSITION_MAX_AGE)
    return Q(position__isnull=False, position_at__gte=cutoff)


def _account_active() -> Q:
    return Q(user__is_active=True)


# Every condition a courier must meet to be offered work, as Q factories (called per query, so
# times are fresh). Other apps add theirs here (the compliance app: a valid health certificate)
# with `AVAILABILITY_FILTERS.append(...)` in their AppConfig.ready(); this is the ONE place
# availability is decided, for candidate search, the open pool and the courier's own page.
# A condition on another table is an Exists (as compliance's is), never a join to many rows:
# it would list a courier once per joined row, here and in every store's candidates.
AVAILABILITY_FILTERS: list[Callable[[], Q]] = [_is_idle, _has_fresh_position, _account_active]


def couriers_available() -> QuerySet[Courier]:
    """Couriers who may be offered work now."""
    condition = Q()
    for make in AVAILABILITY_FILTERS:
        condition &= make()
    return Courier.objects.filter(condition)


def couriers_available_near(*, point: Point, radius_m: float, limit: int) -> QuerySet[Courier]:
    """The `limit` nearest available couriers within `radius_m` of `point`, nearest first: a
    radius filter (ST_DWithin, index-assisted) and a KNN order (`<->` on geography, which the
    GiST index answers without computing every distance)."""
    from django.db.models.expressions import RawSQL

    knn = RawSQL("position <-> %s::geography", (point.ewkt,))
    return (
        couriers_available().filter(position__dwithin=(point, D(m=radius_m))).annotate(knn=knn).order_by("knn")[:limit]
    )


class Candidate(NamedTuple):
    """One courier found for one store. A named tuple: a round makes thousands (12 per store),
    and a tuple is made from a row at a fraction of a frozen dataclass's cost."""

    courier_id: int
    lng: float
    lat: float
    distance_m: float
    speed_kmh: int
    capacity: int


# The store of each row of `s`, the unnest of the store arrays in the candidate query.
_STORE_POINT = "ST_SetSRID(ST_MakePoint(s.lng, s.lat), 4326)::geography"


def _candidates_sql(*, radius_m: float, limit: int) -> tuple[str, list[Any]]:
    """The candidate query for the stores of three array parameters (ids, lngs, lats), and its
    parameters after those arrays.

    Each store's LATERAL subquery is `couriers_available()` itself, compiled by the ORM, with the
    radius and the KNN order added: its conditions then apply to the very row the GiST index
    returns. (An earlier form, `c.id IN (<couriers_available ids>)`, made PostgreSQL fetch every
    visited courier a second time by primary key to test them: about a third of the query.) The
    index on `position` is partial, `WHERE state = 'idle'` (see Courier.Meta), and the idle test
    is availability's first condition, so the planner picks it and the walk never visits a busy
    courier. Raw SQL around it because the ORM has no LATERAL join; tested for index use in
    dispatch/tests/test_selectors.py."""
    per_store = (
        couriers_available()
        .filter(
            RawSQL(  # noqa: S611 - a constant, the radius a parameter
                f'ST_DWithin("dispatch_courier"."position", {_STORE_POINT}, %s, false)',
                (radius_m,),
                output_field=models.BooleanField(),
            )
        )
        .annotate(
            lng=RawSQL('ST_X("dispatch_courier"."position"::geometry)', (), output_field=models.FloatField()),
            lat=RawSQL('ST_Y("dispatch_courier"."position"::geometry)', (), output_field=models.FloatField()),
            dist=RawSQL(  # noqa: S611 - a constant
                f'"dispatch_courier"."position" <-> {_STORE_POINT}', (), output_field=models.FloatField()
            ),
        )
        .order_by("dist")
        .values_list("id", "lng", "lat", "dist", "speed_kmh", "capacity")[:limit]
    )
    per_store_sql, per_store_params = per_store.query.sql_with_params()
    sql = f"""
        SELECT s.id, c.* FROM unnest(%s::bigint[], %s::float8[], %s::float8[]) AS s(id, lng, lat)
         CROSS JOIN LATERAL ({per_store_sql}) c
    """  # noqa: S608 - the inlined SQL is the ORM's own, its values are parameters
    return sql, list(per_store_params)


def candidates_for_stores(
    *, stores: Sequence[tuple[int, float, float]], radius_m: float, limit: int
) -> dict[int, list[Candidate]]:
    """For each (store_id, lng, lat): the `limit` nearest available couriers within `radius_m`,
    nearest first, in one statement for every store (see _candidates_sql). The radius is
    measured on the sphere (use_spheroid false): 0.3 % off across a city and ~15 % cheaper than
    the spheroid (bench/dispatch_batch.py)."""
    if not stores:
        return {}
    sql, params = _candidates_sql(radius_m=radius_m, limit=limit)
    arrays: list[Any] = [[s[0] for s in stores], [s[1] for s in stores], [s[2] for s in stores]]
    result: dict[int, list[Candidate]] = {s[0]: [] for s in stores}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*arrays, *params])
        make = Candidate._make
        for row in cursor.fetchall():
            result[row[0]].append(make(row[1:]))
    return result


def candidates_sql_explain(*, lng: float, lat: float, radius_m: float, limit: int) -> str:
    """EXPLAIN of the candidate query (candidates_for_stores's own) for one store: the
    index-use test reads it."""
    sql, params = _candidates_sql(radius_m=radius_m, limit=limit)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, [[0], [lng], [lat], *params])
        return "\n".join(row[0] for row in cursor.fetchall())


def offer_pending_for(*, courier: Courier) -> Offer | None:
    return (
        Offer.objects.filter(courier=courier, status=Offer.Status.PENDING, expires_at__gt=timezone.now())
        .prefetch_related("orders__store")
        .first()
    )


def tasks_for(*, courier: Courier) -> list[OrderDispatch]:
    """The orders the courier carries now, in drop-off order."""
    return list(
        OrderDispatch.objects.filter(courier=courier, state=OrderDispatch.State.ASSIGNED)
        .select_related("order", "order__store")
        .order_by("assigned_at", "pk")
    )


def pool_near(*, courier: Courier, radius_m: float | None = None) -> list[OrderDispatch]:
    """Open-pool orders whose store is within `radius_m` of the courier's last flushed
    position, nearest store first."""
    if courier.position is None:
        return []
    radius = radius_m if radius_m is not None else settings.DISPATCH_RADIUS_M
    return list(
        OrderDispatch.objects.filter(
            state=OrderDispatch.State.POOL, store__location__dwithin=(courier.position, D(m=radius))
        )
        .exclude(excluded_couriers__contains=[courier.pk])
        .select_related("order", "store")
        .order_by("created_at")[:20]
    )


def earnings_today(*, courier: Courier) -> tuple[int, int]:
    """(cents earned, orders delivered) since the start of today in TIME_ZONE."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = OrderDispatch.objects.filter(courier=courier, state=OrderDispatch.State.DONE, done_at__gte=start)
    total = rows.aggregate(total=Sum("fee_cents"))["total"] or 0
    return int(total), rows.count()


def order_dispatch_get(*, order: Order) -> OrderDispatch | None:
    return OrderDispatch.objects.filter(order=order).select_related("courier").first()


def looking_since(dispatch: OrderDispatch) -> datetime | None:
    """When the order started waiting for a courier, if it still does."""
    if dispatch.state in (OrderDispatch.State.WAITING, OrderDispatch.State.OFFERED, OrderDispatch.State.POOL):
        return dispatch.created_at
    return None


def food_waiting_minutes(dispatch: OrderDispatch, order: Order, now: datetime) -> int:
    """Whole minutes the ready food has waited for a courier (0 once one has it, or before it
    is ready): what the board, the diner's map and the pushes show as the delay."""
    if looking_since(dispatch) is None or order.ready_at is None:
        return 0
    return max(0, int((now - order.ready_at).total_seconds() // 60))


def tracking_snapshot(*, order: Order) -> dict[str, object]:
    """What the diner's map shows now: the dispatch state, the courier's freshest position (only
    while a courier carries this active order), the live ETA and, once the courier is on the
    way, the drop-off code. For the order's diner only (callers check access_order_tracking)."""
    from core.redis import state_redis
    from delivery.eta import order_eta_live
    from delivery.transitions import ACTIVE
    from dispatch.services.locations import live_position_get

    dispatch = order_dispatch_get(order=order)
    active = order.status in ACTIVE
    position = None
    courier_point = None
    speed = None
    if active and dispatch is not None and dispatch.state == OrderDispatch.State.ASSIGNED and dispatch.courier:
        live = live_position_get(state_redis(), courier_id=dispatch.courier.pk)
        if live is not None:
            position = {"lat": live.lat, "lng": live.lng, "heading": live.heading, "ts": live.ts}
            courier_point = Point(live.lng, live.lat, srid=4326)
        speed = dispatch.courier.speed_kmh
    eta = order_eta_live(order=order, now=timezone.now(), courier_point=courier_point, courier_speed_kmh=speed)
    looking = dispatch is not None and looking_since(dispatch) is not None
    delay = food_waiting_minutes(dispatch, order, timezone.now()) if dispatch is not None else 0
    return {
        "order": order.pk,
        "number": order.number,
        "status": order.status,
        "version": order.version,
        "active": active,
        "dispatch": dispatch.state if dispatch else None,
        "looking": looking,
        "looking_since": dispatch.created_at.isoformat() if dispatch and looking else None,
        "delay_minutes": delay,
        "courier": position,
        "courier_name": dispatch.courier.user.first_name or dispatch.courier.user.username
        if dispatch and dispatch.courier and active
        else None,
        "eta": eta.isoformat() if eta else None,
        "dropoff_code": dispatch.dropoff_code
        if dispatch and dispatch.state == OrderDispatch.State.ASSIGNED and active
        else None,
        "store": {"lat": order.store.location.y, "lng": order.store.location.x},
        "dropoff": {"lat": order.delivery_point.y, "lng": order.delivery_point.x},
    }


# The mean Earth radius (IUGG, Moritz 2000, "Geodetic Reference System 1980").
EARTH_RADIUS_M = 6_371_008.8


def metres_between(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance (haversine): plenty for a board's "1.2 km away"."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def courier_approach(*, distance_m: float, speed_kmh: float) -> dict[str, int]:
    """The courier's distance to the store and the minutes to get there (straight line times
    DETOUR_FACTOR at the vehicle's speed, as the ETA does)."""
    from delivery.eta import travel_minutes

    return {"distance_m": int(distance_m), "eta_minutes": travel_minutes(distance_m, speed_kmh=speed_kmh)}


def dispatch_board_status(*, order_ids: Sequence[int]) -> dict[int, dict[str, object]]:
    """For the store's board, per order in dispatch: looking for a courier (since when, how
    late the food waits, how many offers failed), the current offer's status and countdown, and
    the assigned courier (a first name only) with their state and, until they reach the store,
    distance and minutes to it from their freshest position. Three queries and one Redis
    pipeline for the whole board; the caller checks the store's access."""
    from core.redis import state_redis
    from dispatch.services.locations import live_positions_get

    rows = list(
        OrderDispatch.objects.filter(order_id__in=order_ids)
        .select_related("courier__user", "order", "store")
        .defer("store__zone", "store__location", "order__delivery_point")
        .annotate(
            store_lng=RawSQL("ST_X(delivery_store.location::geometry)", ()),
            store_lat=RawSQL("ST_Y(delivery_store.location::geometry)", ()),
        )
    )
    if not rows:
        return {}
    offers: dict[int, Any] = {}
    offered = [r.order_id for r in rows if r.state == OrderDispatch.State.OFFERED]
    if offered:
        for offer in (
            Offer.objects.filter(orders__pk__in=offered, status=Offer.Status.PENDING)
            .annotate(order_pk=models.F("orders__pk"))
            .only("pk", "status", "expires_at")
        ):
            offers[offer.order_pk] = offer
    approaching = [
        r.courier.pk
        for r in rows
        if r.state == OrderDispatch.State.ASSIGNED
        and r.courier
        and r.courier.state == Courier.State.TO_STORE
        and r.order.picked_up_at is None
    ]
    live = live_positions_get(state_redis(), courier_ids=approaching) if approaching else {}
    now = timezone.now()
    result: dict[int, dict[str, object]] = {}
    for r in rows:
        looking = looking_since(r)
        delay = food_waiting_minutes(r, r.order, now)
        pending = offers.get(r.order_id)
        courier: dict[str, object] | None = None
        if r.courier is not None and r.state == OrderDispatch.State.ASSIGNED:
            courier = {"name": r.courier.user.first_name or r.courier.user.username, "state": r.courier.state}
            position = live.get(r.courier.pk)
            point = (position.lng, position.lat) if position else None
            if point is None and r.courier.position is not None:
                point = (r.courier.position.x, r.courier.position.y)
            # Heading to a store, and this order is still there (on a multi-store trip the courier
            # rides on to the next store with it already on board).
            if r.courier.state == Courier.State.TO_STORE and r.order.picked_up_at is None and point is not None:
                distance = metres_between(point[0], point[1], r.store_lng, r.store_lat)
                courier.update(courier_approach(distance_m=distance, speed_kmh=r.courier.speed_kmh))
        result[r.order_id] = {
            "state": r.state,
            "looking": looking is not None,
            "looking_since": looking.isoformat() if looking else None,
            "delay_minutes": delay,
            "failures": r.failures,
            "offer": {"status": pending.status, "expires_at": pending.expires_at.isoformat()} if pending else None,
            "courier": courier,
        }
    return result
