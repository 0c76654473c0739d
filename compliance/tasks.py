"""Compliance tasks: flag re-evaluation after a relevant change, the nightly sweep of every
rule, health-certificate reminders. Each takes ids and calls one idempotent service."""

from __future__ import annotations

from collections.abc import Iterable

from celery import shared_task
from django.db import transaction


@shared_task(name="compliance.tasks.flags_evaluate", acks_late=True, soft_time_limit=300, time_limit=360)
def flags_evaluate(store_ids: list[int] | None = None, entity_ids: list[int] | None = None) -> dict[str, int]:
    """Re-run the rules for these stores and entities (every subject when both are None).
    Idempotent (the flags end up as the rules say), hence acks_late."""
    from compliance.services.flags import flags_evaluate as evaluate

    result = evaluate(store_ids=store_ids, entity_ids=entity_ids)
    return {"raised": result.raised, "updated": result.updated, "resolved": result.resolved}


@shared_task(name="compliance.tasks.flags_nightly_sweep", acks_late=True, soft_time_limit=600, time_limit=660)
def flags_nightly_sweep() -> dict[str, int]:
    """Every rule over every subject: windows slide (ratings, complaints, expiries) without any
    change to trigger them."""
    result: dict[str, int] = flags_evaluate()
    return result


@shared_task(name="compliance.tasks.health_certificate_reminders_send")
def health_certificate_reminders_send() -> int:
    """Reminders 30, 7 and 1 days before a certificate ends; each claimed once, sent once."""
    from compliance.services.certificates import health_certificate_reminders_send as send

    return send()


def schedule_flags_reevaluation(*, store_ids: Iterable[int] = (), entity_ids: Iterable[int] = ()) -> None:
    """Queue a re-evaluation of these subjects once the current transaction commits (never for
    a rolled-back change). One task per transaction, however many rows it wrote (a registry
    import or the demo seed writes thousands): subjects gather on the connection until the
    commit. Robust: a broker that is down is logged, never fails the change that triggered it;
    the nightly sweep catches up."""
    stores, entities = set(store_ids), set(entity_ids)
    if not stores and not entities:
        return
    connection = transaction.get_connection()
    pending: _Pending | None = getattr(connection, "_compliance_flag_subjects", None)
    # Our callback is gone when the transaction that registered it committed or rolled back.
    if pending is None or not any(entry[1] == pending.send for entry in connection.run_on_commit):
        pending = _Pending()
        connection._compliance_flag_subjects = pending
        pending.stores |= stores
        pending.entities |= entities
        transaction.on_commit(pending.send, robust=True)
        return
    pending.stores |= stores
    pending.entities |= entities


class _Pending:
    def __init__(self) -> None:
        self.stores: set[int] = set()
        self.entities: set[int] = set()

    def send(self) -> None:
        flags_evaluate.delay(store_ids=sorted(self.stores), entity_ids=sorted(self.entities))
