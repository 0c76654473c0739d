"""Reconciliation (对账): a store's ledger summed per business day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, Sum

from delivery.models import LedgerEntry, Store

K = LedgerEntry.Kind


@dataclass(frozen=True)
class ReconciliationDay:
    day: date
    orders: int
    gross_cents: int  # items and packaging of delivered orders
    store_discount_cents: int  # discounts the store funded (negative)
    commission_cents: int  # negative
    refunds_cents: int  # negative
    payout_cents: int  # the sum of the above


def reconciliation_days(*, store: Store, start: date, end: date) -> list[ReconciliationDay]:
    """One row per business day in [start, end] that has entries, oldest first."""

    def total(kind: str) -> Sum:
        return Sum("amount_cents", filter=Q(kind=kind), default=0)

    rows = (
        LedgerEntry.objects.filter(store=store, business_date__range=(start, end))
        .values("business_date")
        .annotate(
            orders=Count("order", filter=Q(kind=K.SALE), distinct=True),
            gross=total(K.SALE),
            discount=total(K.STORE_DISCOUNT),
            commission=total(K.COMMISSION),
            refunds=total(K.REFUND),
            payout=Sum("amount_cents", default=0),
        )
        .order_by("business_date")
    )
    return [
        ReconciliationDay(
            day=row["business_date"],
            orders=row["orders"],
            gross_cents=row["gross"],
            store_discount_cents=row["discount"],
            commission_cents=row["commission"],
            refunds_cents=row["refunds"],
            payout_cents=row["payout"],
        )
        for row in rows
    ]
