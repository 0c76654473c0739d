"""Store lifecycle: a store goes live only through an operator's admission."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import STORE_ROLES_MANAGE, access_operator, access_store
from accounts.models import User
from delivery.models import DeliveryFeeBand, HoursException, OpeningHours, Store

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


# --- Settings the owner and managers change on the board (frontend.board.settings_page) ---------

FEE_MAX_CENTS = 100_000  # ¥1,000: a delivery fee above this is a typo
DISTANCE_MAX_M = 100_000


class SettingsRefused(Exception):
    """A settings write refused: `field` names the form field, `row` the formset row (or None)."""

    def __init__(self, code: str, message: str, *, field: str | None = None, row: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.row = code, message, field, row


def _managed(user: User, store_id: int) -> Store:
    store = Store.objects.select_for_update().filter(pk=store_id).first()
    if store is None or not access_store(user, store, roles=STORE_ROLES_MANAGE):
        raise StoreRefused("not_found", "No such store.", status=404)
    return store


@transaction.atomic
def store_fee_bands_set(*, user: User, store_id: int, bands: list[tuple[int, int]]) -> list[DeliveryFeeBand]:
    """Replace the delivery fee bands with `bands`: (up to metres, fee in cents) in the order
    given, distances strictly increasing, fees above zero. All or nothing."""
    store = _managed(user, store_id)
    if not bands:
        raise SettingsRefused("no_fee_bands", _("Keep at least one delivery fee band."), field="up_to_m", row=0)
    previous = 0
    for row, (up_to_m, fee_cents) in enumerate(bands):
        if up_to_m <= 0 or up_to_m > DISTANCE_MAX_M:
            raise SettingsRefused(
                "invalid_distance", _("A distance in metres, from 1 to 100000."), field="up_to_m", row=row
            )
        if up_to_m <= previous:
            raise SettingsRefused(
                "distances_not_increasing",
                _("Each band must reach further than the one before (%(m)s m).") % {"m": previous},
                field="up_to_m",
                row=row,
            )
        if fee_cents <= 0 or fee_cents > FEE_MAX_CENTS:
            raise SettingsRefused(
                "invalid_fee", _("The fee is a whole number of cents above 0."), field="fee_cents", row=row
            )
        previous = up_to_m
    DeliveryFeeBand.objects.filter(store=store).delete()
    return DeliveryFeeBand.objects.bulk_create(
        [DeliveryFeeBand(store=store, up_to_m=up_to_m, fee_cents=fee) for up_to_m, fee in bands]
    )


@transaction.atomic
def store_hours_exception_set(
    *,
    user: User,
    store_id: int,
    day: date,
    closed: bool,
    opens: time | None = None,
    closes: time | None = None,
    note: str = "",
) -> HoursException:
    """Closed all day, or special hours (`opens`-`closes`, past midnight when closing at or before
    opening), on one date; replaces any exception already set for that date."""
    store = _managed(user, store_id)
    if day < timezone.localdate():
        raise SettingsRefused("date_in_past", _("Choose today or a later date."), field="date")
    if not closed:
        if opens is None:
            raise SettingsRefused("opens_required", _("Give the opening time, or tick closed."), field="opens")
        if closes is None:
            raise SettingsRefused("closes_required", _("Give the closing time, or tick closed."), field="closes")
    exception, _created = HoursException.objects.update_or_create(
        store=store,
        date=day,
        defaults={
            "closed": closed,
            "opens": None if closed else opens,
            "closes": None if closed else closes,
            "note": note.strip()[:128],
        },
    )
    return exception


@transaction.atomic
def store_hours_exception_delete(*, user: User, store_id: int, exception_id: int) -> None:
    store = _managed(user, store_id)
    HoursException.objects.filter(store=store, pk=exception_id).delete()
