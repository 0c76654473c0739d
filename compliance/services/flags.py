"""Flags from the rules: raised, updated, resolved. One open flag per (code, store, entity)."""

from __future__ import annotations

import datetime
from collections.abc import Collection
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from compliance.models import Flag, StoreRegistration
from compliance.rules import CODES, findings_for

# pg_advisory_xact_lock key: one evaluation at a time, so two never race on the open-flag
# unique constraint (any 64-bit constant of our own; "mingchu flags").
_LOCK_KEY = 0x6D696E6763687546


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    raised: int
    updated: int
    resolved: int


@transaction.atomic
def flags_evaluate(
    *,
    as_of: datetime.date | None = None,
    store_ids: Collection[int] | None = None,
    entity_ids: Collection[int] | None = None,
) -> EvaluationResult:
    """Run every rule as of `as_of` (today by default) and bring the open flags in line: new
    findings raise flags, open flags get their current evidence, open flags without a finding
    are resolved (kept, with `resolved_at`). With `store_ids`/`entity_ids` only flags about
    those subjects (and the entities of those stores) are touched: the on-commit re-evaluation
    of one change; without them, every flag (the nightly sweep, `compliance_scan`).
    Idempotent: a second run with nothing changed raises and resolves nothing."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    day = as_of or timezone.localdate()
    now = timezone.now()
    scoped = store_ids is not None or entity_ids is not None
    stores = set(store_ids or ())
    entities = set(entity_ids or ())
    if stores:
        entities |= set(
            StoreRegistration.objects.filter(store_id__in=stores, entity__isnull=False).values_list(
                "entity_id", flat=True
            )
        )

    def in_scope(store_id: int | None, entity_id: int | None) -> bool:
        return not scoped or (store_id in stores if store_id else entity_id in entities)

    findings = {f.key: f for f in findings_for(day) if in_scope(f.store_id, f.entity_id)}
    open_flags = Flag.objects.select_for_update().filter(status=Flag.Status.OPEN, code__in=CODES)
    if scoped:
        open_flags = open_flags.filter(store_id__in=stores) | open_flags.filter(entity_id__in=entities)
    existing = {(f.code, f.store_id, f.entity_id): f for f in open_flags}

    to_update, to_resolve = [], []
    for key, flag in existing.items():
        finding = findings.get(key)
        if finding is None:
            flag.status, flag.resolved_at, flag.evaluated_at = Flag.Status.RESOLVED, now, now
            to_resolve.append(flag)
        else:
            flag.evidence, flag.severity, flag.evaluated_at = finding.evidence, finding.severity, now
            to_update.append(flag)
    Flag.objects.bulk_update(to_resolve, ["status", "resolved_at", "evaluated_at"], batch_size=2000)
    Flag.objects.bulk_update(to_update, ["evidence", "severity", "evaluated_at"], batch_size=2000)
    new = [
        Flag(
            code=f.code,
            store_id=f.store_id,
            entity_id=f.entity_id,
            severity=f.severity,
            evidence=f.evidence,
            raised_at=now,
            evaluated_at=now,
        )
        for key, f in findings.items()
        if key not in existing
    ]
    Flag.objects.bulk_create(new, batch_size=2000)
    return EvaluationResult(raised=len(new), updated=len(to_update), resolved=len(to_resolve))
