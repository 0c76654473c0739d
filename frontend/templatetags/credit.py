"""`{% credit_alert store %}`: a store's sanction record, shown prominently where diners choose
(the diner's store page), including sanctions bound to its credit code, legal representative or
licences under another name."""

from __future__ import annotations

from typing import Any

from django import template

from compliance.cases.selectors import sanction_history_for
from delivery.models import Store

register = template.Library()


@register.inclusion_tag("frontend/credit/_alert.html")
def credit_alert(store: Store) -> dict[str, Any]:
    history = sanction_history_for(store)
    return {"store": store, "history": history, "elsewhere": [s for s in history if s.store_id != store.pk]}


@register.inclusion_tag("frontend/complaints/_order.html", takes_context=True)
def order_complaints(context: dict[str, Any], order: Any) -> dict[str, Any]:
    """The diner's complaints on this order, their progress and deadlines, and the way to file one."""
    from django.utils import timezone

    from compliance.models import Complaint

    rows = list(Complaint.objects.filter(order=order).order_by("-filed_at"))
    return {"order": order, "complaints": rows, "now": timezone.now(), "csrf_token": context.get("csrf_token")}
