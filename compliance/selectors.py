"""Reads of the compliance app: open flags, a store's papers, the admission queue, the courier
health-certificate gate."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.models import (
    Flag,
    HealthCertificate,
    LegalEntity,
    Licence,
    StaffMember,
    StoreRegistration,
    Verification,
)
from delivery.models import Store
from dispatch.models import Courier

# A certificate or licence this close to its end shows a warning.
EXPIRY_WARNING_DAYS = 30


def open_flags_report() -> list[dict[str, Any]]:
    """The open flags as `compliance_scan --json` prints them (merchant-registry-format.md):
    code, store ref, entity ref, severity, evidence; plus the row ids for subjects without a ref.
    Ordered by code and subject, so the output is stable."""
    rows = (
        Flag.objects.filter(status=Flag.Status.OPEN)
        .order_by("code", "store_id", "entity_id")
        .values(
            "code",
            "store_id",
            "entity_id",
            "severity",
            "evidence",
            "store__registration__external_ref",
            "entity__external_ref",
        )
    )
    return [
        {
            "code": row["code"],
            "store": row["store__registration__external_ref"],
            "entity": row["entity__external_ref"],
            "severity": row["severity"],
            "evidence": row["evidence"],
            "store_id": row["store_id"],
            "entity_id": row["entity_id"],
        }
        for row in rows
    ]


# --- The courier gate ---------------------------------------------------------------------------


def couriers_with_valid_certificate_q(*, on: datetime.date | None = None) -> Q:
    """A filter on `dispatch.Courier` keeping couriers who hold a health certificate valid on
    `on` (today by default) and verified by an operator. Dispatch's `couriers_available` adds
    it with one line: `.filter(couriers_with_valid_certificate_q())`."""
    day = on or timezone.localdate()
    valid = HealthCertificate.objects.filter(
        courier_id=OuterRef("pk"),
        verification=Verification.VERIFIED,
        valid_to__gte=day,
    ).filter(Q(valid_from__isnull=True) | Q(valid_from__lte=day))
    return Q(Exists(valid))


def courier_may_go_online(courier: Courier, *, on: datetime.date | None = None) -> bool:
    """The gate of "go online": only with a valid, verified health certificate."""
    return Courier.objects.filter(pk=courier.pk).filter(couriers_with_valid_certificate_q(on=on)).exists()


def courier_go_online_refusal(courier: Courier) -> tuple[str, str] | None:
    """dispatch's go-online check: (code, message) when the courier may not start a shift."""
    if courier_may_go_online(courier):
        return None
    return (
        "health_certificate_required",
        str(_("You need a valid health certificate, verified by the platform, to go online.")),
    )


# --- A store's papers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperStatus:
    """A licence or certificate as a page shows it: expired, expiring soon, or fine."""

    expired: bool
    expiring: bool
    days_left: int | None


def paper_status(valid_to: datetime.date | None, *, today: datetime.date | None = None) -> PaperStatus:
    day = today or timezone.localdate()
    if valid_to is None:
        return PaperStatus(expired=False, expiring=False, days_left=None)
    days = (valid_to - day).days
    return PaperStatus(expired=days < 0, expiring=0 <= days <= EXPIRY_WARNING_DAYS, days_left=days)


def store_registration(store: Store) -> StoreRegistration | None:
    return StoreRegistration.objects.select_related("entity").filter(store=store).first()


def store_licences(store: Store) -> QuerySet[Licence]:
    """The store's food-business licences and its entity's business licences, newest first."""
    registration = store_registration(store)
    q = Q(store=store)
    if registration is not None and registration.entity_id:
        q |= Q(entity_id=registration.entity_id)
    return Licence.objects.filter(q).select_related("verified_by").order_by("kind", "-valid_to", "-id")


def store_staff_certificates(store: Store) -> QuerySet[StaffMember]:
    return StaffMember.objects.filter(store=store).prefetch_related("health_certificates").order_by("name")


def store_open_flags(store: Store) -> QuerySet[Flag]:
    """Open flags about the store or its entity."""
    registration = store_registration(store)
    q = Q(store=store)
    if registration is not None and registration.entity_id:
        q |= Q(entity_id=registration.entity_id)
    return Flag.objects.filter(q, status=Flag.Status.OPEN).order_by("-severity", "code")


def stores_pending_review() -> QuerySet[Store]:
    """The operator's admission queue: stores under review, and live stores with a licence
    waiting for review (a changed licence), soonest review deadline first."""
    waiting = Licence.objects.filter(
        store_id=OuterRef("pk"), verification=Verification.PENDING, review_due_at__isnull=False
    )
    return (
        Store.objects.filter(Q(status=Store.Status.PENDING_REVIEW) | Q(Exists(waiting)))
        .select_related("registration__entity")
        .order_by("updated_at")
    )


def entity_for_store(store: Store) -> LegalEntity | None:
    registration = store_registration(store)
    return registration.entity if registration else None
