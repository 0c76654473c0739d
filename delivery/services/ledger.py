"""The store ledger (对账): what each delivered order and each refund means for the store's payout.

Entries are booked in the same transaction as the change that causes them (delivery, refund),
each under a dedupe key, so a retried service never books twice and reconciliation always
matches the orders to the cent.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from delivery.models import LedgerEntry, Order, Refund


def commission_cents(*, base_cents: int, rate_bp: int) -> int:
    """Commission on `base_cents` at `rate_bp` basis points, rounded half up to the cent."""
    return (base_cents * rate_bp + 5000) // 10000


def _book(order: Order, kind: str, amount_cents: int, key: str, business_date: date) -> None:
    if amount_cents == 0:
        return
    try:
        with transaction.atomic():
            LedgerEntry.objects.create(
                store_id=order.store_id,
                order=order,
                kind=kind,
                amount_cents=amount_cents,
                business_date=business_date,
                dedupe_key=key,
            )
    except IntegrityError:
        pass  # booked already (a retry): the dedupe key is the once-only guarantee


def ledger_post_delivered(*, order: Order) -> None:
    """Book a delivered order: sale (items + packaging), store-funded discount, commission on
    what the store keeps before commission. Idempotent."""
    delivered = order.delivered_at or timezone.now()
    day = timezone.localdate(delivered)
    sale = order.subtotal_cents + order.packaging_cents
    rate = order.store.commission_bp if order.store.commission_bp is not None else settings.PLATFORM_COMMISSION_BP
    commission = commission_cents(base_cents=sale - order.discount_store_cents, rate_bp=rate)
    _book(order, LedgerEntry.Kind.SALE, sale, f"order:{order.pk}:sale", day)
    _book(order, LedgerEntry.Kind.STORE_DISCOUNT, -order.discount_store_cents, f"order:{order.pk}:discount", day)
    _book(order, LedgerEntry.Kind.COMMISSION, -commission, f"order:{order.pk}:commission", day)


def ledger_post_refund(*, refund: Refund) -> None:
    """Book a refund of a delivered order against the store: the store gives back its net share
    of the refunded goods (net = sale - its discount - commission, so commission is returned pro
    rata), never more than it still holds for the order. The delivery fee and platform-funded
    discounts are the platform's. Orders never delivered were never booked: nothing to book.
    Idempotent."""
    order = refund.payment.order
    if order.delivered_at is None:
        return
    entries = list(LedgerEntry.objects.filter(order=order))
    sale = sum(e.amount_cents for e in entries if e.kind == LedgerEntry.Kind.SALE)
    net = sum(e.amount_cents for e in entries if e.kind != LedgerEntry.Kind.REFUND)
    held = net + sum(e.amount_cents for e in entries if e.kind == LedgerEntry.Kind.REFUND)
    if sale <= 0 or held <= 0:
        return
    goods = min(refund.amount_cents, sale)
    store_part = min(held, (goods * net + sale // 2) // sale)
    day = timezone.localdate(refund.created_at or timezone.now())
    _book(order, LedgerEntry.Kind.REFUND, -store_part, f"refund:{refund.pk}", day)
