"""Flag rules: one per code of merchant-registry-format.md, each with its evidence.

Every rule is a set-based query over all stores (or entities) as of a date; none loops over
stores in Python, so a full scan of a large registry stays a handful of SQL statements. A rule
returns `Finding`s; `flags_evaluate` (compliance.services.flags) turns them into `Flag` rows:
one open flag per (code, subject), its evidence updated on each run, resolved when its cause is
gone. A finding's subject is a store or an entity, never both.

Dates: a scan "as of" day D looks at events up to the end of D (local time); "the last 7 days"
are D-6 .. D, "the last 30 days" D-29 .. D.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.measure import D
from django.db import connection
from django.db.models import Avg, Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone

from compliance.inspections.models import Inspection, InspectionViolation
from compliance.models import (
    Complaint,
    ExternalRating,
    Flag,
    HealthCertificate,
    LegalEntity,
    Licence,
    NumberCheck,
    Sanction,
    StaffMember,
    StoreRegistration,
)
from delivery.models import Review, Store

S = Store.Status
Sev = Flag.Severity

# Thresholds of merchant-registry-format.md's flag table.
EXPIRING_WITHIN_DAYS = 30
ADDRESS_SHARED_RADIUS_M = 30
PIN_MISMATCH_M = 500
LOW_RATING_MEAN = 3.0
LOW_RATING_MIN_COUNT = 10
LOW_RATING_DAYS = 30
COMPLAINT_SPIKE_COUNT = 5
COMPLAINT_SPIKE_DAYS = 7
FOOD_SAFETY_DAYS = 30
# Inspection intervals by risk (high 3 months, medium 6, low 12), in days.
INSPECTION_INTERVAL_DAYS = {"high": 91, "medium": 182, "low": 365}
# Sanctions a re-registration is matched against; and those that list an entity publicly.
REREGISTRATION_KINDS = (Sanction.Kind.SUSPENSION, Sanction.Kind.DELISTING, Sanction.Kind.DISHONEST_LIST)
CREDIT_LIST_KINDS = (Sanction.Kind.DISHONEST_LIST, Sanction.Kind.ABNORMAL_OPERATION)

SEVERITY = {
    "LICENCE_MISSING": Sev.HIGH,
    "LICENCE_EXPIRED": Sev.HIGH,
    "LICENCE_EXPIRING": Sev.LOW,
    "LICENCE_INVALID": Sev.HIGH,
    "LICENCE_SHARED": Sev.HIGH,
    "ADDRESS_SHARED": Sev.MEDIUM,
    "PIN_MISMATCH": Sev.MEDIUM,
    "REREGISTRATION": Sev.CRITICAL,
    "CREDIT_LISTED": Sev.CRITICAL,
    "HEALTH_CERT_MISSING": Sev.MEDIUM,
    "LOW_RATING": Sev.LOW,
    "COMPLAINT_SPIKE": Sev.MEDIUM,
    "FOOD_SAFETY_COMPLAINT": Sev.HIGH,
    "INSPECTION_FAILED": Sev.HIGH,
    "INSPECTION_OVERDUE": Sev.LOW,
}
CODES = tuple(SEVERITY)


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    store_id: int | None
    entity_id: int | None
    evidence: dict[str, Any]

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        return (self.code, self.store_id, self.entity_id)

    @property
    def severity(self) -> str:
        return str(SEVERITY[self.code])


@dataclass(frozen=True)  # not slots: `latest_inspections` is a cached_property
class Context:
    as_of: datetime.date

    @property
    def end(self) -> datetime.datetime:
        """The first instant after the scan day (local time)."""
        return timezone.make_aware(datetime.datetime.combine(self.as_of + datetime.timedelta(days=1), datetime.time()))

    @cached_property
    def latest_inspections(self) -> dict[int, Inspection]:
        """Each store's latest inspection up to the scan day (DISTINCT ON: one per store), read
        once per evaluation for the rules that need it."""
        latest = (
            Inspection.objects.filter(inspected_on__lte=self.as_of)
            .order_by("store_id", "-inspected_on", "-id")
            .distinct("store_id")
        )
        return {inspection.store_id: inspection for inspection in latest}

    def days_back(self, days: int) -> datetime.datetime:
        """The first instant of the window of the last `days` days, the scan day included."""
        return self.end - datetime.timedelta(days=days)


def _d(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def _store_brief(store_ids: set[int]) -> dict[int, dict[str, Any]]:
    """What the evidence says about a store: ids, ref, name, address, status."""
    rows = Store.objects.filter(pk__in=store_ids).values(
        "id", "name_zh", "address", "status", "registration__external_ref"
    )
    return {
        r["id"]: {
            "id": r["id"],
            "ref": r["registration__external_ref"],
            "name": r["name_zh"],
            "address": r["address"],
            "status": r["status"],
        }
        for r in rows
    }


def _not_closed() -> Q:
    return ~Q(status=S.CLOSED)


# --- Licences ----------------------------------------------------------------------------------


def rule_licence_missing(ctx: Context) -> list[Finding]:
    findings = []
    food = Licence.objects.filter(kind=Licence.Kind.FOOD_BUSINESS, store_id=OuterRef("pk"))
    for store in Store.objects.filter(status=S.LIVE).filter(~Exists(food)).values("id", "address"):
        findings.append(
            Finding("LICENCE_MISSING", store["id"], None, {"missing": "food_business", "address": store["address"]})
        )
    business = Licence.objects.filter(kind=Licence.Kind.BUSINESS, entity_id=OuterRef("pk"))
    live_stores = StoreRegistration.objects.filter(entity_id=OuterRef("pk"), store__status=S.LIVE)
    for entity in LegalEntity.objects.filter(Exists(live_stores)).filter(~Exists(business)).values("id", "uscc"):
        findings.append(Finding("LICENCE_MISSING", None, entity["id"], {"missing": "business", "uscc": entity["uscc"]}))
    # A live store with no legal entity at all has no business licence either.
    no_entity = Store.objects.filter(status=S.LIVE).filter(
        Q(registration__isnull=True) | Q(registration__entity__isnull=True)
    )
    for store_id in no_entity.values_list("id", flat=True):
        findings.append(Finding("LICENCE_MISSING", store_id, None, {"missing": "legal_entity"}))
    merged: dict[tuple[str, int | None, int | None], Finding] = {}
    for f in findings:
        if f.key in merged:
            previous = merged[f.key].evidence
            merged[f.key] = Finding(
                f.code, f.store_id, f.entity_id, {**previous, "also_missing": f.evidence["missing"]}
            )
        else:
            merged[f.key] = f
    return list(merged.values())


def rule_licence_expiry(ctx: Context) -> list[Finding]:
    """LICENCE_EXPIRED and LICENCE_EXPIRING: the live store's food-business licence that lasts
    longest (a licence without an end date never expires)."""
    current = (
        Licence.objects.filter(kind=Licence.Kind.FOOD_BUSINESS, store__status=S.LIVE)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=ctx.as_of))
        .values("store_id")
        .annotate(
            latest=Max("valid_to"),
            open_ended=Count("id", filter=Q(valid_to__isnull=True)),
        )
        .filter(open_ended=0, latest__lte=ctx.as_of + datetime.timedelta(days=EXPIRING_WITHIN_DAYS))
    )
    horizon = {row["store_id"]: row["latest"] for row in current}
    numbers: dict[int, str] = dict(
        Licence.objects.filter(kind=Licence.Kind.FOOD_BUSINESS, store_id__in=horizon)
        .order_by("store_id", "valid_to")
        .values_list("store_id", "number")
    )
    findings = []
    for store_id, valid_to in horizon.items():
        evidence = {"licence": numbers.get(store_id), "valid_to": _d(valid_to), "days": (valid_to - ctx.as_of).days}
        code = "LICENCE_EXPIRED" if valid_to < ctx.as_of else "LICENCE_EXPIRING"
        findings.append(Finding(code, store_id, None, evidence))
    return findings


def rule_licence_invalid(ctx: Context) -> list[Finding]:
    """A food-business licence number that is malformed (on its store), a business licence or a
    credit code that fails its format or check character (on the entity; a failed check
    character is a matter for review: some early pilot codes are legal)."""
    evidence: dict[tuple[int | None, int | None], list[dict[str, Any]]] = defaultdict(list)
    bad = Licence.objects.exclude(number_check=NumberCheck.VALID).filter(Q(store__isnull=True) | _not_closed_store())
    for lic in bad.values("id", "kind", "number", "number_check", "store_id", "entity_id", "external_ref"):
        subject = (lic["store_id"], None) if lic["kind"] == Licence.Kind.FOOD_BUSINESS else (None, lic["entity_id"])
        evidence[subject].append(
            {"licence": lic["number"], "kind": lic["kind"], "check": lic["number_check"], "ref": lic["external_ref"]}
        )
    for entity in LegalEntity.objects.exclude(uscc_check=NumberCheck.VALID).values("id", "uscc", "uscc_check"):
        items = evidence[(None, entity["id"])]
        if not any(item["licence"] == entity["uscc"] for item in items):
            items.append({"licence": entity["uscc"], "kind": "uscc", "check": entity["uscc_check"]})
    return [
        Finding(
            "LICENCE_INVALID",
            store_id,
            entity_id,
            {"numbers": items, "review": any(i["check"] == NumberCheck.CHECK_FAILED for i in items)},
        )
        for (store_id, entity_id), items in evidence.items()
    ]


def _not_closed_store() -> Q:
    return ~Q(store__status=S.CLOSED)


def rule_licence_shared(ctx: Context) -> list[Finding]:
    """一证多店: one food-business licence number on more than one store that is not closed."""
    shared = (
        Licence.objects.filter(kind=Licence.Kind.FOOD_BUSINESS)
        .filter(_not_closed_store())
        .values("number")
        .annotate(stores=Count("store_id", distinct=True))
        .filter(stores__gt=1)
        .values("number")
    )
    pairs = list(
        Licence.objects.filter(kind=Licence.Kind.FOOD_BUSINESS, number__in=shared)
        .filter(_not_closed_store())
        .values_list("number", "store_id")
        .distinct()
    )
    by_number: dict[str, set[int]] = defaultdict(set)
    for number, store_id in pairs:
        by_number[number].add(store_id)
    briefs = _store_brief({store_id for _n, store_id in pairs})
    findings = []
    for number, store_ids in by_number.items():
        for store_id in store_ids:
            others = [briefs[o] for o in sorted(store_ids - {store_id})]
            findings.append(Finding("LICENCE_SHARED", store_id, None, {"licence": number, "other_stores": others}))
    return _merge_lists(findings, "other_stores")


def _merge_lists(findings: list[Finding], key: str) -> list[Finding]:
    """One finding per subject: a store holding two shared licences lists both."""
    merged: dict[tuple[str, int | None, int | None], Finding] = {}
    for f in findings:
        if f.key in merged:
            old = merged[f.key].evidence
            merged[f.key] = Finding(f.code, f.store_id, f.entity_id, {**old, key: old[key] + f.evidence[key]})
        else:
            merged[f.key] = f
    return list(merged.values())


# --- Places ------------------------------------------------------------------------------------


# Raw SQL because the ORM cannot express a spatial self-join: pairs of live stores whose pins
# are within ADDRESS_SHARED_RADIUS_M (ST_DWithin on geography uses the pins' GiST index) or
# whose normalised addresses are equal, except pairs that both stand at one multi-tenant site
# (a food court). Tested by compliance/tests/test_rules.py::test_address_shared_*.
_ADDRESS_SHARED_SQL = """
WITH pairs AS (
    SELECT a.id AS a_id, b.id AS b_id
    FROM delivery_store a
    JOIN delivery_store b ON b.id <> a.id AND b.status = 'live' AND ST_DWithin(a.location, b.location, %(radius)s)
    WHERE a.status = 'live'
  UNION
    SELECT ra.store_id, rb.store_id
    FROM compliance_storeregistration ra
    JOIN compliance_storeregistration rb ON rb.address_key = ra.address_key AND rb.store_id <> ra.store_id
    JOIN delivery_store a ON a.id = ra.store_id AND a.status = 'live'
    JOIN delivery_store b ON b.id = rb.store_id AND b.status = 'live'
    WHERE ra.address_key <> ''
)
SELECT p.a_id, p.b_id, ST_Distance(a.location, b.location)
FROM pairs p
JOIN delivery_store a ON a.id = p.a_id
JOIN delivery_store b ON b.id = p.b_id
LEFT JOIN compliance_storeregistration ra ON ra.store_id = a.id
LEFT JOIN compliance_storeregistration rb ON rb.store_id = b.id
WHERE NOT EXISTS (
    SELECT 1 FROM compliance_multitenantsite m
    WHERE (ST_DWithin(a.location, m.location, m.radius_m) OR (ra.address_key <> '' AND ra.address_key = m.address_key))
      AND (ST_DWithin(b.location, m.location, m.radius_m) OR (rb.address_key <> '' AND rb.address_key = m.address_key))
)
"""


def rule_address_shared(ctx: Context) -> list[Finding]:
    """一址多店: live stores at one address or within 30 m, outside listed multi-tenant sites."""
    with connection.cursor() as cursor:
        cursor.execute(_ADDRESS_SHARED_SQL, {"radius": ADDRESS_SHARED_RADIUS_M})
        rows = cursor.fetchall()
    neighbours: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a_id, b_id, metres in rows:
        neighbours[a_id].append((b_id, metres))
    briefs = _store_brief(set(neighbours) | {b for pairs in neighbours.values() for b, _m in pairs})
    return [
        Finding(
            "ADDRESS_SHARED",
            store_id,
            None,
            {
                "address": briefs[store_id]["address"],
                "other_stores": [{**briefs[other], "distance_m": round(metres, 1)} for other, metres in sorted(others)],
            },
        )
        for store_id, others in neighbours.items()
    ]


def rule_pin_mismatch(ctx: Context) -> list[Finding]:
    """The claimed address geocodes more than 500 m from the store's map pin."""
    far = (
        StoreRegistration.objects.filter(geocoded_location__isnull=False)
        .exclude(store__status=S.CLOSED)
        .annotate(metres=Distance("store__location", "geocoded_location"))
        .filter(metres__gt=D(m=PIN_MISMATCH_M))
        .values("store_id", "metres", "store__address", "store__location", "geocoded_location")
    )
    findings = []
    for row in far:
        pin, geocoded = row["store__location"], row["geocoded_location"]
        assert geocoded is not None  # filtered above  # noqa: S101
        findings.append(
            Finding(
                "PIN_MISMATCH",
                row["store_id"],
                None,
                {
                    "address": row["store__address"],
                    "pin": {"lat": pin.y, "lng": pin.x},
                    "geocoded": {"lat": geocoded.y, "lng": geocoded.x},
                    "distance_m": round(row["metres"].m, 1),
                },
            )
        )
    return findings


# --- Sanctions ---------------------------------------------------------------------------------


def rule_reregistration(ctx: Context) -> list[Finding]:
    """A store or entity that matches a sanctioned (suspended, delisted, dishonest-listed) one by
    credit code, legal representative's identity hash or licence number, under another name or
    address. One query per sanction (sanctions are few), never one per store."""
    sanctions = Sanction.objects.filter(
        kind__in=REREGISTRATION_KINDS, lifted_on__isnull=True, decided_on__lte=ctx.as_of
    ).select_related("store__registration", "entity")
    store_matches: dict[int, list[dict[str, Any]]] = defaultdict(list)
    entity_matches: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for sanction in sanctions:
        sanctioned_entity_id = sanction.entity_id
        if sanction.store is not None and hasattr(sanction.store, "registration"):
            sanctioned_entity_id = sanctioned_entity_id or sanction.store.registration.entity_id
        about = {
            "sanction": sanction.external_ref or sanction.pk,
            "kind": sanction.kind,
            "decided_on": _d(sanction.decided_on),
            "reason": sanction.reason,
            "sanctioned_names": sanction.bound_names,
            "sanctioned_addresses": sanction.bound_addresses,
        }
        by_code = Q(registration__entity__uscc=sanction.bound_uscc) if sanction.bound_uscc else Q(pk__in=[])
        by_rep = (
            Q(registration__entity__legal_rep_id_hash=sanction.bound_legal_rep_id_hash)
            if sanction.bound_legal_rep_id_hash
            else Q(pk__in=[])
        )
        by_licence = Q(
            Exists(
                Licence.objects.filter(
                    store_id=OuterRef("pk"), kind=Licence.Kind.FOOD_BUSINESS, number__in=sanction.bound_licence_numbers
                )
            )
        )
        candidates = Store.objects.filter(by_code | by_rep | by_licence).exclude(status=S.CLOSED)
        if sanction.store_id:
            candidates = candidates.exclude(pk=sanction.store_id)
        if sanction.entity_id:  # its own stores are the entity's CREDIT_LISTED matter
            candidates = candidates.exclude(registration__entity_id=sanction.entity_id)
        rows = candidates.values(
            "id",
            "name_zh",
            "address",
            "registration__entity__uscc",
            "registration__entity__legal_rep_id_hash",
        ).annotate(
            licence_hit=Exists(
                Licence.objects.filter(store_id=OuterRef("pk"), number__in=sanction.bound_licence_numbers)
            )
        )
        for row in rows:
            if row["name_zh"] in sanction.bound_names and row["address"] in sanction.bound_addresses:
                continue  # the same place under the same name: not a re-registration
            matched_by = []
            if sanction.bound_uscc and row["registration__entity__uscc"] == sanction.bound_uscc:
                matched_by.append("credit_code")
            if (
                sanction.bound_legal_rep_id_hash
                and row["registration__entity__legal_rep_id_hash"] == sanction.bound_legal_rep_id_hash
            ):
                matched_by.append("legal_rep_identity")
            if row["licence_hit"]:
                matched_by.append("licence")
            store_matches[row["id"]].append({**about, "matched_by": matched_by})
        # Entities other than the sanctioned one that carry its credit code or representative.
        entity_q = Q(pk__in=[])
        if sanction.bound_uscc:
            entity_q |= Q(uscc=sanction.bound_uscc)
        if sanction.bound_legal_rep_id_hash:
            entity_q |= Q(legal_rep_id_hash=sanction.bound_legal_rep_id_hash)
        others = LegalEntity.objects.filter(entity_q)
        if sanctioned_entity_id:
            others = others.exclude(pk=sanctioned_entity_id)
        for entity in others.values("id", "uscc", "legal_rep_id_hash", "name"):
            matched_by = []
            if sanction.bound_uscc and entity["uscc"] == sanction.bound_uscc:
                matched_by.append("credit_code")
            if sanction.bound_legal_rep_id_hash and entity["legal_rep_id_hash"] == sanction.bound_legal_rep_id_hash:
                matched_by.append("legal_rep_identity")
            entity_matches[entity["id"]].append({**about, "matched_by": matched_by})
    return [Finding("REREGISTRATION", sid, None, {"matches": m}) for sid, m in store_matches.items()] + [
        Finding("REREGISTRATION", None, eid, {"matches": m}) for eid, m in entity_matches.items()
    ]


def rule_credit_listed(ctx: Context) -> list[Finding]:
    """The entity is on the dishonest list (three years) or the abnormal-operation list now."""
    in_force = Sanction.objects.filter(
        kind__in=CREDIT_LIST_KINDS, lifted_on__isnull=True, decided_on__lte=ctx.as_of
    ).filter(Q(effective_until__isnull=True) | Q(effective_until__gt=ctx.as_of))
    listed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in in_force.annotate(subject=F("entity_id")).values(
        "subject",
        "store__registration__entity_id",
        "kind",
        "decided_on",
        "effective_until",
        "reason",
        "external_ref",
        "id",
    ):
        entity_id = row["subject"] or row["store__registration__entity_id"]
        if entity_id is None:
            continue
        listed[entity_id].append(
            {
                "sanction": row["external_ref"] or row["id"],
                "kind": row["kind"],
                "decided_on": _d(row["decided_on"]),
                "until": _d(row["effective_until"]),
                "reason": row["reason"],
            }
        )
    return [Finding("CREDIT_LISTED", None, entity_id, {"listings": items}) for entity_id, items in listed.items()]


# --- People ------------------------------------------------------------------------------------


def rule_health_cert_missing(ctx: Context) -> list[Finding]:
    """A store (not closed) with staff whose health certificate is missing or expired."""
    valid = HealthCertificate.objects.filter(staff_id=OuterRef("pk"), valid_to__gte=ctx.as_of).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=ctx.as_of)
    )
    latest = HealthCertificate.objects.filter(staff_id=OuterRef("pk")).order_by("-valid_to").values("valid_to")[:1]
    rows = (
        StaffMember.objects.exclude(store__status=S.CLOSED)
        .filter(~Exists(valid))
        .annotate(last_valid_to=latest)
        .values("store_id", "name", "id_masked", "external_ref", "last_valid_to")
    )
    by_store: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_store[row["store_id"]].append(
            {
                "staff": row["external_ref"],
                "name": row["name"],
                "id": row["id_masked"],
                "problem": "expired" if row["last_valid_to"] else "missing",
                "valid_to": _d(row["last_valid_to"]),
            }
        )
    return [Finding("HEALTH_CERT_MISSING", sid, None, {"staff": staff}) for sid, staff in by_store.items()]


# --- Diners ------------------------------------------------------------------------------------


def rule_low_rating(ctx: Context) -> list[Finding]:
    """The mean of the last 30 days (imported ratings and the platform's reviews) is below 3.0
    stars with at least 10 ratings."""
    since, until = ctx.days_back(LOW_RATING_DAYS), ctx.end
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in (
        ExternalRating.objects.filter(rated_at__gte=since, rated_at__lt=until)
        .values("store_id")
        .annotate(n=Count("id"), total=Count("id") * Avg("stars"))
    ):
        totals[row["store_id"]][0] += row["n"]
        totals[row["store_id"]][1] += round(row["total"])
    for row in (
        Review.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("store_id")
        .annotate(n=Count("id"), total=Count("id") * Avg("store_stars"))
    ):
        totals[row["store_id"]][0] += row["n"]
        totals[row["store_id"]][1] += round(row["total"])
    return [
        Finding(
            "LOW_RATING",
            store_id,
            None,
            {"ratings": n, "mean": round(total / n, 2), "window_days": LOW_RATING_DAYS},
        )
        for store_id, (n, total) in totals.items()
        if n >= LOW_RATING_MIN_COUNT and total / n < LOW_RATING_MEAN
    ]


def rule_complaints(ctx: Context) -> list[Finding]:
    """COMPLAINT_SPIKE (5 or more in the last 7 days) and FOOD_SAFETY_COMPLAINT (one in 30)."""
    findings = []
    spike_since = ctx.days_back(COMPLAINT_SPIKE_DAYS)
    spikes = (
        Complaint.objects.filter(filed_at__gte=spike_since, filed_at__lt=ctx.end)
        .values("store_id")
        .annotate(n=Count("id"))
        .filter(n__gte=COMPLAINT_SPIKE_COUNT)
    )
    spike_counts = {row["store_id"]: row["n"] for row in spikes}
    if spike_counts:
        categories: dict[int, dict[str, int]] = defaultdict(dict)
        for row in (
            Complaint.objects.filter(store_id__in=spike_counts, filed_at__gte=spike_since, filed_at__lt=ctx.end)
            .values("store_id", "category")
            .annotate(n=Count("id"))
        ):
            categories[row["store_id"]][row["category"]] = row["n"]
        for store_id, n in spike_counts.items():
            findings.append(
                Finding(
                    "COMPLAINT_SPIKE",
                    store_id,
                    None,
                    {"complaints": n, "window_days": COMPLAINT_SPIKE_DAYS, "by_category": categories[store_id]},
                )
            )
    food: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for food_row in (
        Complaint.objects.filter(
            category=Complaint.Category.FOOD_SAFETY, filed_at__gte=ctx.days_back(FOOD_SAFETY_DAYS), filed_at__lt=ctx.end
        )
        .order_by("-filed_at")
        .values("store_id", "id", "filed_at", "text", "status")
    ):
        food[food_row["store_id"]].append(
            {
                "complaint": food_row["id"],
                "filed_at": food_row["filed_at"].isoformat(),
                "text": food_row["text"][:200],
                "status": food_row["status"],
            }
        )
    for store_id, items in food.items():
        findings.append(Finding("FOOD_SAFETY_COMPLAINT", store_id, None, {"complaints": items}))
    return findings


# --- Inspections -------------------------------------------------------------------------------


def rule_inspection_failed(ctx: Context, latest: dict[int, Inspection] | None = None) -> list[Finding]:
    """The store's latest inspection failed under its own scheme: `Inspection.failed`, which the
    inspections app sets when it grades (any scheme, imported LIVES feeds included)."""
    latest = latest if latest is not None else ctx.latest_inspections
    failed = {store_id: i for store_id, i in latest.items() if i.failed}
    critical: dict[int, list[str]] = defaultdict(list)
    for inspection_id, code in InspectionViolation.objects.filter(
        inspection_id__in=[i.pk for i in failed.values()], critical=True
    ).values_list("inspection_id", "code"):
        critical[inspection_id].append(code)
    return [
        Finding(
            "INSPECTION_FAILED",
            store_id,
            None,
            {
                "inspection": inspection.external_ref or inspection.pk,
                "date": _d(inspection.inspected_on),
                "scheme": inspection.scheme,
                "score": inspection.score,
                "grade": inspection.grade,
                "critical_violations": critical[inspection.pk],
            },
        )
        for store_id, inspection in failed.items()
    ]


def rule_inspection_overdue(ctx: Context, latest: dict[int, Inspection] | None = None) -> list[Finding]:
    """A live store not inspected within its risk interval. High risk: a critical violation in
    the last year, a failed latest inspection or a food-safety complaint in the last 30 days;
    low: two or more inspections and no critical violation in two years; medium otherwise.
    A store never inspected counts from its opening (or its registration)."""
    latest = latest if latest is not None else ctx.latest_inspections
    year_ago = ctx.as_of - datetime.timedelta(days=365)
    critical_recent = set(
        InspectionViolation.objects.filter(
            critical=True, inspection__inspected_on__gt=year_ago, inspection__inspected_on__lte=ctx.as_of
        ).values_list("inspection__store_id", flat=True)
    )
    critical_2y = set(
        InspectionViolation.objects.filter(
            critical=True,
            inspection__inspected_on__gt=ctx.as_of - datetime.timedelta(days=730),
            inspection__inspected_on__lte=ctx.as_of,
        ).values_list("inspection__store_id", flat=True)
    )
    counts = dict(
        Inspection.objects.filter(inspected_on__lte=ctx.as_of)
        .values("store_id")
        .annotate(n=Count("id"))
        .values_list("store_id", "n")
    )
    food_safety = set(
        Complaint.objects.filter(
            category=Complaint.Category.FOOD_SAFETY, filed_at__gte=ctx.days_back(FOOD_SAFETY_DAYS), filed_at__lt=ctx.end
        ).values_list("store_id", flat=True)
    )
    failed = {store_id for store_id, inspection in latest.items() if inspection.failed}
    findings = []
    for store in Store.objects.filter(status=S.LIVE).values("id", "created_at", "registration__opened_on"):
        sid = store["id"]
        if sid in critical_recent or sid in failed or sid in food_safety:
            risk = "high"
        elif counts.get(sid, 0) >= 2 and sid not in critical_2y:
            risk = "low"
        else:
            risk = "medium"
        inspection = latest.get(sid)
        since = (
            inspection.inspected_on
            if inspection
            else store["registration__opened_on"] or timezone.localdate(store["created_at"])
        )
        due = since + datetime.timedelta(days=INSPECTION_INTERVAL_DAYS[risk])
        if due < ctx.as_of:
            findings.append(
                Finding(
                    "INSPECTION_OVERDUE",
                    sid,
                    None,
                    {
                        "risk": risk,
                        "interval_days": INSPECTION_INTERVAL_DAYS[risk],
                        "last_inspection": _d(inspection.inspected_on) if inspection else None,
                        "counted_from": _d(since),
                        "due": _d(due),
                    },
                )
            )
    return findings


RULES: tuple[Callable[[Context], list[Finding]], ...] = (
    rule_licence_missing,
    rule_licence_expiry,
    rule_licence_invalid,
    rule_licence_shared,
    rule_address_shared,
    rule_pin_mismatch,
    rule_reregistration,
    rule_credit_listed,
    rule_health_cert_missing,
    rule_low_rating,
    rule_complaints,
    rule_inspection_failed,
    rule_inspection_overdue,
)


def findings_for(as_of: datetime.date) -> list[Finding]:
    """Every finding of every rule as of a day."""
    ctx = Context(as_of=as_of)
    return [finding for rule in RULES for finding in rule(ctx)]
