"""The restaurant's live order board: what its staff do to orders and to their store.

Order moves go through `order_transition` (compare-and-swap on status and, when the board sends
the version it showed, on that version too), so two devices racing on one order cannot both win
and a stale board cannot accept an order the diner cancelled. Every refusal is a `BoardRefused`
with a stable code and a readable message, shown by the board as a notice, never an error page.

Store controls (busy mode, pause, sold out) write the store or menu row and push `store.updated`
to the board's group on commit; the diner's pages read the same rows, so they reflect a change
on their next request. Timers are Celery tasks scheduled on commit plus sweeps in beat, each
selecting by state, so a rerun does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.access import STORE_ROLES_ALL, STORE_ROLES_MANAGE, access_store
from accounts.models import User
from core.realtime import event_push_on_commit, group_for_store, group_for_user
from core.redis import state_redis
from delivery.hours import store_is_open
from delivery.models import MenuItem, Option, Order, PauseReason, Payment, Store, StoreMembership, TicketPrint
from delivery.payments.base import PaymentRefused
from delivery.payments.services import refund_issue
from delivery.transitions import TransitionRefused, order_transition

log = logging.getLogger(__name__)
S = Order.Status

PREP_MINUTES_MAX = 180
REASON_MAX = 200
BUSY_EXTRA_MAX = 120
PAUSE_MAX = timedelta(days=7)
SOLD_OUT_HOURS_MAX = 72
AUTO_REJECT_REASON = "The store did not accept the order in time."


class BoardRefused(Exception):
    """The board's request cannot be done: `code` is stable, `message` says what to do."""

    def __init__(self, code: str, message: str, *, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.field = code, message, status, field


def accept_deadline() -> timedelta:
    return timedelta(minutes=settings.ORDER_ACCEPT_DEADLINE_MINUTES)


def _store_for(user: User, store_id: int, roles: frozenset[str] = STORE_ROLES_ALL) -> Store:
    store = Store.objects.filter(pk=store_id).first()
    if store is None or not access_store(user, store, roles=roles):
        raise BoardRefused("not_found", "No such store.", status=404)
    return store


def _order_for(store: Store, number: str) -> Order:
    order = Order.objects.filter(store=store, number=number).first()
    if order is None:
        raise BoardRefused("not_found", "No such order.", status=404)
    return order


_MOVED_MESSAGES: dict[str, str] = {
    S.CANCELLED: "The diner cancelled this order.",
    S.REJECTED: "This order was already rejected.",
}


def _move(
    *,
    user: User | None,
    order: Order,
    to: str,
    from_: frozenset[str],
    version: int | None,
    reason: str = "",
    fields: dict[str, object] | None = None,
) -> Order:
    """One board move: refuse when the board's copy is stale (another device moved the order)."""
    if version is not None and order.version != version and order.status != to:
        raise BoardRefused(
            "order_moved",
            _MOVED_MESSAGES.get(order.status, f"Another device already moved this order (it is now {order.status})."),
        )
    try:
        result = order_transition(
            order_id=order.pk,
            to=to,
            actor=user,
            actor_role="store" if user else "system",
            reason=reason,
            expected_from=from_,
            fields=fields,
        )
    except TransitionRefused as refused:
        now = refused.order.status
        raise BoardRefused(
            "order_moved",
            _MOVED_MESSAGES.get(now, f"This order is {now} now; it cannot become {to}."),
        ) from refused
    return result.order


def order_accept(
    *, user: User, store_id: int, number: str, prep_minutes: int | None = None, version: int | None = None
) -> Order:
    """Accept a paid order with a prep time (default: the store's, plus busy mode's minutes).

    Idempotent: accepting an accepted order returns it. Resets the store's missed-orders count.
    """
    store = _store_for(user, store_id)
    order = _order_for(store, number)
    prep = store.default_prep_minutes + store.busy_extra_minutes if prep_minutes is None else prep_minutes
    if not 1 <= prep <= PREP_MINUTES_MAX:
        raise BoardRefused(
            "invalid_prep_minutes", f"Prep time is 1 to {PREP_MINUTES_MAX} minutes.", status=400, field="prep_minutes"
        )
    with transaction.atomic():
        order = _move(
            user=user,
            order=order,
            to=S.ACCEPTED,
            from_=frozenset({S.PAID}),
            version=version,
            fields={"prep_minutes": prep},
        )
        Store.objects.filter(pk=store.pk, missed_in_row__gt=0).update(missed_in_row=0)
    return order


def order_reject(*, user: User, store_id: int, number: str, reason: str, version: int | None = None) -> Order:
    """Reject a paid order with a reason; the diner is refunded in full and told (the push)."""
    store = _store_for(user, store_id)
    order = _order_for(store, number)
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX:
        raise BoardRefused(
            "invalid_reason", f"Give a reason of 1 to {REASON_MAX} characters.", status=400, field="reason"
        )
    before = order.status
    order = _move(
        user=user,
        order=order,
        to=S.REJECTED,
        from_=frozenset({S.PAID}),
        version=version,
        reason=reason,
        fields={"reason": reason},
    )
    if before != S.REJECTED:
        order_refund_rejected(order_id=order.pk)
    return order


def order_refund_rejected(*, order_id: int) -> int:
    """Refund what remains paid on a rejected order; returns the cents refunded (0: nothing left).

    Safe to repeat: refund_issue serialises on the payment row and never refunds more than was
    paid, so a second run finds nothing left and does nothing."""
    order = Order.objects.get(pk=order_id)
    if order.status != S.REJECTED:
        return 0
    paid = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED, refunded_cents__lt=F("amount_cents"))
    if not paid.exists():
        return 0
    try:
        refund = refund_issue(
            order=order,
            amount_cents=None,
            lines=None,
            reason=order.reason or "rejected",
            actor=None,
            actor_role="system",
        )
    except PaymentRefused as refused:
        if refused.code == "refund_exceeds_paid":
            return 0
        raise
    return refund.amount_cents


def _forward(to: str, from_: frozenset[str]):  # type: ignore[no-untyped-def]
    def move(*, user: User, store_id: int, number: str, version: int | None = None) -> Order:
        store = _store_for(user, store_id)
        order = _order_for(store, number)
        if to in {S.PICKED_UP, S.DELIVERED} and not store.self_delivery:
            raise BoardRefused("not_self_delivery", "Couriers mark pickup and delivery for this store.")
        return _move(user=user, order=order, to=to, from_=from_, version=version)

    move.__doc__ = f"Move an order of the store to {to} (from {', '.join(sorted(from_))}); idempotent."
    return move


order_start_preparing = _forward(S.PREPARING, frozenset({S.ACCEPTED}))
order_mark_ready = _forward(S.READY, frozenset({S.ACCEPTED, S.PREPARING}))
order_mark_picked_up = _forward(S.PICKED_UP, frozenset({S.READY}))
order_mark_delivered = _forward(S.DELIVERED, frozenset({S.PICKED_UP}))


# --- The accept deadline ---------------------------------------------------------------------


def order_auto_reject(*, order_id: int, now: datetime | None = None) -> bool:
    """Reject and refund an order still unanswered past the deadline; True when this call did it.

    Selects by state and time, so a rerun, an early run or a run after the store accepted does
    nothing. The store's missed-orders count goes up; enough in a row pause it."""
    now = now or timezone.now()
    order = Order.objects.filter(pk=order_id).select_related("store").first()
    if order is None or order.status != S.PAID or order.paid_at is None or order.paid_at + accept_deadline() > now:
        return False
    try:
        with transaction.atomic():
            result = order_transition(
                order_id=order.pk,
                to=S.REJECTED,
                actor=None,
                actor_role="system",
                reason=AUTO_REJECT_REASON,
                expected_from=frozenset({S.PAID}),
                fields={"reason": AUTO_REJECT_REASON},
            )
            if not result.changed:
                return False
            Store.objects.filter(pk=order.store_id).update(missed_in_row=F("missed_in_row") + 1)
            missed = Store.objects.values_list("missed_in_row", flat=True).get(pk=order.store_id)
            if missed >= settings.BOARD_MISSED_ORDERS_PAUSE:
                store_auto_pause(store_id=order.store_id, reason=PauseReason.MISSED_ORDERS)
    except TransitionRefused:
        return False  # accepted or cancelled meanwhile
    order_refund_rejected(order_id=order.pk)
    return True


def orders_auto_reject_due(*, now: datetime | None = None) -> int:
    """The sweep behind the per-order task: every paid order past the deadline; also refunds
    rejected orders whose refund did not complete (a crash between reject and refund)."""
    now = now or timezone.now()
    due = Order.objects.filter(status=S.PAID, paid_at__lte=now - accept_deadline()).values_list("pk", flat=True)
    done = sum(order_auto_reject(order_id=pk, now=now) for pk in list(due[:500]))
    unrefunded = Order.objects.filter(
        status=S.REJECTED,
        rejected_at__gte=now - timedelta(days=2),
        payments__status=Payment.Status.SUCCEEDED,
        payments__refunded_cents__lt=F("payments__amount_cents"),
    ).values_list("pk", flat=True)
    for pk in list(unrefunded[:500]):
        order_refund_rejected(order_id=pk)
    return done


# --- Kitchen tickets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintClaim:
    print: TicketPrint | None
    claimed: bool  # False: another board printed this order's automatic ticket already


def ticket_print_record(*, user: User, store_id: int, number: str, kind: str, device: str = "") -> PrintClaim:
    """Record a ticket print. An automatic print is claimed once per order (the partial unique
    constraint decides between boards racing); a reprint is always recorded."""
    store = _store_for(user, store_id)
    order = _order_for(store, number)
    if kind not in TicketPrint.Kind.values:
        raise BoardRefused("invalid_kind", "A print is automatic or a reprint.", status=400, field="kind")
    if kind == TicketPrint.Kind.AUTO and order.status in {S.PLACED, S.PAID, S.REJECTED, S.CANCELLED}:
        raise BoardRefused("order_not_accepted", "Tickets print once the order is accepted.")
    try:
        with transaction.atomic():
            row = TicketPrint.objects.create(order=order, kind=kind, printed_by=user, device=device[:64])
    except IntegrityError:
        return PrintClaim(print=None, claimed=False)
    event_push_on_commit(
        group_for_store(store.pk), "ticket.printed", {"order": order.pk, "number": order.number, "kind": kind}
    )
    return PrintClaim(print=row, claimed=True)


# --- Store controls ----------------------------------------------------------------------------


def _store_changed(store: Store) -> None:
    event_push_on_commit(group_for_store(store.pk), "store.updated", {"store": store.pk})


def store_busy_set(*, user: User, store_id: int, extra_minutes: int) -> Store:
    """Busy mode: `extra_minutes` more on every prep time and promised ETA (0 turns it off)."""
    store = _store_for(user, store_id)
    if not 0 <= extra_minutes <= BUSY_EXTRA_MAX:
        raise BoardRefused(
            "invalid_busy_minutes", f"Busy mode adds 0 to {BUSY_EXTRA_MAX} minutes.", status=400, field="extra_minutes"
        )
    with transaction.atomic():
        Store.objects.filter(pk=store.pk).update(busy_extra_minutes=extra_minutes, updated_at=timezone.now())
        _store_changed(store)
    store.refresh_from_db()
    return store


def store_pause(*, user: User, store_id: int, until: datetime | None, now: datetime | None = None) -> Store:
    """Pause taking orders until `until` (None: until someone resumes)."""
    store = _store_for(user, store_id)
    now = now or timezone.now()
    if until is not None and not now < until <= now + PAUSE_MAX:
        raise BoardRefused("invalid_pause", "Pause for a time in the next 7 days.", status=400, field="until")
    with transaction.atomic():
        Store.objects.filter(pk=store.pk).update(pause_reason=PauseReason.MANUAL, paused_until=until, updated_at=now)
        _store_changed(store)
    store.refresh_from_db()
    return store


def store_resume(*, user: User, store_id: int) -> Store:
    """Take orders again. A manual pause is lifted by any staff; an automatic one (the store
    missed orders or had no board) only by the owner or a manager, who was told why."""
    store = _store_for(user, store_id)
    automatic = store.pause_reason and store.pause_reason != PauseReason.MANUAL
    if automatic and not access_store(user, store, roles=STORE_ROLES_MANAGE):
        raise BoardRefused(
            "owner_must_resume", "Only the owner or a manager can resume after an automatic pause.", status=403
        )
    with transaction.atomic():
        Store.objects.filter(pk=store.pk).update(
            pause_reason="", paused_until=None, missed_in_row=0, updated_at=timezone.now()
        )
        _store_changed(store)
    store.refresh_from_db()
    return store


AUTO_PAUSE_MESSAGES = {
    PauseReason.NO_BOARD: gettext_lazy(
        "Your store was paused: no order board was connected for {minutes} minutes while open. Resume it on the board."
    ),
    PauseReason.MISSED_ORDERS: gettext_lazy(
        "Your store was paused: {count} orders in a row were not accepted in time. Resume it on the board."
    ),
}


def store_auto_pause(*, store_id: int, reason: str) -> bool:
    """Pause a store that is not attending to its orders (until the owner resumes); tell its
    owners and managers why. Only a store taking orders now is paused: a rerun does nothing."""
    now = timezone.now()
    with transaction.atomic():
        moved = (
            Store.objects.filter(pk=store_id, status=Store.Status.LIVE)
            .filter(Q(pause_reason="") | Q(paused_until__lte=now))
            .update(pause_reason=reason, paused_until=None, updated_at=now)
        )
        if not moved:
            return False
        message = str(AUTO_PAUSE_MESSAGES[PauseReason(reason)]).format(
            minutes=int(settings.BOARD_OFFLINE_PAUSE_MINUTES), count=settings.BOARD_MISSED_ORDERS_PAUSE
        )
        event_push_on_commit(group_for_store(store_id), "store.updated", {"store": store_id, "paused": reason})
        managers = StoreMembership.objects.filter(store_id=store_id, role__in=list(STORE_ROLES_MANAGE))
        for user_id in managers.values_list("user_id", flat=True):
            # A notice: every signed-in page of the owner shows it (frontend me.js).
            event_push_on_commit(
                group_for_user(user_id),
                "notice",
                {"text": message, "level": "warning", "store": store_id, "reason": reason},
            )
    log.warning("store %s auto-paused: %s", store_id, reason)
    return True


SoldOutMode = Literal["end_of_day", "hours", "indefinite", "available"]


def sold_out_until(*, mode: str, hours: int | None, now: datetime) -> tuple[bool, datetime | None]:
    """(available, sold_out_until) for a sold-out choice; raises BoardRefused on a bad one."""
    if mode == "available":
        return True, None
    if mode == "indefinite":
        return False, None
    if mode == "end_of_day":
        local = timezone.localtime(now)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return False, midnight
    if mode == "hours":
        if hours is None or not 1 <= hours <= SOLD_OUT_HOURS_MAX:
            raise BoardRefused(
                "invalid_hours", f"Sold out for 1 to {SOLD_OUT_HOURS_MAX} hours.", status=400, field="hours"
            )
        return False, now + timedelta(hours=hours)
    raise BoardRefused(
        "invalid_mode", "Choose until end of day, for some hours, indefinitely, or available.", status=400, field="mode"
    )


def item_sold_out_set(
    *, user: User, store_id: int, item_id: int, mode: str, hours: int | None = None, now: datetime | None = None
) -> MenuItem:
    """Mark a dish sold out (until end of day, for N hours, indefinitely) or available again."""
    store = _store_for(user, store_id)
    available, until = sold_out_until(mode=mode, hours=hours, now=now or timezone.now())
    with transaction.atomic():
        if not MenuItem.objects.filter(pk=item_id, store=store).update(available=available, sold_out_until=until):
            raise BoardRefused("not_found", "No such dish.", status=404)
        _store_changed(store)
    return MenuItem.objects.get(pk=item_id)


def option_sold_out_set(
    *, user: User, store_id: int, option_id: int, mode: str, hours: int | None = None, now: datetime | None = None
) -> Option:
    """Mark one option (a size, a topping) sold out or available, as for a dish."""
    store = _store_for(user, store_id)
    available, until = sold_out_until(mode=mode, hours=hours, now=now or timezone.now())
    with transaction.atomic():
        if not Option.objects.filter(pk=option_id, group__item__store=store).update(
            available=available, sold_out_until=until
        ):
            raise BoardRefused("not_found", "No such option.", status=404)
        _store_changed(store)
    return Option.objects.get(pk=option_id)


def sold_out_restore_due(*, now: datetime | None = None) -> int:
    """Make available again every dish and option whose sold-out time has passed."""
    now = now or timezone.now()
    items = MenuItem.objects.filter(available=False, sold_out_until__lte=now)
    stores = set(items.values_list("store_id", flat=True))
    count = items.update(available=True, sold_out_until=None)
    options = Option.objects.filter(available=False, sold_out_until__lte=now)
    stores |= set(options.values_list("group__item__store_id", flat=True))
    count += options.update(available=True, sold_out_until=None)
    for store_id in stores:
        event_push_on_commit(group_for_store(store_id), "store.updated", {"store": store_id})
    return count


# --- Board connections (auto-pause when nobody watches) -----------------------------------------


def _board_key(store_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:board:seen:{store_id}"


BOARD_SEEN_TTL_SECONDS = 7 * 24 * 3600


def board_seen_key(store_id: int) -> str:
    return _board_key(store_id)


def board_last_seen(store_id: int) -> datetime | None:
    raw = state_redis().get(_board_key(store_id))
    return datetime.fromtimestamp(float(raw), tz=UTC) if raw else None


def stores_auto_pause_unattended(*, now: datetime | None = None) -> int:
    """Pause every live, open, unpaused store whose board has not been connected for the set
    minutes. A store that never opened a board (it takes orders by API) has no heartbeat key and
    is left alone; the missed-orders rule covers it."""
    now = now or timezone.now()
    cutoff = now.timestamp() - settings.BOARD_OFFLINE_PAUSE_MINUTES * 60
    stores = list(
        Store.objects.filter(status=Store.Status.LIVE)
        .filter(Q(pause_reason="") | Q(paused_until__lte=now))
        .prefetch_related("opening_hours", "hours_exceptions")
    )
    if not stores:
        return 0
    seen = state_redis().mget([_board_key(s.pk) for s in stores])
    paused = 0
    for store, raw in zip(stores, seen, strict=True):
        if raw is None or float(raw) >= cutoff:
            continue
        if store_is_open(store, now):
            paused += store_auto_pause(store_id=store.pk, reason=PauseReason.NO_BOARD)
    return paused


def store_pauses_expire(*, now: datetime | None = None) -> int:
    """Clear timed pauses that ran out (the diner pages already treat them as over)."""
    now = now or timezone.now()
    stores = list(Store.objects.filter(paused_until__lte=now).exclude(pause_reason="").values_list("pk", flat=True))
    Store.objects.filter(pk__in=stores, paused_until__lte=now).update(pause_reason="", paused_until=None)
    for store_id in stores:
        event_push_on_commit(group_for_store(store_id), "store.updated", {"store": store_id})
    return len(stores)
