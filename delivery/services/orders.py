"""Placing orders: one idempotent service from a diner's request to a priced, snapshotted order."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Prefetch, Q
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.identity import identity_hash, mask_phone
from core.realtime import event_push_on_commit, group_for_store
from delivery.coupons import COUPON_MESSAGES, coupon_facts_for, coupon_refusal, coupon_terms
from delivery.eta import eta_minutes_for_store
from delivery.hours import is_open_at
from delivery.models import (
    Coupon,
    CouponRedemption,
    DeliveryFeeBand,
    HoursException,
    IdempotencyRecord,
    MenuItem,
    OpeningHours,
    Option,
    Order,
    OrderEvent,
    OrderLine,
    SetMeal,
    SetMealComponent,
    Store,
)
from delivery.pricing import FeeBand, LineInput, PricingError, PricingInput, Quote, price_order
from delivery.selectors.discovery import _fee_for, _metres


class OrderRefused(Exception):
    """The order cannot be placed as asked; `code` is stable, `message` readable, `field` names
    the part of the request at fault (for forms and the API's `fields`)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class LineRequest:
    item_id: int | None = None
    set_meal_id: int | None = None
    option_ids: tuple[int, ...] = ()
    quantity: int = 1
    note: str = ""


@dataclass(frozen=True)
class PlaceRequest:
    store_id: int
    lines: tuple[LineRequest, ...]
    delivery_address: str
    delivery_lat: float
    delivery_lng: float
    contact_name: str = ""
    contact_phone: str = ""
    note: str = ""
    coupon_code: str = ""
    # Not part of what is bought: excluded from the idempotency fingerprint.
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PlaceResult:
    order: Order
    created: bool  # False: the same Idempotency-Key and body were seen before


def request_fingerprint(request: PlaceRequest) -> str:
    """A stable hash of what the diner asked for (the body an Idempotency-Key is bound to)."""
    body = asdict(request)
    body.pop("extra", None)
    body["lines"] = [dict(line, option_ids=sorted(line["option_ids"])) for line in body["lines"]]
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class _ResolvedLine:
    item: MenuItem | None
    set_meal: SetMeal | None
    options: tuple[Option, ...]
    quantity: int
    note: str


def resolve_lines(store: Store, lines: tuple[LineRequest, ...]) -> list[_ResolvedLine]:
    """Check every line against the live menu: the item belongs to this store and is available,
    every option belongs to one of its groups, each group's min/max is respected."""
    if not lines:
        raise OrderRefused("empty_cart", _("The cart is empty."), field="lines")
    item_ids = {line.item_id for line in lines if line.item_id}
    meal_ids = {line.set_meal_id for line in lines if line.set_meal_id}
    items = {
        i.pk: i
        for i in MenuItem.objects.filter(store=store, pk__in=item_ids).prefetch_related("option_groups__options")
    }
    components = Prefetch("components", queryset=SetMealComponent.objects.select_related("item"))
    meals = {m.pk: m for m in SetMeal.objects.filter(store=store, pk__in=meal_ids).prefetch_related(components)}
    resolved: list[_ResolvedLine] = []
    for index, line in enumerate(lines):
        where = f"lines.{index}"
        if (line.item_id is None) == (line.set_meal_id is None):
            raise OrderRefused("invalid_line", _("Each line is one item or one set meal."), field=where)
        if line.set_meal_id is not None:
            meal = meals.get(line.set_meal_id)
            if meal is None:
                raise OrderRefused("unknown_set_meal", _("That set meal is not on this store's menu."), field=where)
            if not meal.available or any(not c.item.available for c in meal.components.all()):
                raise OrderRefused("sold_out", _("%(name)s is sold out.") % {"name": meal.display_name}, field=where)
            if line.option_ids:
                raise OrderRefused("invalid_option", _("Set meals take no options."), field=where)
            resolved.append(_ResolvedLine(None, meal, (), line.quantity, line.note))
            continue
        assert line.item_id is not None  # noqa: S101 - narrowed by the xor check above
        item = items.get(line.item_id)
        if item is None:
            raise OrderRefused("unknown_item", _("That dish is not on this store's menu."), field=where)
        if not item.available:
            raise OrderRefused("sold_out", _("%(name)s is sold out.") % {"name": item.display_name}, field=where)
        chosen: list[Option] = []
        wanted = set(line.option_ids)
        for group in item.option_groups.all():
            picked = [o for o in group.options.all() if o.pk in wanted]
            if any(not o.available for o in picked):
                raise OrderRefused(
                    "sold_out", _("An option of %(name)s is sold out.") % {"name": item.display_name}, field=where
                )
            if not group.min_choices <= len(picked) <= group.max_choices:
                raise OrderRefused(
                    "invalid_options",
                    _("Choose %(min)d to %(max)d of “%(group)s” for %(name)s.")
                    % {
                        "min": group.min_choices,
                        "max": group.max_choices,
                        "group": group.display_name,
                        "name": item.display_name,
                    },
                    field=where,
                )
            chosen.extend(picked)
            wanted -= {o.pk for o in picked}
        if wanted:
            raise OrderRefused(
                "invalid_option", _("An option does not belong to %(name)s.") % {"name": item.display_name}, field=where
            )
        resolved.append(_ResolvedLine(item, None, tuple(chosen), line.quantity, line.note))
    return resolved


def _coupon_for(code: str, *, store: Store, diner: User) -> Coupon | None:
    if not code:
        return None
    coupon = Coupon.objects.filter(code__iexact=code.strip()).first()
    if coupon is None:
        raise OrderRefused("coupon_unknown", _("There is no coupon with that code."), field="coupon_code")
    refusal = coupon_refusal(coupon_facts_for(coupon=coupon, diner_id=diner.pk), store_id=store.pk, now=timezone.now())
    if refusal is not None:
        raise OrderRefused(refusal, str(COUPON_MESSAGES[refusal]), field="coupon_code")
    return coupon


@dataclass(frozen=True)
class _PlacementFacts:
    """What placement checks besides the store's own columns, read with it in one statement."""

    covers: bool  # the store's zone covers the drop-off
    distance_m: int | None
    fee_bands: tuple[FeeBand, ...]
    open_now: bool


def _json_time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _store_for_placement(*, store_id: int, point: Point, now: datetime) -> tuple[Store, _PlacementFacts] | None:
    """The store and what placement checks, in one statement: whether its zone covers `point`
    and the distance to it, its fee bands, and whether its opening hours and the exceptions of
    the two dates that matter cover `now` (delivery.hours.is_open_at, as store_is_open decides).
    Status, pause, hours and bands are read fresh on every call: a pause or a closure acts at
    once. The zone itself is not loaded (parsing a multipolygon is the costliest part of the row)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(tz).date()  # as store_is_open reckons it
    relevant = [today, today - timedelta(days=1)]
    of_store = OuterRef("pk")
    store = (
        Store.objects.filter(pk=store_id)
        .defer("zone")
        .annotate(
            reach_covers=ExpressionWrapper(Q(zone__covers=point), output_field=BooleanField()),
            reach_distance=Distance("location", point),
            bands_json=ArraySubquery(
                DeliveryFeeBand.objects.filter(store=of_store).values(j=JSONObject(u="up_to_m", f="fee_cents"))
            ),
            hours_json=ArraySubquery(
                OpeningHours.objects.filter(store=of_store).values(j=JSONObject(w="weekday", o="opens", c="closes"))
            ),
            exceptions_json=ArraySubquery(
                HoursException.objects.filter(store=of_store, date__in=relevant).values(
                    j=JSONObject(d="date", x="closed", o="opens", c="closes")
                )
            ),
        )
        .first()
    )
    if store is None:
        return None
    annotated: Any = store
    covers = bool(annotated.reach_covers)
    periods = [(h["w"], time.fromisoformat(h["o"]), time.fromisoformat(h["c"])) for h in annotated.hours_json]
    exceptions = {
        date.fromisoformat(e["d"]): (e["x"], _json_time(e["o"]), _json_time(e["c"])) for e in annotated.exceptions_json
    }
    facts = _PlacementFacts(
        covers=covers,
        distance_m=_metres(annotated.reach_distance) if covers else None,
        fee_bands=tuple(
            sorted((FeeBand(up_to_m=b["u"], fee_cents=b["f"]) for b in annotated.bands_json), key=lambda b: b.up_to_m)
        ),
        open_now=is_open_at(periods=periods, exceptions=exceptions, at=now, tz=tz),
    )
    return store, facts


def order_quote(*, diner: User, request: PlaceRequest) -> tuple[Store, list[_ResolvedLine], Quote, int, Coupon | None]:
    """Everything placement checks and prices, without writing: the checkout page shows it.

    Raises OrderRefused for a store that is not live or not open, a drop-off outside its zone
    or fee bands, a menu problem, a refused coupon, or a pricing rule (minimum order...)."""
    now = timezone.now()
    point = Point(request.delivery_lng, request.delivery_lat, srid=4326)
    found = _store_for_placement(store_id=request.store_id, point=point, now=now)
    if found is None:
        raise OrderRefused("unknown_store", _("That store does not exist."), field="store_id", status=404)
    store, facts = found
    if store.status != Store.Status.LIVE:
        raise OrderRefused(
            "store_unavailable", _("%(store)s is not taking orders.") % {"store": store.display_name}, field="store_id"
        )
    if not facts.open_now:
        raise OrderRefused(
            "store_closed", _("%(store)s is closed now.") % {"store": store.display_name}, field="store_id"
        )
    if store.paused_at(now):
        raise OrderRefused(
            "store_paused",
            _("%(store)s is not taking orders right now.") % {"store": store.display_name},
            field="store_id",
        )
    # The same answer as delivery.selectors.discovery.delivery_quote_for, read with the store.
    distance_m = facts.distance_m
    if distance_m is None or _fee_for(((b.up_to_m, b.fee_cents) for b in facts.fee_bands), distance_m) is None:
        raise OrderRefused(
            "out_of_zone",
            _("%(store)s does not deliver to this address.") % {"store": store.display_name},
            field="delivery_address",
        )
    lines = resolve_lines(store, request.lines)
    coupon = _coupon_for(request.coupon_code, store=store, diner=diner)
    pricing_lines = tuple(
        LineInput(
            unit_base_cents=(line.item.price_cents if line.item else line.set_meal.price_cents),  # type: ignore[union-attr]
            option_deltas_cents=tuple(o.price_delta_cents for o in line.options),
            quantity=line.quantity,
        )
        for line in lines
    )
    try:
        priced = price_order(
            PricingInput(
                lines=pricing_lines,
                packaging_fee_cents=store.packaging_fee_cents,
                min_order_cents=store.min_order_cents,
                fee_bands=facts.fee_bands,
                distance_m=distance_m,
                coupon=coupon_terms(coupon) if coupon else None,
            )
        )
    except PricingError as error:
        where = "coupon_code" if "coupon" in error.code else "lines"
        raise OrderRefused(error.code, error.message, field=where) from error
    return store, lines, priced, distance_m, coupon


def _snapshot_line(order: Order, line: _ResolvedLine, unit_price: int) -> OrderLine:
    if line.set_meal is not None:
        meal = line.set_meal
        return OrderLine(
            order=order,
            set_meal=meal,
            name_zh=meal.name_zh,
            name_en=meal.name_en,
            components=[
                {"name_zh": c.item.name_zh, "name_en": c.item.name_en, "quantity": c.quantity}
                for c in meal.components.all()
            ],
            allergens=sorted({a for c in meal.components.all() for a in c.item.allergens}),
            unit_price_cents=unit_price,
            quantity=line.quantity,
            line_total_cents=unit_price * line.quantity,
            note=line.note,
        )
    item = line.item
    assert item is not None  # noqa: S101 - a resolved line is an item or a set meal
    return OrderLine(
        order=order,
        item=item,
        name_zh=item.name_zh,
        name_en=item.name_en,
        options=[
            {
                "group_zh": o.group.name_zh,
                "group_en": o.group.name_en,
                "option_zh": o.name_zh,
                "option_en": o.name_en,
                "price_delta_cents": o.price_delta_cents,
            }
            for o in line.options
        ],
        allergens=list(item.allergens),
        unit_price_cents=unit_price,
        quantity=line.quantity,
        line_total_cents=unit_price * line.quantity,
        note=line.note,
    )


def order_place(*, diner: User, request: PlaceRequest, idempotency_key: str) -> PlaceResult:
    """Place an order, exactly once per (diner, Idempotency-Key).

    The key is claimed by inserting an IdempotencyRecord in the same transaction that creates the
    order: a concurrent duplicate blocks on the unique index until the first commits, then finds
    the record and returns the same order (created=False). The same key with another body is
    refused (409, `idempotency_key_reused`), and a refused placement stores nothing, so the key
    may be retried once the problem is fixed. The order is a snapshot of names and prices; its
    ETA is promised now. Pushes `order.created` to the store's board on commit.
    """
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        order_id = _idempotency_claim(diner=diner, key=idempotency_key, fingerprint=fingerprint)
        if order_id is not None:
            return PlaceResult(order=_create_order(diner=diner, request=request, order_id=order_id), created=True)
    # The key was claimed before (a concurrent claim made us wait until it committed).
    existing = IdempotencyRecord.objects.select_related("order").get(user=diner, key=idempotency_key)
    return _replay(existing, fingerprint)


def _idempotency_claim(*, diner: User, key: str, fingerprint: str) -> int | None:
    """Claim (diner, key) for a new order in one statement; return the id the order is to take,
    or None if the key is taken. INSERT … ON CONFLICT DO NOTHING: a concurrent claim of the same
    key blocks on the unique index until the first transaction ends, then inserts (it rolled
    back) or does nothing (it committed). The order's id is drawn from its sequence here, so the
    record names its order from the start (the foreign key is checked at commit, when the order
    exists) and the order's number is known before its INSERT."""
    record_table = IdempotencyRecord._meta.db_table
    order_table = Order._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{record_table}" (user_id, key, request_hash, order_id, created_at) '  # noqa: S608 - table names from the models
            f"VALUES (%s, %s, %s, nextval(pg_get_serial_sequence('{order_table}', 'id')), %s) "
            "ON CONFLICT (user_id, key) DO NOTHING RETURNING order_id",
            [diner.pk, key, fingerprint, timezone.now()],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


def _lines_cache(order: Order, lines: list[OrderLine]) -> None:
    """Give `order.lines.all()` the lines just inserted, as a prefetch would (no query to read
    back what we wrote; bulk_create returned their ids)."""
    queryset = order.lines.all()
    queryset._result_cache = list(lines)
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": queryset}  # type: ignore[attr-defined]


def _replay(record: IdempotencyRecord, fingerprint: str) -> PlaceResult:
    if record.request_hash != fingerprint:
        raise OrderRefused(
            "idempotency_key_reused",
            _("This Idempotency-Key was used for a different order; use a new key for a new order."),
            status=409,
        )
    if record.order is None:  # cannot happen: the record and its order commit together
        raise OrderRefused("idempotency_in_progress", _("This order is still being placed."), status=409)
    return PlaceResult(order=record.order, created=False)


def _create_order(*, diner: User, request: PlaceRequest, order_id: int) -> Order:
    if request.coupon_code:
        # Lock the coupon until commit: two placements racing for its last use (or a diner's
        # last use) are serialised, and the second sees the first's redemption.
        list(Coupon.objects.select_for_update().filter(code__iexact=request.coupon_code.strip()))
    store, lines, quote, distance_m, coupon = order_quote(diner=diner, request=request)
    now = timezone.now()
    phone = request.contact_phone.strip()
    order = Order.objects.create(
        pk=order_id,
        # Human-readable and unique: the local business date and the row id.
        number=f"{timezone.localdate(now):%Y%m%d}{order_id:07d}",
        diner=diner,
        store=store,
        subtotal_cents=quote.subtotal_cents,
        packaging_cents=quote.packaging_cents,
        delivery_fee_cents=quote.delivery_fee_cents,
        discount_cents=quote.discount_cents,
        discount_platform_cents=quote.discount_platform_cents,
        discount_store_cents=quote.discount_store_cents,
        total_cents=quote.total_cents,
        coupon=coupon,
        delivery_address=request.delivery_address.strip(),
        delivery_point=Point(request.delivery_lng, request.delivery_lat, srid=4326),
        delivery_distance_m=distance_m,
        contact_name=request.contact_name.strip(),
        contact_phone_hash=identity_hash(phone, purpose="phone") if phone else "",
        contact_phone_masked=mask_phone(phone) if phone else "",
        note=request.note.strip(),
        # The promise: learned prep (plus busy minutes) or the expected courier wait from the
        # supply near the store, whichever is longer, then the ride (delivery.eta).
        eta_at=now + timedelta(minutes=eta_minutes_for_store(store=store, distance_m=distance_m)),
    )
    order_lines = OrderLine.objects.bulk_create(
        [_snapshot_line(order, line, unit) for line, unit in zip(lines, quote.unit_prices_cents, strict=True)]
    )
    _lines_cache(order, order_lines)
    if coupon is not None:
        CouponRedemption.objects.create(coupon=coupon, diner=diner, order=order)
    OrderEvent.objects.create(order=order, actor=diner, actor_role="diner", from_status="", to_status=order.status)
    event_push_on_commit(
        group_for_store(store.pk),
        "order.created",
        {"order": order.pk, "number": order.number, "status": order.status, "version": order.version},
    )
    return order
