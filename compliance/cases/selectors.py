"""Reads for regulators and the public: the queue, a case's evidence, statistics, credit records.

Jurisdiction: a regulator's queue, map and statistics hold only stores whose pin lies in one of
the regulator's districts (`RegulatorProfile.district covers store.location`, the same test as
`accounts.access.access_regulator_store`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.gis.db.models import PointField
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from accounts.models import RegulatorProfile, User
from compliance.cases.models import Case, CaseEvent
from compliance.inspections.models import Inspection
from compliance.inspections.selectors import store_risk_scores
from compliance.models import Complaint, ExternalRating, Flag, LegalEntity, Licence, Sanction, StoreRegistration
from compliance.services.sanctions import sanctions_in_force
from delivery.models import Review, Store

SEVERITY_RANK: dict[str, int] = {
    Flag.Severity.CRITICAL: 4,
    Flag.Severity.HIGH: 3,
    Flag.Severity.MEDIUM: 2,
    Flag.Severity.LOW: 1,
}
OPEN_CASE = ~Q(status=Case.Status.CLOSED)


def stores_in_jurisdiction(user: User) -> QuerySet[Store]:
    """Every store whose pin one of the user's districts covers (none for a non-regulator)."""
    if not user.is_active:
        return Store.objects.none()
    # The pin as geometry: the district is a geometry, and comparing it with a geography would
    # make PostGIS compute on the spheroid for every store (about 4x slower in bench/cases.py).
    pins = Store.objects.annotate(pin=Cast("location", PointField(srid=4326)))
    covering = RegulatorProfile.objects.filter(user_id=user.pk, district__covers=OuterRef("pin"))
    return pins.filter(Exists(covering))


@dataclass
class QueueRow:
    """One line of a regulator's queue: an open case, or an open flag nobody has taken up."""

    store: Store
    since: datetime
    severity: str
    case: Case | None = None
    flags: list[Flag] = field(default_factory=list)
    # The store's inspection risk (0-1, compliance.inspections.selectors.store_risk_scores).
    risk: float = 0.0

    @property
    def severity_label(self) -> str:
        return str(dict(Flag.Severity.choices).get(self.severity, self.severity))

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 0)


def queue_rank(rows: Sequence[QueueRow], *, now: datetime | None = None) -> list[QueueRow]:
    """The queue's order: the one place that decides who is looked at first.

    Most severe flag first; among equals the store with the higher inspection risk score; then
    the oldest."""
    return sorted(rows, key=lambda row: (-row.severity_rank, -row.risk, row.since, row.store.pk))


def queue_for(user: User) -> list[QueueRow]:
    """A regulator's queue: open cases and the open flags no open case covers, of the stores in
    the regulator's jurisdiction, ranked by `queue_rank`."""
    stores = stores_in_jurisdiction(user)
    flags = list(
        Flag.objects.filter(status=Flag.Status.OPEN, store__in=stores)
        .annotate(has_case=Exists(Case.objects.filter(OPEN_CASE, flag_id=OuterRef("pk"))))
        .select_related("store")
        # The queue shows neither the evidence nor the delivery zone: loading them was most of
        # its time in bench/cases.py.
        .defer("evidence", "store__zone")
        .order_by("raised_at")
    )
    by_store: dict[int, list[Flag]] = {}
    for flag in flags:
        if flag.store_id is not None:
            by_store.setdefault(flag.store_id, []).append(flag)
    rows: list[QueueRow] = []
    open_cases = Case.objects.filter(OPEN_CASE, store__in=stores).select_related("store", "flag", "complaint")
    for case in open_cases.defer("store__zone", "flag__evidence"):
        store_flags = by_store.get(case.store_id, [])
        severities = [f.severity for f in store_flags] + ([case.flag.severity] if case.flag else [])
        if case.complaint is not None and case.complaint.category == Complaint.Category.FOOD_SAFETY:
            severities.append(Flag.Severity.HIGH)
        severity = max(severities, key=lambda s: SEVERITY_RANK.get(s, 0), default=Flag.Severity.LOW)
        rows.append(QueueRow(store=case.store, since=case.created_at, severity=severity, case=case, flags=store_flags))
    for flag in flags:
        if not flag.has_case and flag.store is not None:
            rows.append(QueueRow(store=flag.store, since=flag.raised_at, severity=flag.severity, flags=[flag]))
    risks = store_risk_scores(sorted({row.store.pk for row in rows}))
    for row in rows:
        row.risk = risks.get(row.store.pk, 0.0)
    return queue_rank(rows)


@dataclass(frozen=True)
class FlaggedPin:
    id: int
    name: str
    lat: float
    lng: float
    severity: str
    flags: list[str]


def flagged_pins_for(user: User) -> list[FlaggedPin]:
    """The map of the regulator's flagged stores: one pin per store, with its worst severity."""
    pins: dict[int, FlaggedPin] = {}
    flags = Flag.objects.filter(status=Flag.Status.OPEN, store__in=stores_in_jurisdiction(user)).select_related("store")
    for flag in flags.order_by("pk"):
        store = flag.store
        if store is None:
            continue
        pin = pins.get(store.pk)
        if pin is None:
            pin = pins[store.pk] = FlaggedPin(
                store.pk, store.display_name, store.location.y, store.location.x, flag.severity, []
            )
        elif SEVERITY_RANK.get(flag.severity, 0) > SEVERITY_RANK.get(pin.severity, 0):
            pin = pins[store.pk] = FlaggedPin(pin.id, pin.name, pin.lat, pin.lng, flag.severity, pin.flags)
        pin.flags.append(flag.code)
    return list(pins.values())


def statistics_for(user: User) -> dict[str, Any]:
    """Counts for the regulator's dashboard, inside the jurisdiction."""
    stores = stores_in_jurisdiction(user)
    cases = Case.objects.filter(store__in=stores)
    return {
        "stores": stores.count(),
        "open_flags": Flag.objects.filter(status=Flag.Status.OPEN, store__in=stores).count(),
        "cases_by_status": dict(cases.values_list("status").annotate(n=Count("pk")).order_by("status")),
        "decisions": dict(
            cases.exclude(decision="").values_list("decision").annotate(n=Count("pk")).order_by("decision")
        ),
        "sanctions_in_force": sanctions_in_force().filter(store__in=stores).count(),
        "complaints_escalated": Complaint.objects.filter(store__in=stores).exclude(escalations=[]).count(),
    }


def cases_for_store(store: Store) -> QuerySet[Case]:
    """A store's cases for its own staff (the merchant side)."""
    return Case.objects.filter(store=store).order_by("-created_at")


# --- Evidence ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    store: Store
    reasons: list[str]


def related_stores(store: Store) -> list[Related]:
    """Other stores tied to this one by the entity's credit code, the legal representative's
    identity hash or a shared licence number."""
    reasons: dict[int, list[str]] = {}
    registration = StoreRegistration.objects.filter(store=store).select_related("entity").first()
    entity = registration.entity if registration else None
    if entity is not None:
        for pk in StoreRegistration.objects.filter(entity__uscc=entity.uscc).values_list("store_id", flat=True):
            reasons.setdefault(pk, []).append("credit_code")
        if entity.legal_rep_id_hash:
            same_rep = StoreRegistration.objects.filter(entity__legal_rep_id_hash=entity.legal_rep_id_hash)
            for pk in same_rep.values_list("store_id", flat=True):
                reasons.setdefault(pk, []).append("legal_rep")
    numbers = list(Licence.objects.filter(store=store).values_list("number", flat=True))
    for pk in Licence.objects.filter(number__in=numbers, store__isnull=False).values_list("store_id", flat=True):
        if pk is not None:
            reasons.setdefault(pk, []).append("licence")
    reasons.pop(store.pk, None)
    stores = Store.objects.in_bulk(list(reasons))
    return [Related(stores[pk], sorted(set(why))) for pk, why in sorted(reasons.items()) if pk in stores]


def related_entities(entity: LegalEntity) -> list[LegalEntity]:
    """Other entities with the same credit code or the same legal representative."""
    match = Q(uscc=entity.uscc)
    if entity.legal_rep_id_hash:
        match |= Q(legal_rep_id_hash=entity.legal_rep_id_hash)
    return list(LegalEntity.objects.filter(match).exclude(pk=entity.pk).order_by("name")[:50])


def sanction_history_for(store: Store) -> list[Sanction]:
    """Every sanction bound to this store or to what identifies it: its entity's credit code, its
    legal representative's ID hash, or one of its licence numbers (so a sanctioned merchant that
    re-registers under a new name or address carries its record)."""
    registration = StoreRegistration.objects.filter(store=store).select_related("entity").first()
    entity = registration.entity if registration else None
    match = Q(store=store)
    if entity is not None:
        match |= Q(entity=entity)
        if entity.uscc:
            match |= Q(bound_uscc=entity.uscc)
        if entity.legal_rep_id_hash:
            match |= Q(bound_legal_rep_id_hash=entity.legal_rep_id_hash)
    numbers = list(
        Licence.objects.filter(Q(store=store) | (Q(entity=entity) if entity else Q(pk__in=[]))).values_list(
            "number", flat=True
        )
    )
    if numbers:
        match |= Q(bound_licence_numbers__overlap=numbers)
    return list(Sanction.objects.filter(match).select_related("store", "entity").order_by("-decided_on", "-pk"))


def sanctions_elsewhere(store: Store) -> list[Sanction]:
    """The part of the history that was decided on another store: what a re-registration hides."""
    return [s for s in sanction_history_for(store) if s.store_id != store.pk]


@dataclass(frozen=True)
class CaseEvidence:
    licences: list[Licence]
    entity: LegalEntity | None
    inspections: list[Inspection]
    complaints: list[Complaint]
    reviews: list[Review]
    external_ratings: list[ExternalRating]
    flags: list[Flag]
    related: list[Related]
    related_entities: list[LegalEntity]
    sanctions: list[Sanction]
    events: list[CaseEvent]


def case_evidence(case: Case) -> CaseEvidence:
    """Everything a regulator weighs on a case page (the caller has checked jurisdiction)."""
    store = case.store
    registration = StoreRegistration.objects.filter(store=store).select_related("entity").first()
    entity = registration.entity if registration else None
    licences = Licence.objects.filter(Q(store=store) | (Q(entity=entity) if entity else Q(pk__in=[])))
    return CaseEvidence(
        licences=list(licences.order_by("kind", "pk")),
        entity=entity,
        inspections=list(
            Inspection.objects.filter(store=store).prefetch_related("violations").order_by("-inspected_on")[:20]
        ),
        complaints=list(Complaint.objects.filter(store=store).prefetch_related("photos").order_by("-filed_at")[:20]),
        reviews=list(Review.objects.filter(store=store).order_by("-created_at")[:20]),
        external_ratings=list(ExternalRating.objects.filter(store=store).order_by("-rated_at")[:20]),
        flags=list(
            Flag.objects.filter(Q(store=store) | (Q(entity=entity) if entity else Q(pk__in=[]))).order_by(
                "status", "-raised_at"
            )
        ),
        related=related_stores(store),
        related_entities=related_entities(entity) if entity else [],
        sanctions=sanction_history_for(store),
        events=list(CaseEvent.objects.filter(case=case).select_related("actor").order_by("seq")),
    )


# --- Public credit record ---------------------------------------------------------------------


def credit_search(query: str, *, limit: int = 50) -> tuple[list[LegalEntity], list[Store]]:
    """Entities and stores by name (either language) or by credit code; stores that never went
    live (drafts, under review) are not public."""
    query = query.strip()
    if not query:
        return [], []
    entities = LegalEntity.objects.filter(Q(name__icontains=query) | Q(uscc__iexact=query.upper()))
    stores = Store.objects.exclude(status__in=[Store.Status.DRAFT, Store.Status.PENDING_REVIEW]).filter(
        Q(name_zh__icontains=query) | Q(name_en__icontains=query) | Q(registration__entity__uscc__iexact=query.upper())
    )
    return list(entities.order_by("name")[:limit]), list(stores.distinct().order_by("pk")[:limit])


def latest_inspection(store: Store) -> Inspection | None:
    return Inspection.objects.filter(store=store).order_by("-inspected_on", "-pk").first()


def stores_of_entity(entity: LegalEntity) -> list[Store]:
    return list(
        Store.objects.filter(registration__entity=entity)
        .exclude(status__in=[Store.Status.DRAFT, Store.Status.PENDING_REVIEW])
        .order_by("pk")
    )


def entity_sanctions(entity: LegalEntity) -> list[Sanction]:
    """Sanctions on the entity, on its stores, or bound to its credit code or representative."""
    match = Q(entity=entity) | Q(store__registration__entity=entity) | Q(bound_uscc=entity.uscc)
    if entity.legal_rep_id_hash:
        match |= Q(bound_legal_rep_id_hash=entity.legal_rep_id_hash)
    return list(Sanction.objects.filter(match).distinct().select_related("store").order_by("-decided_on", "-pk"))


def verified_licences(stores: Iterable[Store], entity: LegalEntity | None) -> list[Licence]:
    match = Q(store__in=list(stores))
    if entity is not None:
        match |= Q(entity=entity)
    return list(Licence.objects.filter(match, verification="verified").order_by("kind", "number"))
