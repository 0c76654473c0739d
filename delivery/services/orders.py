"""Placing orders: one idempotent service from a diner's request to a priced, snapshotted order."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
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
    OptionGroup,
    Order,
    OrderEvent,
    OrderLine,
    SetMeal,
    SetMealComponent,
    Store,
)
from delivery.pricing import FeeBand, LineInput, PricingError, PricingInput, Quote, price_order
from delivery.selectors.discovery import _fee_for


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


# --- The menu placement reads, cached per store and checked on every placement ----------------
#
# Building the menu's model rows (items, option groups, options, set meals, components) was a
# fifth of an order's Python time. Each process keeps the last menu it read per store, with a
# stamp per table: the md5 of the text of every row of that table that belongs to the store,
# computed by PostgreSQL. Placement reads the five stamps in the statement that reads the store
# (no extra round trip) and uses the cached menu only if all five are identical, that is if
# every row the menu was built from is unchanged, whoever changed it and however (a service, the
# admin, a queryset update(), a migration). Each cached table was read in the same statement as
# its own stamp, so a menu never mixes what it was read from with what its stamp says. Nothing to
# invalidate, and a menu that changed a millisecond ago is read again at once.

_MENU_STAMP_SQL: dict[str, str] = {
    "items": "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
    'FROM "delivery_menuitem" t WHERE t.store_id = %s',
    "groups": "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
    'FROM "delivery_optiongroup" t JOIN "delivery_menuitem" i ON i.id = t.item_id WHERE i.store_id = %s',
    "options": "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
    'FROM "delivery_option" t JOIN "delivery_optiongroup" g ON g.id = t.group_id '
    'JOIN "delivery_menuitem" i ON i.id = g.item_id WHERE i.store_id = %s',
    "meals": "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
    'FROM "delivery_setmeal" t WHERE t.store_id = %s',
    # A component's item is snapshotted with it: its row is part of the component's stamp.
    "components": "SELECT md5(coalesce(string_agg(t::text || i::text, '|' ORDER BY t.id), '')) "
    'FROM "delivery_setmealcomponent" t JOIN "delivery_setmeal" m ON m.id = t.set_meal_id '
    'JOIN "delivery_menuitem" i ON i.id = t.item_id WHERE m.store_id = %s',
}
_MENU_TABLES = tuple(_MENU_STAMP_SQL)
# md5 of no rows: a table with nothing of the store's returns no row to carry its stamp.
_EMPTY_STAMP = hashlib.md5(b"", usedforsecurity=False).hexdigest()
# Stores whose menus one process keeps (least recently placed-at dropped first).
MENU_CACHE_STORES = 512


def _menu_stamp(table: str, store_id: int) -> RawSQL:
    return RawSQL(f"({_MENU_STAMP_SQL[table]})", [store_id])  # noqa: S611 - fixed SQL, store id as a parameter


@dataclass(frozen=True)
class _Menu:
    """One store's menu as placement reads it; shared between threads, so never mutated."""

    stamps: tuple[str, ...]  # in _MENU_TABLES order
    items: dict[int, MenuItem]
    groups: dict[int, tuple[OptionGroup, ...]]  # by item id, in menu order
    options: dict[int, tuple[Option, ...]]  # by group id, in menu order
    meals: dict[int, SetMeal]
    components: dict[int, tuple[SetMealComponent, ...]]  # by set meal id


_menus: OrderedDict[int, _Menu] = OrderedDict()
_menus_lock = threading.Lock()


def _stamp_of(rows: list[Any]) -> str:
    return str(rows[0].menu_stamp) if rows else _EMPTY_STAMP


def _menu_load(store_id: int) -> _Menu:
    """Every menu row of the store, each table in one statement with its own stamp."""
    items = list(MenuItem.objects.filter(store_id=store_id).annotate(menu_stamp=_menu_stamp("items", store_id)))
    groups = list(
        OptionGroup.objects.filter(item__store_id=store_id).annotate(menu_stamp=_menu_stamp("groups", store_id))
    )
    options = list(
        Option.objects.filter(group__item__store_id=store_id).annotate(menu_stamp=_menu_stamp("options", store_id))
    )
    meals = list(SetMeal.objects.filter(store_id=store_id).annotate(menu_stamp=_menu_stamp("meals", store_id)))
    components = list(
        SetMealComponent.objects.filter(set_meal__store_id=store_id)
        .select_related("item")
        .order_by("id")
        .annotate(menu_stamp=_menu_stamp("components", store_id))
    )
    groups_by_id = {g.pk: g for g in groups}
    by_item: dict[int, list[OptionGroup]] = {}
    for group in groups:
        by_item.setdefault(group.item_id, []).append(group)
    by_group: dict[int, list[Option]] = {}
    for option in options:
        option.group = groups_by_id[option.group_id]  # snapshots name the option's group
        by_group.setdefault(option.group_id, []).append(option)
    by_meal: dict[int, list[SetMealComponent]] = {}
    for component in components:
        by_meal.setdefault(component.set_meal_id, []).append(component)
    return _Menu(
        stamps=tuple(_stamp_of(rows) for rows in (items, groups, options, meals, components)),
        items={i.pk: i for i in items},
        groups={k: tuple(v) for k, v in by_item.items()},
        options={k: tuple(v) for k, v in by_group.items()},
        meals={m.pk: m for m in meals},
        components={k: tuple(v) for k, v in by_meal.items()},
    )


def _menu_stamps_read(store_id: int) -> tuple[str, ...]:
    """The five stamps alone, in one statement (for a caller that did not read the store with
    them, e.g. adding a line to a cart)."""
    sql = "SELECT " + ", ".join(f"({_MENU_STAMP_SQL[table]})" for table in _MENU_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(sql, [store_id] * len(_MENU_TABLES))
        row = cursor.fetchone()
    return tuple(str(stamp) for stamp in row)


def _menu_for(store_id: int, stamps: tuple[str, ...] | None) -> _Menu:
    """The store's menu: the cached one if its stamps match the live ones, else read anew.
    `stamps`: read by the caller just now (with the store); None reads them here."""
    if stamps is None:
        stamps = _menu_stamps_read(store_id)
    with _menus_lock:
        cached = _menus.get(store_id)
        if cached is not None and cached.stamps == stamps:
            _menus.move_to_end(store_id)
            return cached
    menu = _menu_load(store_id)
    with _menus_lock:
        _menus[store_id] = menu
        _menus.move_to_end(store_id)
        while len(_menus) > MENU_CACHE_STORES:
            _menus.popitem(last=False)
    # Read after `stamps`, so at least as fresh: what separate reads would have seen.
    return menu


@dataclass(frozen=True)
class _ResolvedLine:
    item: MenuItem | None
    set_meal: SetMeal | None
    options: tuple[Option, ...]
    quantity: int
    note: str
    components: tuple[SetMealComponent, ...] = ()  # a set meal's, in menu order


def resolve_lines(store: Store, lines: tuple[LineRequest, ...], *, menu: _Menu | None = None) -> list[_ResolvedLine]:
    """Check every line against the live menu: the item belongs to this store and is available,
    every option belongs to one of its groups, each group's min/max is respected. `menu`: the
    store's menu as placement just validated it (else the cached one while its stamps match)."""
    if not lines:
        raise OrderRefused("empty_cart", _("The cart is empty."), field="lines")
    if menu is None:
        menu = _menu_for(store.pk, None)
    resolved: list[_ResolvedLine] = []
    for index, line in enumerate(lines):
        where = f"lines.{index}"
        if (line.item_id is None) == (line.set_meal_id is None):
            raise OrderRefused("invalid_line", _("Each line is one item or one set meal."), field=where)
        if line.set_meal_id is not None:
            meal = menu.meals.get(line.set_meal_id)
            if meal is None:
                raise OrderRefused("unknown_set_meal", _("That set meal is not on this store's menu."), field=where)
            components = menu.components.get(meal.pk, ())
            if not meal.available or any(not c.item.available for c in components):
                raise OrderRefused("sold_out", _("%(name)s is sold out.") % {"name": meal.display_name}, field=where)
            if line.option_ids:
                raise OrderRefused("invalid_option", _("Set meals take no options."), field=where)
            resolved.append(_ResolvedLine(None, meal, (), line.quantity, line.note, components))
            continue
        assert line.item_id is not None  # noqa: S101 - narrowed by the xor check above
        item = menu.items.get(line.item_id)
        if item is None:
            raise OrderRefused("unknown_item", _("That dish is not on this store's menu."), field=where)
        if not item.available:
            raise OrderRefused("sold_out", _("%(name)s is sold out.") % {"name": item.display_name}, field=where)
        chosen: list[Option] = []
        wanted = set(line.option_ids)
        for group in menu.groups.get(item.pk, ()):
            picked = [o for o in menu.options.get(group.pk, ()) if o.pk in wanted]
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
    menu_stamps: tuple[str, ...]  # the menu's, in _MENU_TABLES order (see _menu_for)


def _json_time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


# The statement of _store_for_placement, written once per process: building it with the ORM
# (three ArraySubquery(JSONObject) annotations, a spatial lookup, a Distance, five stamps) cost
# more Python than everything else placement does with the store, for a statement whose shape
# never changes. PostGIS computes as the ORM's version did: ST_Covers on the zone's geometry,
# ST_Distance between geographies (on the spheroid, in metres).
_placement_sql: str | None = None


def _placement_statement() -> str:
    global _placement_sql
    if _placement_sql is None:
        columns = ", ".join(
            f's."{f.column}"::bytea AS "{f.column}"' if f.name == "location" else f's."{f.column}"'
            for f in Store._meta.concrete_fields
            if f.name != "zone"  # not loaded: parsing a multipolygon is the costliest part of the row
        )
        stamps = ", ".join(
            f"({_MENU_STAMP_SQL[table].replace('%s', 's.id')}) AS menu_stamp_{table}" for table in _MENU_TABLES
        )
        _placement_sql = (
            f"SELECT {columns}, "  # noqa: S608 - column and table names from the models, values as parameters
            "ST_Covers(s.zone, ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)) AS reach_covers, "
            "ST_Distance(s.location, ST_SetSRID(ST_MakePoint(%(lng)s, %(lat)s), 4326)::geography) "
            "AS reach_distance, "
            "(SELECT coalesce(json_agg(json_build_object('u', b.up_to_m, 'f', b.fee_cents)), '[]') "
            f'FROM "{DeliveryFeeBand._meta.db_table}" b WHERE b.store_id = s.id)::text AS bands_json, '
            "(SELECT coalesce(json_agg(json_build_object('w', h.weekday, 'o', h.opens, 'c', h.closes)), '[]') "
            f'FROM "{OpeningHours._meta.db_table}" h WHERE h.store_id = s.id)::text AS hours_json, '
            "(SELECT coalesce(json_agg(json_build_object('d', e.date, 'x', e.closed, 'o', e.opens, "
            f"'c', e.closes)), '[]') FROM \"{HoursException._meta.db_table}\" e "
            "WHERE e.store_id = s.id AND e.date IN (%(today)s, %(yesterday)s))::text AS exceptions_json, "
            f"{stamps} "
            f'FROM "{Store._meta.db_table}" s WHERE s.id = %(store)s'
        )
    return _placement_sql


def _store_for_placement(*, store_id: int, point: Point, now: datetime) -> tuple[Store, _PlacementFacts] | None:
    """The store and what placement checks, in one statement: whether its zone covers `point`
    and the distance to it, its fee bands, and whether its opening hours and the exceptions of
    the two dates that matter cover `now` (delivery.hours.is_open_at, as store_is_open decides).
    Status, pause, hours and bands are read fresh on every call: a pause or a closure acts at
    once. The zone itself is not loaded. With them, the stamps of the store's menu (_menu_for)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(tz).date()  # as store_is_open reckons it
    params = {
        "store": store_id,
        "lng": point.x,
        "lat": point.y,
        "today": today,
        "yesterday": today - timedelta(days=1),
    }
    found = list(Store.objects.raw(_placement_statement(), params))
    if not found:
        return None
    store = found[0]
    annotated: Any = store
    covers = bool(annotated.reach_covers)
    periods = [
        (h["w"], time.fromisoformat(h["o"]), time.fromisoformat(h["c"])) for h in json.loads(annotated.hours_json)
    ]
    exceptions = {
        date.fromisoformat(e["d"]): (e["x"], _json_time(e["o"]), _json_time(e["c"]))
        for e in json.loads(annotated.exceptions_json)
    }
    facts = _PlacementFacts(
        covers=covers,
        distance_m=round(float(annotated.reach_distance)) if covers else None,
        fee_bands=tuple(
            sorted(
                (FeeBand(up_to_m=b["u"], fee_cents=b["f"]) for b in json.loads(annotated.bands_json)),
                key=lambda b: b.up_to_m,
            )
        ),
        open_now=is_open_at(periods=periods, exceptions=exceptions, at=now, tz=tz),
        menu_stamps=tuple(str(getattr(annotated, f"menu_stamp_{table}")) for table in _MENU_TABLES),
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
    lines = resolve_lines(store, request.lines, menu=_menu_for(store.pk, facts.menu_stamps))
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
                {"name_zh": c.item.name_zh, "name_en": c.item.name_en, "quantity": c.quantity} for c in line.components
            ],
            allergens=sorted({a for c in line.components for a in c.item.allergens}),
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
