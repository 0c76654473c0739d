"""The courier and offer state machines: one table each, one compare-and-swap service each.

A move is an UPDATE ... WHERE state = <from> AND version = <read> (couriers) or WHERE status =
<from> (offers), so two devices, the dispatcher and a timer racing on one row cannot both win;
the same transaction writes an event row. The loser re-reads: already in the target state is an
idempotent success (changed=False) unless the caller insists on the source state; anything else
raises `TransitionRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from dispatch.models import Courier, CourierEvent, Offer, OfferEvent

C = Courier.State
O = Offer.Status  # noqa: E741 - mirrors `S` for orders in delivery.transitions

# from-state -> the states a courier may move to.
COURIER_TRANSITIONS: dict[str, frozenset[str]] = {
    C.OFFLINE: frozenset({C.IDLE}),
    # idle -> to_store: a grab from the open pool (no offer in between).
    C.IDLE: frozenset({C.OFFLINE, C.OFFERED, C.TO_STORE}),
    C.OFFERED: frozenset({C.IDLE, C.TO_STORE, C.OFFLINE}),
    # to_store -> idle: the task was taken back (a problem reported before pickup);
    # to_store -> to_customer: a multi-store task lost its later stores' orders (a problem
    # there, a cancel) and what is left is in the bag.
    C.TO_STORE: frozenset({C.AT_STORE, C.IDLE, C.TO_CUSTOMER}),
    # at_store -> to_store: on to the next store of a multi-store task.
    C.AT_STORE: frozenset({C.TO_CUSTOMER, C.IDLE, C.TO_STORE}),
    # to_customer -> to_customer: the next drop-off of a bundle.
    C.TO_CUSTOMER: frozenset({C.IDLE, C.TO_CUSTOMER}),
}

OFFER_TRANSITIONS: dict[str, frozenset[str]] = {
    O.PENDING: frozenset({O.ACCEPTED, O.DECLINED, O.EXPIRED, O.WITHDRAWN}),
    O.ACCEPTED: frozenset(),
    O.DECLINED: frozenset(),
    O.EXPIRED: frozenset(),
    O.WITHDRAWN: frozenset(),
}


def can_courier_transition(from_state: str, to_state: str) -> bool:
    return to_state in COURIER_TRANSITIONS.get(from_state, frozenset())


def can_offer_transition(from_status: str, to_status: str) -> bool:
    return to_status in OFFER_TRANSITIONS.get(from_status, frozenset())


class TransitionRefused(Exception):
    """The move is not allowed from the row's current state (or it moved meanwhile)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class CourierMove:
    courier: Courier
    changed: bool
    from_state: str


def courier_transition(
    *,
    courier_id: int,
    to: str,
    actor: User | None,
    reason: str = "",
    expected_from: frozenset[str] | None = None,
    fields: dict[str, Any] | None = None,
) -> CourierMove:
    """Move a courier to `to` if the table allows it (and `expected_from`, if given, holds).

    Idempotent when the courier is already in `to` and no `expected_from` was asked (a retried
    "go online"); writes one CourierEvent per real move; no side effects beyond the database."""
    with transaction.atomic():
        for _attempt in range(3):
            courier = Courier.objects.get(pk=courier_id)
            current = courier.state
            self_loop = current == to and can_courier_transition(current, to)
            if current == to and not self_loop and expected_from is None:
                return CourierMove(courier=courier, changed=False, from_state=current)
            allowed = can_courier_transition(current, to) and (expected_from is None or current in expected_from)
            if not allowed:
                raise TransitionRefused(
                    "courier_state_conflict",
                    _("The courier is %(current)s; they cannot become %(to)s.") % {"current": current, "to": to},
                )
            updates: dict[str, Any] = {"state": to, "version": F("version") + 1, **(fields or {})}
            if Courier.objects.filter(pk=courier_id, state=current, version=courier.version).update(**updates):
                break
        else:
            raise TransitionRefused("courier_state_conflict", _("The courier changed meanwhile; try again."))
        courier.refresh_from_db()
        CourierEvent.objects.create(courier=courier, actor=actor, from_state=current, to_state=to, reason=reason)
    return CourierMove(courier=courier, changed=True, from_state=current)


def offer_transition(
    *, offer_id: int, to: str, actor: User | None, reason: str = "", fields: dict[str, Any] | None = None
) -> Offer:
    """Move an offer out of `pending`. Offers move once: a second answer (accept after a
    time-out, decline after accept) raises TransitionRefused, except repeating the same answer,
    which returns the offer unchanged."""
    with transaction.atomic():
        offer = Offer.objects.get(pk=offer_id)
        current = offer.status
        if current == to:
            return offer
        if not can_offer_transition(current, to):
            raise TransitionRefused(
                "offer_closed",
                _("This offer is %(current)s; it cannot become %(to)s.") % {"current": current, "to": to},
            )
        updates: dict[str, Any] = {"status": to, "responded_at": timezone.now(), "reason": reason, **(fields or {})}
        if not Offer.objects.filter(pk=offer_id, status=current).update(**updates):
            offer.refresh_from_db()
            if offer.status == to:
                return offer
            raise TransitionRefused(
                "offer_closed",
                _("This offer is %(current)s; it cannot become %(to)s.") % {"current": offer.status, "to": to},
            )
        offer.refresh_from_db()
        OfferEvent.objects.create(offer=offer, actor=actor, from_status=current, to_status=to, reason=reason)
    return offer
