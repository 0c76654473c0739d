"""Coupon eligibility: may this diner use this coupon at this store, now?

`coupon_refusal` decides, purely, from `CouponFacts`; `coupon_facts_for` is the one database read
that gathers those facts. Splitting them keeps every rule testable without a database, and keeps
the read in one place for the service that places the order to call (under its own lock: the
counts it returns are a snapshot, so a limit is only enforced if the caller serialises
redemptions of the coupon).

Whether the coupon's threshold is met is pricing's question (delivery.pricing), not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from delivery.models import Coupon, CouponRedemption, Order
from delivery.pricing import CouponTerms

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

# Orders that ended without reaching the diner: their coupons count as unused again.
NEVER_SERVED = (Order.Status.CANCELLED, Order.Status.REJECTED)

# Readable text per refusal code, for pages and API errors: lazy, so each is read in the
# language active where it is shown (str() it there).
COUPON_MESSAGES: dict[str, _StrPromise] = {
    "coupon_inactive": _("This coupon is no longer available."),
    "coupon_not_started": _("This coupon cannot be used yet."),
    "coupon_expired": _("This coupon has expired."),
    "coupon_wrong_store": _("This coupon is not valid at this store."),
    "coupon_used_up": _("You have already used this coupon as many times as allowed."),
    "coupon_exhausted": _("This coupon has run out."),
    "coupon_new_diners_only": _("This coupon is for a first order only."),
}


@dataclass(frozen=True)
class CouponFacts:
    kind: str  # "new_diner" or "spend_save" (delivery.models.Coupon.Kind values)
    store_id: int | None  # None: platform coupon, valid at any store
    active: bool
    valid_from: datetime  # aware
    valid_to: datetime  # aware
    per_diner_limit: int
    total_limit: int | None  # None: unlimited
    uses_by_diner: int
    uses_total: int
    diner_has_prior_orders: bool  # any earlier order that was paid (new-diner coupons need False)


def coupon_refusal(facts: CouponFacts, *, store_id: int, now: datetime) -> str | None:
    """None when the coupon may be used at `store_id` at `now`; else a stable code (a key of
    COUPON_MESSAGES): "coupon_inactive", "coupon_not_started", "coupon_expired",
    "coupon_wrong_store", "coupon_used_up" (per-diner limit), "coupon_exhausted" (total limit),
    "coupon_new_diners_only".

    Checked in that order, so the answer is the first rule broken. The validity window is
    half-open: usable from `valid_from` inclusive until `valid_to` exclusive. `now` must be
    aware (comparing it with the aware window raises TypeError otherwise).
    """
    if not facts.active:
        return "coupon_inactive"
    if now < facts.valid_from:
        return "coupon_not_started"
    if now >= facts.valid_to:
        return "coupon_expired"
    if facts.store_id is not None and facts.store_id != store_id:
        return "coupon_wrong_store"
    if facts.uses_by_diner >= facts.per_diner_limit:
        return "coupon_used_up"
    if facts.total_limit is not None and facts.uses_total >= facts.total_limit:
        return "coupon_exhausted"
    if facts.kind == Coupon.Kind.NEW_DINER and facts.diner_has_prior_orders:
        return "coupon_new_diners_only"
    return None


def coupon_facts_for(*, coupon: Coupon, diner_id: int) -> CouponFacts:
    """The facts `coupon_refusal` needs, read now (two queries, no writes, no locks).

    Uses are CouponRedemption rows, except those whose order was cancelled or rejected: an order
    that never reached the diner gives its coupon back (the redemption row stays, as the record of
    what the order was priced with). Prior orders are the diner's orders at any store with
    `paid_at` set that were not cancelled or rejected (a refunded first order still makes the
    diner a returning one).
    """
    uses = (
        CouponRedemption.objects.filter(coupon=coupon)
        .exclude(order__status__in=NEVER_SERVED)
        .aggregate(total=Count("id"), by_diner=Count("id", filter=Q(diner_id=diner_id)))
    )
    return CouponFacts(
        kind=coupon.kind,
        store_id=coupon.store_id,
        active=coupon.active,
        valid_from=coupon.valid_from,
        valid_to=coupon.valid_to,
        per_diner_limit=coupon.per_diner_limit,
        total_limit=coupon.total_limit,
        uses_by_diner=int(uses["by_diner"]),
        uses_total=int(uses["total"]),
        diner_has_prior_orders=Order.objects.filter(diner_id=diner_id, paid_at__isnull=False)
        .exclude(status__in=NEVER_SERVED)
        .exists(),
    )


def coupon_terms(coupon: Coupon) -> CouponTerms:
    """The coupon as pricing sees it: code, threshold, discount and who funds it."""
    return CouponTerms(
        code=coupon.code,
        threshold_cents=coupon.threshold_cents,
        discount_cents=coupon.discount_cents,
        funded_by=coupon.funded_by,
    )
