"""The diner's cart: one per diner and store, checked against the live menu on every change."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from accounts.models import User
from delivery.models import Cart, CartLine, Option, Order, Store
from delivery.services.orders import LineRequest, OrderRefused, resolve_lines


def cart_line_add(*, diner: User, store: Store, line: LineRequest) -> CartLine:
    """Add a line, or raise the quantity of an identical one (same dish, options and note).

    The line is checked exactly as checkout will check it (menu, availability, option groups),
    so a cart never holds what cannot be ordered at the moment it is added. Raises OrderRefused.
    """
    if not 1 <= line.quantity <= 99:
        raise OrderRefused("invalid_quantity", "Choose between 1 and 99.", field="quantity")
    resolve_lines(store, (line,))
    options = sorted(line.option_ids)
    with transaction.atomic():
        cart, _ = Cart.objects.get_or_create(diner=diner, store=store)
        same = CartLine.objects.select_for_update().filter(
            cart=cart, item_id=line.item_id, set_meal_id=line.set_meal_id, option_ids=options, note=line.note
        )
        existing = same.first()
        if existing is not None:
            if existing.quantity + line.quantity > 99:
                raise OrderRefused("invalid_quantity", "At most 99 of one dish.", field="quantity")
            CartLine.objects.filter(pk=existing.pk).update(quantity=F("quantity") + line.quantity)
            existing.refresh_from_db()
            return existing
        return CartLine.objects.create(
            cart=cart,
            item_id=line.item_id,
            set_meal_id=line.set_meal_id,
            option_ids=options,
            quantity=line.quantity,
            note=line.note,
        )


def cart_line_set_quantity(*, diner: User, line_id: int, quantity: int) -> None:
    """Set a line's quantity; 0 removes it. Only the cart's diner may: for anyone else the line
    does not exist (not_found, 404) and nothing changes. Removing a line already gone is done."""
    if not 0 <= quantity <= 99:
        raise OrderRefused("invalid_quantity", "Choose between 0 and 99.", field="quantity")
    lines = CartLine.objects.filter(pk=line_id, cart__diner=diner)
    changed = lines.delete()[0] if quantity == 0 else lines.update(quantity=quantity)
    if not changed and (quantity != 0 or CartLine.objects.filter(pk=line_id).exists()):
        raise OrderRefused("not_found", "No such line in your cart.", status=404)


def cart_clear(*, diner: User, store: Store) -> None:
    CartLine.objects.filter(cart__diner=diner, cart__store=store).delete()


def cart_line_requests(cart: Cart) -> tuple[LineRequest, ...]:
    """The cart as checkout lines."""
    return tuple(
        LineRequest(
            item_id=line.item_id,
            set_meal_id=line.set_meal_id,
            option_ids=tuple(line.option_ids),
            quantity=line.quantity,
            note=line.note,
        )
        for line in cart.lines.all()
    )


@dataclass(frozen=True)
class ReorderResult:
    added: int
    skipped: list[str]  # names of dishes that can no longer be ordered as before


def cart_reorder(*, diner: User, order: Order) -> ReorderResult:
    """Put a past order's dishes back in the cart, with their options where still on the menu.
    Dishes that left the menu or are sold out are skipped and named."""
    if order.diner_id != diner.pk:
        raise OrderRefused("not_found", "No such order.", status=404)
    added, skipped = 0, []
    for line in order.lines.all():
        if line.item_id is None and line.set_meal_id is None:
            skipped.append(line.name_zh)
            continue
        option_ids = _option_ids_now(line.item_id, line.options) if line.item_id else ()
        try:
            cart_line_add(
                diner=diner,
                store=order.store,
                line=LineRequest(
                    item_id=line.item_id,
                    set_meal_id=line.set_meal_id,
                    option_ids=option_ids,
                    quantity=line.quantity,
                    note=line.note,
                ),
            )
            added += 1
        except OrderRefused:
            skipped.append(line.name_zh)
    return ReorderResult(added=added, skipped=skipped)


def _option_ids_now(item_id: int | None, snapshot: list[dict[str, object]]) -> tuple[int, ...]:
    """Find today's options matching the names chosen then (options are snapshotted by name)."""
    wanted = {(str(o.get("group_zh")), str(o.get("option_zh"))) for o in snapshot}
    return tuple(
        option.pk
        for option in Option.objects.filter(group__item_id=item_id).select_related("group")
        if (option.group.name_zh, option.name_zh) in wanted
    )
