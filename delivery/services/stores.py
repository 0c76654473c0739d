"""Store lifecycle: a store goes live only through an operator's admission."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from django.db import transaction

from accounts.access import STORE_ROLES_MANAGE, access_operator, access_store
from accounts.models import User
from delivery.models import OpeningHours, Store

S = Store.Status

# Checks a store must pass before admission, each returning the reasons it fails (empty: pass).
# The marketplace checks what it owns; the compliance app appends the licence checks here.
AdmissionCheck = Callable[[Store], list[str]]
ADMISSION_CHECKS: list[AdmissionCheck] = []


class StoreRefused(Exception):
    def __init__(self, code: str, message: str, *, reasons: list[str] | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.reasons, self.status = code, message, reasons or [], status


def _marketplace_ready(store: Store) -> list[str]:
    reasons = []
    if store.zone is None:
        reasons.append("The store has no delivery zone.")
    if not store.fee_bands.exists():
        reasons.append("The store has no delivery fee bands.")
    if not store.opening_hours.exists():
        reasons.append("The store has no opening hours.")
    if not store.menu_items.exists():
        reasons.append("The store has no dishes on its menu.")
    return reasons


def admission_blockers(store: Store) -> list[str]:
    """Every reason the store cannot go live yet (the marketplace's and any registered check's)."""
    return [reason for check in (_marketplace_ready, *ADMISSION_CHECKS) for reason in check(store)]


def _move(store: Store, *, from_: set[str], to: str) -> bool:
    moved = Store.objects.filter(pk=store.pk, status__in=from_).update(status=to)
    store.refresh_from_db(fields=["status", "updated_at"])
    return bool(moved)


def store_submit_for_review(*, user: User, store: Store) -> Store:
    """The owner or a manager asks for admission (draft -> pending_review)."""
    if not access_store(user, store, roles=STORE_ROLES_MANAGE):
        raise StoreRefused("not_found", "No such store.", status=404)
    if not _move(store, from_={S.DRAFT}, to=S.PENDING_REVIEW):
        raise StoreRefused(
            "store_state_conflict", f"The store is {store.status}; only a draft can be submitted.", status=409
        )
    return store


@transaction.atomic
def store_admit(*, operator: User, store: Store) -> Store:
    """An operator admits a store under review (pending_review -> live), only when no admission
    check blocks it. The row is locked so the checks and the move see one state."""
    if not access_operator(operator):
        raise StoreRefused("not_found", "No such store.", status=404)
    locked = Store.objects.select_for_update().get(pk=store.pk)
    if locked.status != S.PENDING_REVIEW:
        raise StoreRefused("store_state_conflict", f"The store is {locked.status}, not under review.", status=409)
    blockers = admission_blockers(locked)
    if blockers:
        raise StoreRefused("admission_blocked", "The store cannot go live yet.", reasons=blockers)
    _move(store, from_={S.PENDING_REVIEW}, to=S.LIVE)
    return store


def store_send_back(*, operator: User, store: Store) -> Store:
    """An operator returns a store under review to its owner (pending_review -> draft)."""
    if not access_operator(operator):
        raise StoreRefused("not_found", "No such store.", status=404)
    if not _move(store, from_={S.PENDING_REVIEW}, to=S.DRAFT):
        raise StoreRefused("store_state_conflict", f"The store is {store.status}, not under review.", status=409)
    return store


def store_hours_set(*, store: Store, periods: list[tuple[int, time, time]]) -> Store:
    """Replace the store's weekly opening periods (weekday 0 = Monday; closing at or before
    opening runs past midnight, as delivery.hours reads it). One transaction: never half set."""
    with transaction.atomic():
        OpeningHours.objects.filter(store=store).delete()
        OpeningHours.objects.bulk_create(
            [OpeningHours(store=store, weekday=day, opens=opens, closes=closes) for day, opens, closes in periods]
        )
    return store
