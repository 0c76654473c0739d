"""The one pricing function of the marketplace: a cart, a store's fees and a coupon in, a quote out.

Pure: no database, no clock, no settings, no Django models, so the cart page, checkout and order
placement all price the same way and tests can check every rule exhaustively. Money is integer
cents (分) of CNY throughout; no float ever enters or leaves this module.

Invariants of every `Quote` that `price_order` returns:

* each unit price is its base plus its option deltas, and is >= 0;
* each line total is unit price × quantity; the subtotal is the sum of the line totals;
* 0 <= discount <= subtotal, and discount = discount_platform + discount_store, with the whole
  discount on the side that funds the coupon (the other share is 0);
* total = subtotal + packaging + delivery fee - discount, and total >= 0
  (it follows: the discount is capped at the subtotal and fees are never negative);
* the result does not depend on the order of the fee bands; reordering the lines reorders the
  per-line tuples the same way and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUANTITY = 99
FUNDERS = frozenset({"platform", "store"})


@dataclass(frozen=True)
class LineInput:
    unit_base_cents: int  # item price, or set-meal price
    option_deltas_cents: tuple[int, ...] = ()  # chosen options' price deltas (may be negative)
    quantity: int = 1


@dataclass(frozen=True)
class FeeBand:
    up_to_m: int  # this fee applies to drop-offs up to this distance (metres) from the store
    fee_cents: int


@dataclass(frozen=True)
class CouponTerms:
    code: str
    threshold_cents: int  # minimum subtotal (items only, before packaging and delivery) to apply
    discount_cents: int
    funded_by: str  # "platform" or "store"


@dataclass(frozen=True)
class PricingInput:
    lines: tuple[LineInput, ...]
    packaging_fee_cents: int  # per order
    min_order_cents: int  # minimum subtotal to order at all
    fee_bands: tuple[FeeBand, ...]  # any order; the smallest band covering the distance applies
    distance_m: int
    coupon: CouponTerms | None = None


@dataclass(frozen=True)
class Quote:
    unit_prices_cents: tuple[int, ...]  # per line: base + sum(deltas)
    line_totals_cents: tuple[int, ...]  # per line: unit price * quantity
    subtotal_cents: int
    packaging_cents: int
    delivery_fee_cents: int
    discount_cents: int
    discount_platform_cents: int
    discount_store_cents: int
    total_cents: int


class PricingError(Exception):
    """Why an order cannot be priced: a stable machine `code` and a readable English `message`."""

    def __init__(self, code: str, message: str) -> None:
        # Both go to Exception.args so the error pickles and reprs with its code.
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def format_yuan(cents: int) -> str:
    """1250 -> "¥12.50", -5 -> "-¥0.05": integer arithmetic, so no rounding can creep in."""
    sign = "-" if cents < 0 else ""
    yuan, fen = divmod(abs(cents), 100)
    return f"{sign}¥{yuan}.{fen:02d}"


def price_order(inp: PricingInput) -> Quote:
    """Price a cart for delivery to a point `distance_m` metres from the store.

    Raises PricingError, checking in this order (so one input always gives the same code):
    malformed input first — "empty_cart", "invalid_quantity", "invalid_price", "invalid_coupon",
    "out_of_range" for a negative distance — then the business refusals — "below_minimum",
    "out_of_range", "coupon_threshold_not_met".

    The delivery fee is that of the band with the smallest `up_to_m` >= the distance (a distance
    equal to `up_to_m` is inside the band); two bands with the same `up_to_m` (the database
    forbids it) resolve to the cheaper one, so band order never matters.
    """
    if not inp.lines:
        raise PricingError("empty_cart", "The cart is empty.")

    for line in inp.lines:
        if not _is_int(line.quantity) or not 1 <= line.quantity <= MAX_QUANTITY:
            raise PricingError(
                "invalid_quantity", f"Quantity must be a whole number from 1 to {MAX_QUANTITY}, not {line.quantity}."
            )

    unit_prices: list[int] = []
    for line in inp.lines:
        if not _is_cents(line.unit_base_cents) or not all(_is_int(d) for d in line.option_deltas_cents):
            raise PricingError("invalid_price", "Item prices must be whole cents, and not below zero.")
        unit = line.unit_base_cents + sum(line.option_deltas_cents)
        if unit < 0:
            # A negative option delta (a smaller size) may lower a price, never below nothing.
            raise PricingError("invalid_price", f"A line's price with its options is {format_yuan(unit)}.")
        unit_prices.append(unit)

    if not (_is_cents(inp.packaging_fee_cents) and _is_cents(inp.min_order_cents)):
        raise PricingError("invalid_price", "The packaging fee and minimum order must be whole cents, not below zero.")
    if not all(_is_int(band.up_to_m) and _is_cents(band.fee_cents) for band in inp.fee_bands):
        raise PricingError("invalid_price", "Delivery fees must be whole cents, not below zero.")

    coupon = inp.coupon
    if coupon is not None:
        if coupon.funded_by not in FUNDERS:
            raise PricingError("invalid_coupon", f"Coupon {coupon.code} has an unknown funder {coupon.funded_by!r}.")
        if not (_is_cents(coupon.threshold_cents) and _is_cents(coupon.discount_cents)):
            raise PricingError("invalid_coupon", f"Coupon {coupon.code} must have whole, non-negative amounts.")

    if not _is_int(inp.distance_m) or inp.distance_m < 0:
        raise PricingError("out_of_range", "The delivery distance is not a valid number of metres.")

    line_totals = [unit * line.quantity for unit, line in zip(unit_prices, inp.lines, strict=True)]
    subtotal = sum(line_totals)

    if subtotal < inp.min_order_cents:
        missing = inp.min_order_cents - subtotal
        raise PricingError(
            "below_minimum",
            f"{format_yuan(missing)} more to reach the minimum order of {format_yuan(inp.min_order_cents)}.",
        )

    covering = [band for band in inp.fee_bands if band.up_to_m >= inp.distance_m]
    if not covering:
        raise PricingError("out_of_range", "This address is beyond the store's delivery range.")
    delivery_fee = min(covering, key=lambda band: (band.up_to_m, band.fee_cents)).fee_cents

    discount = platform_share = store_share = 0
    if coupon is not None:
        if subtotal < coupon.threshold_cents:
            raise PricingError(
                "coupon_threshold_not_met",
                f"Coupon {coupon.code} needs a subtotal of {format_yuan(coupon.threshold_cents)}; "
                f"add {format_yuan(coupon.threshold_cents - subtotal)} more.",
            )
        # Capped at the items: a coupon never pays for packaging or delivery, nor pays the diner.
        discount = min(coupon.discount_cents, subtotal)
        if coupon.funded_by == "platform":
            platform_share = discount
        else:
            store_share = discount

    return Quote(
        unit_prices_cents=tuple(unit_prices),
        line_totals_cents=tuple(line_totals),
        subtotal_cents=subtotal,
        packaging_cents=inp.packaging_fee_cents,
        delivery_fee_cents=delivery_fee,
        discount_cents=discount,
        discount_platform_cents=platform_share,
        discount_store_cents=store_share,
        total_cents=subtotal + inp.packaging_fee_cents + delivery_fee - discount,
    )


def _is_int(value: object) -> bool:
    # A bool or a float here is a caller's bug, and letting a float through would make every
    # output a float.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_cents(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
