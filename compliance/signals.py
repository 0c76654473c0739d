"""Re-evaluation hooks on models other code writes (reviews, complaints, sanctions, inspections,
a store's address, pin or status). They only schedule `compliance.tasks.flags_evaluate` for the
store concerned, on commit; no rule runs inside anyone's transaction."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from compliance.tasks import schedule_flags_reevaluation


def _store_changed(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    fields = kwargs.get("update_fields")
    if fields is not None and not {"address", "location", "status"} & set(fields):
        return
    schedule_flags_reevaluation(store_ids=[instance.pk])


def _store_row_changed(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    store_id = getattr(instance, "store_id", None)
    entity_id = getattr(instance, "entity_id", None)
    schedule_flags_reevaluation(store_ids=[store_id] if store_id else [], entity_ids=[entity_id] if entity_id else [])


def connect() -> None:
    from compliance.inspections.models import Inspection
    from compliance.models import Complaint, Sanction
    from delivery.models import Review, Store

    post_save.connect(_store_changed, sender=Store, dispatch_uid="compliance-store-changed")
    for model in (Review, Complaint, Sanction, Inspection):
        post_save.connect(_store_row_changed, sender=model, dispatch_uid=f"compliance-{model.__name__}-changed")
