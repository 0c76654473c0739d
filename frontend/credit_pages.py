"""The public credit record: search by name or credit code, a page per legal entity (by its
Unified Social Credit Code) and per store, with verified licences, the latest grades and every
sanction, including those bound to the store's credit code, legal representative or licences
under another name (what a re-registration would hide). Public: no sign-in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from compliance.cases.selectors import (
    credit_search,
    entity_sanctions,
    latest_inspection,
    sanction_history_for,
    stores_of_entity,
    verified_licences,
)
from compliance.models import LegalEntity, StoreRegistration
from compliance.services.sanctions import sanctions_in_force
from delivery.models import Store

HIDDEN = (Store.Status.DRAFT, Store.Status.PENDING_REVIEW)


@require_GET
def credit_search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    entities, stores = credit_search(query)
    return render(
        request,
        "frontend/credit/search.html",
        {"q": query, "entities": entities, "stores": stores, "searched": bool(query.strip())},
    )


@require_GET
def credit_entity(request: HttpRequest, uscc: str) -> HttpResponse:
    entity = LegalEntity.objects.filter(uscc=uscc.upper()).order_by("pk").first()
    if entity is None:
        entity = get_object_or_404(LegalEntity, uscc=uscc)
    stores = stores_of_entity(entity)
    sanctions = entity_sanctions(entity)
    in_force = set(sanctions_in_force().filter(pk__in=[s.pk for s in sanctions]).values_list("pk", flat=True))
    context = {
        "entity": entity,
        "stores": [(store, latest_inspection(store)) for store in stores],
        "licences": verified_licences(stores, entity),
        "sanctions": sanctions,
        "in_force": in_force,
    }
    return render(request, "frontend/credit/entity.html", context)


@require_GET
def credit_store(request: HttpRequest, store_id: int) -> HttpResponse:
    store = get_object_or_404(Store.objects.exclude(status__in=HIDDEN), pk=store_id)
    registration = StoreRegistration.objects.filter(store=store).select_related("entity").first()
    entity = registration.entity if registration else None
    history = sanction_history_for(store)
    context = {
        "store": store,
        "entity": entity,
        "licences": verified_licences([store], entity),
        "inspection": latest_inspection(store),
        "history": history,
        "elsewhere": [s for s in history if s.store_id != store.pk],
        "own": [s for s in history if s.store_id == store.pk],
    }
    return render(request, "frontend/credit/store.html", context)
