"""Sanctions: recorded against a store (and its entity), bound to its identifiers, effective at once.

- A suspension moves the store to `suspended`, a delisting or a dishonest listing to `closed`
  (a compare-and-swap on the store's status, never save()): discovery lists only live stores, so
  it is gone from the diner app as soon as the transaction commits.
- Its unaccepted orders (`placed`, `paid`) are cancelled and the paid ones refunded in full
  (`store_unaccepted_orders_cancel`, after the sanction commits: refunds ask the provider).
- The store's board hears `store.sanctioned` with the reason; the reason stays on the sanction
  (`store_sanctions_in_force` reads it for the board and the merchant's pages).
- A sanction snapshots the identifiers it binds: the entity's credit code, the legal
  representative's ID hash, the store's licence numbers, names and addresses, so the record
  follows a merchant that re-registers under another name or address.

Dishonest listing (严重违法失信名单): 3 years, early removal ("credit repair") by a regulator's
decision after at least 1 year (SAMR Order No. 44 of 2021, 《市场监督管理严重违法失信名单管理办法》,
art. 20 on the 3-year term and art. 21 on removal after one year).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import date

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.access import access_regulator_store
from accounts.models import User
from compliance.models import Licence, Sanction, StoreRegistration
from core.realtime import event_push_on_commit, group_for_store
from delivery.models import Order, Payment, Store
from delivery.payments.base import PaymentRefused
from delivery.payments.services import refund_issue
from delivery.transitions import TransitionRefused, order_transition

logger = logging.getLogger(__name__)
K = Sanction.Kind
SS = Store.Status

DISHONEST_YEARS = 3
REPAIR_AFTER_YEARS = 1
# The store status each sanction puts a store in, and the statuses it may come from.
STORE_STATUS_FOR: dict[str, str] = {K.SUSPENSION: SS.SUSPENDED, K.DELISTING: SS.CLOSED, K.DISHONEST_LIST: SS.CLOSED}
_SANCTIONABLE_FROM = frozenset({SS.DRAFT, SS.PENDING_REVIEW, SS.LIVE, SS.PAUSED, SS.SUSPENDED})
_RESTORABLE = frozenset({SS.PAUSED, SS.LIVE, SS.PENDING_REVIEW, SS.DRAFT})
UNACCEPTED = (Order.Status.PLACED, Order.Status.PAID)
# Set while `sanction_credit_repair` lifts a dishonest listing (the one early way out).
_repairing: ContextVar[bool] = ContextVar("sanction_repairing")


def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February falls back to the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class SanctionRefused(Exception):
    def __init__(self, code: str, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field


def sanctions_in_force(*, today: date | None = None) -> QuerySet[Sanction]:
    """Sanctions not lifted and not past their term."""
    today = today or timezone.localdate()
    return Sanction.objects.filter(lifted_on__isnull=True).filter(
        Q(effective_until__isnull=True) | Q(effective_until__gte=today)
    )


def store_sanctions_in_force(*, store: Store) -> list[Sanction]:
    """What the store's board and its owner's pages show: why the store is off the app."""
    return list(sanctions_in_force().filter(store=store).order_by("-decided_on", "-pk"))


def _status_before(*, store_id: int, today: date) -> str:
    """The status the store goes back to when a sanction ends: its status now, or, when another
    sanction already holds it suspended, the status that one will restore."""
    status = Store.objects.filter(pk=store_id).values_list("status", flat=True).first() or ""
    if status != SS.SUSPENDED:
        return status
    earlier = (
        sanctions_in_force(today=today)
        .filter(store_id=store_id, kind=K.SUSPENSION)
        .exclude(store_status_before="")
        .order_by("decided_on", "pk")
        .values_list("store_status_before", flat=True)
        .first()
    )
    return earlier or status


def _store_status_restore(*, sanction: Sanction, today: date) -> str | None:
    """Put a store that a lifted suspension held back as it was before (`paused` or `live`),
    unless another suspension, delisting or dishonest listing still holds it. A CAS from
    `suspended`: a store closed meanwhile stays closed. Returns the status set, or None."""
    store_id = sanction.store_id
    if sanction.kind != K.SUSPENSION or store_id is None:
        return None
    holding = (
        sanctions_in_force(today=today)
        .filter(store_id=store_id, kind__in=list(STORE_STATUS_FOR))
        .exclude(pk=sanction.pk)
    )
    if holding.exists():
        return None
    # Back as it was (a store under review goes back under review, never straight live); a
    # sanction recorded before the status was kept goes live, as it always did.
    to = sanction.store_status_before if sanction.store_status_before in _RESTORABLE else SS.LIVE
    changed = Store.objects.filter(pk=store_id, status=SS.SUSPENDED).update(status=to, updated_at=timezone.now())
    return to if changed else None


def _store_status_set(*, store_id: int, to: str) -> bool:
    """Compare-and-swap the store's status (a closed store stays closed)."""
    allowed = _SANCTIONABLE_FROM - {to}
    return bool(Store.objects.filter(pk=store_id, status__in=allowed).update(status=to, updated_at=timezone.now()))


def sanction_record(
    *,
    kind: str,
    store: Store,
    decided_by: User | None,
    reason: str,
    rectify_by: date | None = None,
    effective_until: date | None = None,
    today: date | None = None,
) -> Sanction:
    """Record a sanction on a store and its entity, snapshot its identifiers, and move the store
    (suspended or closed) in the caller's transaction; push `store.sanctioned` on commit.
    The caller has checked the actor may decide on this store. Cancelling the store's orders is
    `store_unaccepted_orders_cancel`, to call after commit."""
    if kind not in K.values:
        raise SanctionRefused("invalid_kind", "Unknown sanction.", field="kind")
    today = today or timezone.localdate()
    registration = StoreRegistration.objects.filter(store=store).select_related("entity").first()
    entity = registration.entity if registration else None
    if kind == K.DISHONEST_LIST:
        effective_until = years_after(today, DISHONEST_YEARS)
    licences = Licence.objects.filter(Q(store=store) | Q(entity=entity) if entity else Q(store=store))
    status_before = _status_before(store_id=store.pk, today=today)
    names = [n for n in (store.name_zh, store.name_en, entity.name if entity else "") if n]
    addresses = [a for a in (store.address, entity.registered_address if entity else "") if a]
    sanction = Sanction.objects.create(
        kind=kind,
        store=store,
        entity=entity,
        decided_on=today,
        effective_until=effective_until,
        rectify_by=rectify_by,
        reason=reason,
        decided_by=decided_by,
        store_status_before=status_before,
        bound_uscc=entity.uscc if entity else "",
        bound_legal_rep_id_hash=entity.legal_rep_id_hash if entity else "",
        bound_licence_numbers=sorted({licence.number for licence in licences}),
        bound_names=list(dict.fromkeys(names)),
        bound_addresses=list(dict.fromkeys(addresses)),
    )
    to = STORE_STATUS_FOR.get(kind)
    if to is not None:
        _store_status_set(store_id=store.pk, to=to)
    event_push_on_commit(
        group_for_store(store.pk),
        "store.sanctioned",
        {
            "store": store.pk,
            "sanction": sanction.pk,
            "kind": kind,
            "reason": reason,
            "store_status": to or store.status,
            "until": effective_until.isoformat() if effective_until else None,
        },
    )
    return sanction


def store_unaccepted_orders_cancel(*, store_id: int, reason: str, actor: User | None) -> int:
    """Cancel every order the store has not accepted (placed or paid), then refund in full every
    cancelled order of the store that holds a succeeded, not yet refunded payment (including one
    paid after it was cancelled: the provider's late webhook).

    Idempotent: a rerun finds nothing left to cancel, and a refund is asked only for what remains
    unrefunded (refunds are serialised on the payment row, so two runs cannot refund twice). An
    order the store accepted meanwhile is left to run its course (its transition refuses). One
    order's failure (a provider outage) is logged and left to the next run
    (`sanctioned_stores_orders_settle`, Celery beat). Call outside a transaction: refunds ask the
    provider after reserving. Returns how many orders it cancelled."""
    cancelled = 0
    role = "regulator" if actor else "system"
    for order_id in Order.objects.filter(store_id=store_id, status__in=UNACCEPTED).values_list("pk", flat=True):
        try:
            result = order_transition(
                order_id=order_id,
                to=Order.Status.CANCELLED,
                actor=actor,
                actor_role=role,
                reason=f"Store sanctioned: {reason}"[:200],
                expected_from=frozenset(UNACCEPTED),
            )
        except TransitionRefused:
            continue
        cancelled += int(result.changed)
    unrefunded = Payment.objects.filter(
        order__store_id=store_id,
        order__status=Order.Status.CANCELLED,
        status=Payment.Status.SUCCEEDED,
        refunded_cents__lt=F("amount_cents"),
    ).select_related("order")
    for payment in unrefunded:
        try:
            refund_issue(
                order=payment.order,
                amount_cents=None,
                lines=None,
                reason="Store sanctioned by a regulator",
                actor=actor,
                actor_role=role,
            )
        except PaymentRefused as refused:
            if refused.code not in ("not_paid", "refund_exceeds_paid"):
                logger.error("refund of order %s after a sanction refused: %s", payment.order_id, refused)
        except Exception:
            logger.exception("refund of order %s after a sanction failed; the sweep retries", payment.order_id)
    return cancelled


def sanctioned_stores_orders_settle() -> int:
    """The sweep behind `store_unaccepted_orders_cancel`: for every suspended or closed store that
    still has unaccepted orders or cancelled, paid and unrefunded ones, settle them. Selects by
    status, so a rerun does nothing. Returns how many orders it cancelled."""
    waiting = Order.objects.filter(store_id=OuterRef("pk"), status__in=UNACCEPTED)
    unrefunded = Payment.objects.filter(
        order__store_id=OuterRef("pk"),
        order__status=Order.Status.CANCELLED,
        status=Payment.Status.SUCCEEDED,
        refunded_cents__lt=F("amount_cents"),
    )
    stores = Store.objects.filter(status__in=[SS.SUSPENDED, SS.CLOSED]).filter(Exists(waiting) | Exists(unrefunded))
    total = 0
    for store_id in stores.values_list("pk", flat=True):
        total += store_unaccepted_orders_cancel(store_id=store_id, reason="store suspended or closed", actor=None)
    return total


def sanction_impose(
    *,
    regulator: User,
    store: Store,
    kind: str,
    reason: str,
    rectify_by: date | None = None,
    effective_until: date | None = None,
    today: date | None = None,
) -> Sanction:
    """A regulator of the store's district sanctions it directly (cases call `sanction_record`
    inside their decision): record, move the store, then cancel and refund its open orders."""
    if not access_regulator_store(regulator, store):
        raise SanctionRefused("not_found", "No such store.", status=404)
    reason = reason.strip()
    if not reason:
        raise SanctionRefused("reason_required", "Give the reason.", field="reason")
    with transaction.atomic():
        sanction = sanction_record(
            kind=kind,
            store=store,
            decided_by=regulator,
            reason=reason,
            rectify_by=rectify_by,
            effective_until=effective_until,
            today=today,
        )
    if kind in STORE_STATUS_FOR:
        store_unaccepted_orders_cancel(store_id=store.pk, reason=reason, actor=regulator)
    return sanction


@transaction.atomic
def sanction_lift(
    *, regulator: User, sanction: Sanction, reason: str, today: date | None = None, overturned: bool = False
) -> Sanction:
    """Lift a sanction (an appeal overturned it, or a suspension has been served). A store that
    was only suspended goes back live when no other suspension or delisting holds it. A dishonest
    listing is lifted early only through `sanction_credit_repair` (or an overturning appeal).
    Idempotent: lifting a lifted sanction changes nothing."""
    if sanction.kind == K.DISHONEST_LIST and not overturned and not _repairing.get(False):
        raise SanctionRefused("use_credit_repair", "A dishonest listing is removed early only by credit repair.")
    store_id = sanction.store_id
    if sanction.store is None or store_id is None or not access_regulator_store(regulator, sanction.store):
        raise SanctionRefused("not_found", "No such sanction.", status=404)
    today = today or timezone.localdate()
    lifted = _sanction_lift_claim(sanction_id=sanction.pk, today=today, by=regulator, reason=reason)
    if lifted is None:
        sanction.refresh_from_db()
        return sanction
    return lifted[0]


def _sanction_lift_claim(
    *, sanction_id: int, today: date, by: User | None, reason: str
) -> tuple[Sanction, str | None] | None:
    """Lift one sanction once, in the caller's transaction: claimed by a compare-and-swap on
    `lifted_on` (None if it was lifted already), the store's status restored if nothing else
    holds it, the board told on commit. Returns the sanction and the store's restored status."""
    if not Sanction.objects.filter(pk=sanction_id, lifted_on__isnull=True).update(lifted_on=today, lifted_by=by):
        return None
    sanction = Sanction.objects.get(pk=sanction_id)
    restored = _store_status_restore(sanction=sanction, today=today)
    if sanction.store_id is not None:
        event_push_on_commit(
            group_for_store(sanction.store_id),
            "store.sanction_lifted",
            {
                "store": sanction.store_id,
                "sanction": sanction.pk,
                "kind": sanction.kind,
                "reason": reason,
                "store_status": restored,
            },
        )
    return sanction, restored


def sanction_credit_repair(*, regulator: User, sanction: Sanction, reason: str, today: date | None = None) -> Sanction:
    """信用修复: remove a dishonest listing early, by a regulator's decision, once it has run at
    least a year. Refused before that, and for other kinds."""
    today = today or timezone.localdate()
    if sanction.kind != K.DISHONEST_LIST:
        raise SanctionRefused("not_repairable", "Only a dishonest listing is removed by credit repair.")
    if today < years_after(sanction.decided_on, REPAIR_AFTER_YEARS):
        raise SanctionRefused(
            "repair_too_early",
            "A dishonest listing can be removed early only after it has run for one year.",
            status=409,
        )
    if not reason.strip():
        raise SanctionRefused("reason_required", "Give the reason.", field="reason")
    token = _repairing.set(True)
    try:
        return sanction_lift(regulator=regulator, sanction=sanction, reason=reason, today=today)
    finally:
        _repairing.reset(token)


def suspensions_ended_lift(*, today: date | None = None) -> int:
    """Celery beat's sweep: a suspension whose term (`effective_until`, its last day) has passed
    lifts itself. Each is claimed by a compare-and-swap on `lifted_on`, so two sweeps (or a
    regulator lifting it at the same moment) lift it once; the store goes back to `paused` or
    `live` as it was, only if no other sanction holds it; the board hears
    `store.sanction_lifted`, and the case that imposed it records `sanction_expired` in its
    audit chain. Returns how many it lifted."""
    from compliance.cases.models import Case
    from compliance.cases.services import _audit_append

    today = today or timezone.localdate()
    due = Sanction.objects.filter(kind=K.SUSPENSION, lifted_on__isnull=True, effective_until__lt=today)
    lifted = 0
    for sanction_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            lifted_now = _sanction_lift_claim(sanction_id=sanction_id, today=today, by=None, reason="term ended")
            if lifted_now is None:
                continue
            sanction, restored = lifted_now
            payload = {
                "sanction": sanction.pk,
                "ended": sanction.effective_until.isoformat() if sanction.effective_until else None,
                "store_status": restored,
            }
            for case in Case.objects.select_for_update().filter(sanction=sanction).order_by("pk"):
                _audit_append(case, actor=None, actor_role="system", action="sanction_expired", payload=payload)
            lifted += 1
    return lifted
