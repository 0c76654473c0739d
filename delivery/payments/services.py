"""Payments and refunds: the writes. Providers are reached only through `get_provider`.

Invariants kept here:
- A payment's amount is its order's total; a webhook whose amount differs changes nothing.
- Each provider event id takes effect at most once: its WebhookReceipt is inserted in the same
  transaction as the effect, and the unique (provider, event_id) constraint settles races.
- Never more is refunded than was paid: refunds reserve `Payment.refunded_cents` under a row
  lock on the payment, and the database's check constraint is the last word.
- Order statuses change only through delivery.transitions.order_transition.

Lock order, everywhere: the payment row, then order lines, then the order (via the transition).
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import User
from delivery.models import Order, OrderLine, Payment, Refund, WebhookReceipt
from delivery.payments.base import (
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    REFUND_SUCCEEDED,
    PaymentRefused,
    ProviderDeclined,
    ProviderEvent,
    ProviderUnknown,
    WebhookRejected,
    get_provider,
)
from delivery.services.ledger import ledger_post_refund
from delivery.transitions import TransitionRefused, order_transition

logger = logging.getLogger(__name__)

S = Order.Status
# A refund moves the order only after delivery; before that (rejected, cancelled) it is money only.
_REFUND_MOVES_ORDER = frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED})
_REASON_MAX = 200


# --- Paying --------------------------------------------------------------------------------


# What paying reads of an order. Its other columns (the drop-off point's geometry above all)
# cost more to load than the rest of the statement; a provider or a caller that reads one of
# them gets it loaded on first use, as Django loads any deferred field.
_ORDER_PAYING_FIELDS = ("id", "number", "status", "version", "diner", "store", "total_cents")


_ORDER_PAYING_COLUMNS = [(f.column, f.attname) for f in Order._meta.concrete_fields if f.name in _ORDER_PAYING_FIELDS]
_ORDER_PAYING_ATTNAMES = [attname for _column, attname in _ORDER_PAYING_COLUMNS]


@functools.cache
def _order_lock_sql(where: str) -> str:
    columns = ", ".join(f'o."{column}"' for column, _attname in _ORDER_PAYING_COLUMNS)
    return f'SELECT {columns} FROM "{Order._meta.db_table}" o WHERE {where} FOR UPDATE OF o'  # noqa: S608 - fixed text


@functools.cache
def _pending_payment_sql() -> str:
    return (
        f'SELECT * FROM "{Payment._meta.db_table}" '  # noqa: S608 - the model's table, values as parameters
        "WHERE order_id = %s AND provider = %s AND status = %s ORDER BY created_at, id LIMIT 1"
    )


def payment_start(
    *, order: Order | None = None, number: str = "", diner_id: int | None = None, provider_name: str = "sandbox"
) -> tuple[Payment, str]:
    """Start, or resume, paying for a placed order; return the payment and the URL to send the
    diner to (the provider's hosted page).

    The order is `order`, or the one with this `number` whose diner is `diner_id` (read and
    locked in one statement; PaymentRefused "order_not_found" when there is none, so a caller
    need not read it first).

    Idempotent: while the order has a pending payment with this provider, that payment is
    returned again; the order row is locked, so two taps cannot open two payments. Only a
    placed order may start paying (else PaymentRefused "order_not_payable"); the amount is the
    order's total, fixed at placement. The caller has checked that the user is the order's diner.
    """
    try:
        provider = get_provider(provider_name)
    except ProviderUnknown:
        raise PaymentRefused("unknown_provider", f"There is no payment provider {provider_name!r}.") from None
    with transaction.atomic():
        # Two statements written once (the ORM built them anew for every payment): the order,
        # locked, with only what paying reads; then its pending payment. The second must be a
        # statement of its own: a payment committed by a concurrent start while we waited for the
        # lock is visible only to a statement begun after the lock was granted.
        params: list[object]
        if order is not None:
            where, params = "o.id = %s", [order.pk]
        else:
            where, params = "o.number = %s AND o.diner_id = %s", [number, diner_id]
        found: Order | None = next(iter(Order.objects.raw(_order_lock_sql(where), params)), None)
        if found is None:
            if order is not None:
                raise Order.DoesNotExist("No such order.")
            raise PaymentRefused("order_not_found", "No such order.")
        locked = found
        if locked.status != S.PLACED:
            raise PaymentRefused(
                "order_not_payable", f"Order {locked.number} is {locked.status}; only a placed order can be paid."
            )
        payment: Payment | None = next(
            iter(Payment.objects.raw(_pending_payment_sql(), [locked.pk, provider.name, Payment.Status.PENDING])), None
        )
        if payment is None:
            payment = Payment.objects.create(
                order=locked,
                provider=provider.name,
                provider_ref=f"{provider.ref_prefix}{secrets.token_urlsafe(18)}",
                amount_cents=locked.total_cents,
            )
    return payment, provider.create_payment(payment=payment)


def payment_webhook_handle(*, provider_name: str, raw_body: bytes, headers: Mapping[str, str]) -> str:
    """Verify one provider webhook and apply it; return a short status for the response.

    Statuses: "paid", "failed", "refunded", "already_handled" (a new event repeating a settled
    outcome), "paid_after_cancel" and "duplicate_payment" (money taken that the order did not
    need: logged for an operator to refund), "ignored" (an event type we do not act on).

    Raises WebhookRejected, and then nothing has changed: signature_* (see the provider),
    malformed, unknown_provider, replayed (this event id was handled before; two racing
    deliveries of one event produce one effect), unknown_payment / unknown_refund,
    amount_mismatch (the amount differs from the payment's or the order total).
    """
    try:
        provider = get_provider(provider_name)
    except ProviderUnknown:
        raise WebhookRejected("unknown_provider", f"There is no payment provider {provider_name!r}.") from None
    event = provider.verify_webhook(raw_body=raw_body, headers=headers, now=timezone.now())
    with transaction.atomic():
        if not _receipt_claim(provider_name=provider.name, event_id=event.event_id):
            # A racing delivery of the same event blocks on the unique index until the first
            # commits, then lands here: the effect happens once.
            raise WebhookRejected("replayed", f"Event {event.event_id} was already handled.")
        if event.type == PAYMENT_SUCCEEDED:
            return _payment_succeeded_apply(provider_name=provider.name, event=event)
        if event.type == PAYMENT_FAILED:
            return _payment_failed_apply(provider_name=provider.name, event=event)
        if event.type == REFUND_SUCCEEDED:
            return _refund_succeeded_apply(provider_name=provider.name, event=event)
        return "ignored"


def _receipt_claim(*, provider_name: str, event_id: str) -> bool:
    """Insert the event's WebhookReceipt; False if it exists. One statement and no savepoint:
    INSERT … ON CONFLICT DO NOTHING waits for a concurrent insert of the same event to commit
    (then does nothing) or roll back (then inserts)."""
    table = WebhookReceipt._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (provider, event_id, received_at) VALUES (%s, %s, %s) '  # noqa: S608 - the model's table
            "ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
            [provider_name, event_id, timezone.now()],
        )
        return cursor.fetchone() is not None


_lock_sql: str | None = None


def _payment_lock_sql() -> str:
    """The payment by (provider, provider_ref), locked, with its order's paying fields as
    order_<attname>: one statement written once (the ORM's select_for_update, select_related and
    defer() of the order's other columns cost more Python to build than the webhook's work)."""
    global _lock_sql  # written once, when the models are loaded
    if _lock_sql is None:
        order_columns = ", ".join(f'o."{column}" AS "order_{attname}"' for column, attname in _ORDER_PAYING_COLUMNS)
        _lock_sql = (
            f"SELECT p.*, {order_columns} "  # noqa: S608 - names from the models, values as parameters
            f'FROM "{Payment._meta.db_table}" p JOIN "{Order._meta.db_table}" o ON o.id = p.order_id '
            "WHERE p.provider = %s AND p.provider_ref = %s FOR UPDATE OF p"
        )
    return _lock_sql


def _payment_locked(*, provider_name: str, event: ProviderEvent) -> tuple[Payment, Order]:
    """The event's payment, locked, and its order, once the amounts agree."""
    # The payment row is locked (not the order's: the transition takes that by compare-and-swap);
    # its order's paying fields come in the same statement, written once (see _payment_lock_sql).
    payment: Any = next(iter(Payment.objects.raw(_payment_lock_sql(), [provider_name, event.provider_ref])), None)
    if payment is None:
        raise WebhookRejected("unknown_payment", f"No payment {event.provider_ref!r} with {provider_name}.")
    values = [getattr(payment, f"order_{attname}") for attname in _ORDER_PAYING_ATTNAMES]
    order = Order.from_db(payment._state.db, _ORDER_PAYING_ATTNAMES, values)
    payment.order = order
    if not event.amount_cents == payment.amount_cents == order.total_cents:
        raise WebhookRejected(
            "amount_mismatch",
            f"The event is for {event.amount_cents}; payment {payment.provider_ref} is for {payment.amount_cents} "
            f"and order {order.number} totals {order.total_cents}.",
        )
    return payment, order


def _payment_succeeded_apply(*, provider_name: str, event: ProviderEvent) -> str:
    payment, order = _payment_locked(provider_name=provider_name, event=event)
    if payment.status == Payment.Status.SUCCEEDED:
        return "already_handled"
    # A failed attempt may be followed by a successful one on the same payment (a retried card).
    payment.status = Payment.Status.SUCCEEDED
    payment.save(update_fields=["status", "updated_at"])
    if order.status == S.PLACED:
        try:
            order_transition(order_id=order.pk, to=S.PAID, actor=None, actor_role="system", reason="payment succeeded")
        except TransitionRefused as refused:
            order = refused.order  # cancelled between our read and the transition
        else:
            return "paid"
    if order.status == S.CANCELLED:
        logger.warning("payment %s succeeded for cancelled order %s: refund it", payment, order.number)
        return "paid_after_cancel"
    if Payment.objects.filter(order_id=order.pk, status=Payment.Status.SUCCEEDED).exclude(pk=payment.pk).exists():
        logger.warning("payment %s succeeded for order %s, already paid: refund it", payment, order.number)
        return "duplicate_payment"
    return "already_handled"


def _payment_failed_apply(*, provider_name: str, event: ProviderEvent) -> str:
    payment, _order = _payment_locked(provider_name=provider_name, event=event)
    # A late failure never undoes a success; the order stays placed, so the diner may try again.
    if payment.status != Payment.Status.PENDING:
        return "already_handled"
    payment.status = Payment.Status.FAILED
    payment.save(update_fields=["status", "updated_at"])
    return "failed"


def _refund_succeeded_apply(*, provider_name: str, event: ProviderEvent) -> str:
    refund = Refund.objects.filter(payment__provider=provider_name, provider_ref=event.provider_ref).first()
    if refund is None:
        # Also when the provider reports before we stored its reference: its retry will match.
        raise WebhookRejected("unknown_refund", f"No refund {event.provider_ref!r} with {provider_name}.")
    if event.amount_cents != refund.amount_cents:
        raise WebhookRejected(
            "amount_mismatch", f"The event is for {event.amount_cents}; the refund is for {refund.amount_cents}."
        )
    if _refund_settle(refund_id=refund.pk, actor=None, actor_role="system"):
        return "refunded"
    if refund.status == Refund.Status.FAILED:
        logger.warning("provider reports refund %s succeeded, which we recorded as failed", refund.pk)
    return "already_handled"


# --- Refunding -----------------------------------------------------------------------------


def refund_issue(
    *,
    order: Order,
    amount_cents: int | None,
    lines: list[dict[str, Any]] | None,
    reason: str,
    actor: User | None,
    actor_role: str,
) -> Refund:
    """Refund money of a paid order: all that remains (amount and lines None), an amount, or
    items (lines = [{"line": <OrderLine id>, "quantity": n}], priced at their unit price).

    Never refunds more than was paid (PaymentRefused "refund_exceeds_paid") nor more of a line
    than was bought ("refund_exceeds_quantity"); concurrent refunds are serialised on the
    payment row, so together they cannot exceed it either. A delivered or partially refunded
    order becomes "refunded" once its refunds add up to the payment, else "partially_refunded";
    other orders (rejected, cancelled) keep their status: the refund is only money.

    Three steps, so that no lock is held while the provider is asked and no refund is lost:
    reserve (commit the Refund as pending, with Payment.refunded_cents and the lines' refunded
    quantities bumped), ask the provider with the refund id as idempotency key, then record its
    reference and, if it settles at once, settle. A definite refusal (ProviderDeclined) releases
    the reservation and raises PaymentRefused "refund_declined"; any other provider error leaves
    the refund pending and reserved (the outcome is unknown) and propagates. Call it outside a
    transaction so the reservation commits before the provider is asked. Not idempotent: each
    call is a new refund; the caller has checked the actor may refund this order.
    """
    reason = reason.strip()
    if not reason or len(reason) > _REASON_MAX:
        raise PaymentRefused("refund_invalid", f"A refund needs a reason of 1 to {_REASON_MAX} characters.")
    if amount_cents is not None and lines:
        raise PaymentRefused("refund_invalid", "Give an amount or lines to refund, not both.")
    if amount_cents is not None and amount_cents <= 0:
        raise PaymentRefused("refund_invalid", "A refund must be for a positive amount.")
    wanted = _refund_lines_parse(lines or [])

    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(order_id=order.pk, status=Payment.Status.SUCCEEDED)
            .order_by("created_at", "id")
            .first()
        )
        if payment is None:
            raise PaymentRefused("not_paid", f"Order {order.number} has no successful payment to refund.")
        try:
            provider = get_provider(payment.provider)
        except ProviderUnknown:
            raise PaymentRefused("unknown_provider", f"Payment {payment} has no registered provider.") from None
        remaining = payment.amount_cents - payment.refunded_cents
        if wanted:
            amount = _refund_lines_reserve(order=order, wanted=wanted)
        else:
            amount = remaining if amount_cents is None else amount_cents
        # Raising here rolls back the lines' reservation above with the rest of this transaction.
        if amount > remaining or remaining == 0:
            raise PaymentRefused(
                "refund_exceeds_paid", f"{remaining} of {payment.amount_cents} is left to refund; asked {amount}."
            )
        if amount <= 0:
            raise PaymentRefused("refund_invalid", "There is nothing to refund.")
        Payment.objects.filter(pk=payment.pk).update(
            refunded_cents=F("refunded_cents") + amount, updated_at=timezone.now()
        )
        refund = Refund.objects.create(
            payment=payment,
            amount_cents=amount,
            reason=reason,
            lines=[{"line": line_id, "quantity": quantity} for line_id, quantity in sorted(wanted.items())],
        )

    try:
        reference = provider.refund(payment=payment, amount_cents=amount, refund_id=refund.pk)
    except ProviderDeclined as declined:
        _refund_release(refund_id=refund.pk)
        raise PaymentRefused("refund_declined", f"The provider declined the refund: {declined}") from declined

    Refund.objects.filter(pk=refund.pk).update(provider_ref=reference, updated_at=timezone.now())
    if provider.refunds_settle_at_once:
        _refund_settle(refund_id=refund.pk, actor=actor, actor_role=actor_role)
    refund.refresh_from_db()
    return refund


def _refund_lines_parse(lines: list[dict[str, Any]]) -> dict[int, int]:
    """Line id -> quantity to refund (repeated lines add up)."""
    wanted: dict[int, int] = {}
    for entry in lines:
        line_id, quantity = entry.get("line"), entry.get("quantity")
        # bool is an int in Python; `true` is not a quantity.
        if not (type(line_id) is int and type(quantity) is int and quantity >= 1):
            raise PaymentRefused("refund_invalid", "Each refunded line needs a line id and a quantity of at least 1.")
        wanted[line_id] = wanted.get(line_id, 0) + quantity
    return wanted


def _refund_lines_reserve(*, order: Order, wanted: dict[int, int]) -> int:
    """Bump the lines' refunded quantities (never past what was bought); return their price."""
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order_id=order.pk, pk__in=list(wanted))}
    unknown = sorted(set(wanted) - set(order_lines))
    if unknown:
        raise PaymentRefused("refund_line_unknown", f"Order {order.number} has no line {unknown[0]}.")
    for line_id, quantity in sorted(wanted.items()):
        # Conditional update: two refunds of one line cannot together pass its quantity.
        bumped = OrderLine.objects.filter(pk=line_id, refunded_quantity__lte=F("quantity") - quantity).update(
            refunded_quantity=F("refunded_quantity") + quantity
        )
        if not bumped:
            line = order_lines[line_id]
            raise PaymentRefused(
                "refund_exceeds_quantity", f"Line {line_id} ({line.name_zh}) has too few items left to refund."
            )
    return sum(order_lines[line_id].unit_price_cents * quantity for line_id, quantity in wanted.items())


def _refund_release(*, refund_id: int) -> None:
    """A refund the provider refused: mark it failed and give back what it reserved (once)."""
    with transaction.atomic():
        refund = Refund.objects.get(pk=refund_id)
        Payment.objects.select_for_update().get(pk=refund.payment_id)
        now = timezone.now()
        if not Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).update(
            status=Refund.Status.FAILED, updated_at=now
        ):
            return
        Payment.objects.filter(pk=refund.payment_id).update(
            refunded_cents=F("refunded_cents") - refund.amount_cents, updated_at=now
        )
        for entry in refund.lines:
            given_back = F("refunded_quantity") - entry["quantity"]
            OrderLine.objects.filter(pk=entry["line"]).update(refunded_quantity=given_back)


def _refund_settle(*, refund_id: int, actor: User | None, actor_role: str) -> bool:
    """Mark a pending refund succeeded and move a delivered order accordingly; False if it was
    not pending (settled before, or failed). Books the store's share in the ledger in the same
    transaction (idempotent per refund). Serialised on the payment row, so of two refunds
    settling at once the later one sees the earlier and the order ends "refunded" when due."""
    with transaction.atomic():
        refund = Refund.objects.get(pk=refund_id)
        payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
        if not Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED, updated_at=timezone.now()
        ):
            return False
        settled = Refund.objects.filter(payment_id=payment.pk, status=Refund.Status.SUCCEEDED).aggregate(
            total=Sum("amount_cents")
        )["total"]
        order = Order.objects.get(pk=payment.order_id)
        ledger_post_refund(refund=Refund.objects.select_related("payment__order__store").get(pk=refund_id))
        if order.status in _REFUND_MOVES_ORDER:
            to = S.REFUNDED if settled >= payment.amount_cents else S.PARTIALLY_REFUNDED
            order_transition(order_id=order.pk, to=to, actor=actor, actor_role=actor_role, reason=refund.reason)
        return True
