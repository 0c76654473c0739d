"""Licences: merchants submit them with a scan, operators verify or reject them, and a store goes
live only with both its entity's business licence and its own food-business licence verified and
valid (strict admission). A new or changed food-business licence of a live store sends the store
back under review; the operator has 7 days (CFDA Order 36 (2018), 网络餐饮服务食品安全监督管理办法,
art. 8: platforms check and update merchants' licences).
"""

from __future__ import annotations

import datetime
from typing import IO

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import STORE_ROLES_MANAGE, access_operator, access_store
from accounts.models import User
from compliance.models import Licence, NumberCheck, StoreRegistration, Verification
from compliance.services.scans import ScanRefused, scan_checked_name
from compliance.tasks import schedule_flags_reevaluation
from compliance.validators import check_licence_number
from delivery.models import Store

REVIEW_DAYS = 7


class LicenceRefused(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def _valid_on(licence: Licence, day: datetime.date) -> bool:
    return (licence.valid_from is None or licence.valid_from <= day) and (
        licence.valid_to is None or day <= licence.valid_to
    )


def admission_licence_blockers(store: Store) -> list[str]:
    """The strict-admission check registered into delivery.services.stores.ADMISSION_CHECKS:
    the store's entity has a verified business licence valid today, and the store a verified
    food-business licence valid today."""
    today = timezone.localdate()
    reasons = []
    registration = StoreRegistration.objects.filter(store_id=store.pk).select_related("entity").first()
    if registration is None or registration.entity is None:
        reasons.append("The store has no legal entity with a business licence.")
    else:
        business = Licence.objects.filter(
            kind=Licence.Kind.BUSINESS, entity=registration.entity, verification=Verification.VERIFIED
        )
        if not any(_valid_on(licence, today) for licence in business):
            reasons.append("The entity's business licence is not verified and valid.")
    food = Licence.objects.filter(
        kind=Licence.Kind.FOOD_BUSINESS, store_id=store.pk, verification=Verification.VERIFIED
    )
    if not any(_valid_on(licence, today) for licence in food):
        reasons.append("The store's food-business licence is not verified and valid.")
    return reasons


def _may_submit(user: User, licence_store: Store | None, entity_id: int | None) -> bool:
    if access_operator(user):
        return True
    if licence_store is not None:
        return access_store(user, licence_store, roles=STORE_ROLES_MANAGE)
    stores = Store.objects.filter(registration__entity_id=entity_id)
    return any(access_store(user, store, roles=STORE_ROLES_MANAGE) for store in stores)


@transaction.atomic
def licence_submit(
    *,
    user: User,
    store: Store,
    kind: str,
    number: str,
    valid_from: datetime.date | None,
    valid_to: datetime.date | None,
    scan: UploadedFile[bytes] | IO[bytes] | None = None,
) -> Licence:
    """A merchant (the store's owner or manager) submits a licence, new or changed: the store's
    food-business licence, or its entity's business licence. The number is checked by kind (a
    malformed one is refused; a credit code failing only its check character is accepted for
    the operator to review). The licence waits for an operator's review, due in 7 days; a
    live store whose food-business licence changes goes back to pending_review at once."""
    if not _may_submit(user, store, None):
        raise LicenceRefused("not_found", "No such store.", status=404)
    if kind not in Licence.Kind.values:
        raise LicenceRefused("invalid", "Unknown kind of licence.", field="kind")
    checked = check_licence_number(kind, number)
    if checked.check == NumberCheck.MALFORMED:
        raise LicenceRefused("licence_number_invalid", checked.reason, field="number")
    if valid_from and valid_to and valid_to < valid_from:
        raise LicenceRefused("invalid", "The licence ends before it starts.", field="valid_to")
    registration = StoreRegistration.objects.select_for_update().filter(store_id=store.pk).first()
    if kind == Licence.Kind.BUSINESS and (registration is None or registration.entity_id is None):
        raise LicenceRefused("no_entity", "The store has no legal entity yet.", field="kind")
    now = timezone.now()
    holder = (
        {"store": store, "entity": None}
        if kind == Licence.Kind.FOOD_BUSINESS
        else {"store": None, "entity_id": registration.entity_id if registration else None}
    )
    licence = Licence(
        kind=kind,
        number=checked.number,
        number_check=checked.check,
        valid_from=valid_from,
        valid_to=valid_to,
        verification=Verification.PENDING,
        review_due_at=now + datetime.timedelta(days=REVIEW_DAYS),
        **holder,
    )
    if scan is not None:
        try:
            name = scan_checked_name(scan)
        except ScanRefused as error:
            raise LicenceRefused(error.code, error.message, field="scan") from error
        licence.scan.save(name, scan, save=False)  # type: ignore[arg-type]
    licence.save()
    if kind == Licence.Kind.FOOD_BUSINESS:
        # The CAS: only a live store is sent back; one under review or paused stays as it is.
        Store.objects.filter(pk=store.pk, status=Store.Status.LIVE).update(status=Store.Status.PENDING_REVIEW)
        store.refresh_from_db(fields=["status"])
    schedule_flags_reevaluation(store_ids=[store.pk])
    return licence


@transaction.atomic
def licence_scan_upload(*, user: User, licence: Licence, scan: UploadedFile[bytes] | IO[bytes]) -> Licence:
    """Attach a new scan to a licence (type and size checked, stored through Django's storage);
    the licence goes back to pending review with a fresh 7-day deadline."""
    holder_store = licence.store
    if not _may_submit(user, holder_store, licence.entity_id):
        raise LicenceRefused("not_found", "No such licence.", status=404)
    try:
        name = scan_checked_name(scan)
    except ScanRefused as error:
        raise LicenceRefused(error.code, error.message, field="scan") from error
    licence.scan.save(name, scan, save=False)  # type: ignore[arg-type]
    licence.verification = Verification.PENDING
    licence.verified_by, licence.verified_at = None, None
    licence.review_due_at = timezone.now() + datetime.timedelta(days=REVIEW_DAYS)
    licence.save(update_fields=["scan", "verification", "verified_by", "verified_at", "review_due_at", "updated_at"])
    _reevaluate(licence)
    return licence


def _reevaluate(licence: Licence) -> None:
    if licence.store_id:
        schedule_flags_reevaluation(store_ids=[licence.store_id])
    if licence.entity_id:
        schedule_flags_reevaluation(entity_ids=[licence.entity_id])


def _review(*, operator: User, licence: Licence, to: str, note: str) -> Licence:
    if not access_operator(operator):
        raise LicenceRefused("not_found", "No such licence.", status=404)
    if to == Verification.VERIFIED and licence.number_check == NumberCheck.MALFORMED:
        raise LicenceRefused("licence_number_invalid", "A malformed number cannot be verified.", field="number")
    now = timezone.now()
    # Compare-and-swap: only a pending licence is reviewed; a second click finds it done.
    moved = Licence.objects.filter(pk=licence.pk, verification=Verification.PENDING).update(
        verification=to, verified_by=operator, verified_at=now, review_note=note, review_due_at=None, updated_at=now
    )
    licence.refresh_from_db()
    if not moved:
        if licence.verification == to:
            return licence
        raise LicenceRefused(
            "licence_state_conflict", f"The licence is already {licence.get_verification_display()}.", status=409
        )
    _reevaluate(licence)
    return licence


@transaction.atomic
def licence_verify(*, operator: User, licence: Licence, note: str = "") -> Licence:
    """An operator verifies a pending licence (who and when are kept). Idempotent."""
    return _review(operator=operator, licence=licence, to=Verification.VERIFIED, note=note)


@transaction.atomic
def licence_reject(*, operator: User, licence: Licence, note: str) -> Licence:
    """An operator rejects a pending licence, saying why (who and when are kept). Idempotent."""
    if not note.strip():
        raise LicenceRefused("invalid", "Say why the licence is rejected.", field="note")
    return _review(operator=operator, licence=licence, to=Verification.REJECTED, note=note.strip())


def licences_overdue_review(*, now: datetime.datetime | None = None) -> list[Licence]:
    """Licences whose 7-day review deadline has passed without a decision."""
    moment = now or timezone.now()
    return list(
        Licence.objects.filter(Q(verification=Verification.PENDING), review_due_at__lt=moment).order_by("review_due_at")
    )
