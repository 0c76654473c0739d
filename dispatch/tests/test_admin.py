"""Dispatch in the admin: everything viewable; states, offers and dispatch rows read-only."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from delivery.models import Store
from dispatch.models import Courier, Offer, OrderDispatch
from dispatch.services.offers import offer_create
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch

pytestmark = pytest.mark.django_db


def test_dispatch_models_are_listed_and_state_is_read_only(admin_client: Client, diner: User, store: Store) -> None:
    order = make_order(diner=diner, store=store)
    dispatch = waiting_dispatch(order)
    courier = idle_courier()
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None

    for model in (
        "courier",
        "courierevent",
        "dispatchzone",
        "dispatchlease",
        "offer",
        "orderdispatch",
        "courierproblem",
    ):
        assert admin_client.get(reverse(f"admin:dispatch_{model}_changelist")).status_code == 200, model

    page = admin_client.get(reverse("admin:dispatch_orderdispatch_change", args=[dispatch.pk]))
    assert page.status_code == 200
    assert "field-dropoff_code" not in page.content.decode()  # the diner's secret is not shown
    # Read-only: a change posted anyway is refused, and nothing moves.
    url = reverse("admin:dispatch_offer_change", args=[offer.pk])
    assert admin_client.post(url, {"status": "accepted"}).status_code == 403
    assert Offer.objects.get(pk=offer.pk).status == Offer.Status.PENDING
    assert admin_client.post(reverse("admin:dispatch_orderdispatch_add"), {}).status_code == 403

    # The courier's profile is editable, their state is not.
    form = admin_client.get(reverse("admin:dispatch_courier_change", args=[courier.pk])).content.decode()
    assert 'name="capacity"' in form and 'name="state"' not in form
    assert OrderDispatch.objects.get(pk=dispatch.pk).state == OrderDispatch.State.OFFERED
    assert Courier.objects.get(pk=courier.pk).state == Courier.State.OFFERED
