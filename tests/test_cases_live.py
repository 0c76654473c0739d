"""Compliance against the real services: the complaint sweep on a real Celery worker, and a
sanction's `store.sanctioned` event reaching the store's group on the real Redis channel layer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from compliance.cases.tasks import complaints_escalate
from compliance.models import Complaint
from compliance.services.sanctions import sanction_impose
from core.realtime import group_for_store
from delivery.models import Order
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import build_menu_store

pytestmark = [pytest.mark.live]


def test_the_worker_escalates_a_breached_complaint_once(celery_worker: Any, diner: User) -> None:
    menu = build_menu_store()
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(LineRequest(item_id=menu.tea.pk, quantity=2),),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )
    order = order_place(diner=diner, request=request, idempotency_key="k").order
    filed = timezone.now() - timedelta(hours=2)
    Complaint.objects.create(
        store=menu.store,
        order=order,
        diner=diner,
        category="late",
        text="Cold",
        filed_at=filed,
        acknowledge_by=filed + timedelta(hours=1),
        solution_by=filed + timedelta(hours=24),
        close_by=filed + timedelta(hours=48),
    )
    assert complaints_escalate.delay().get(timeout=30) == 1
    assert complaints_escalate.delay().get(timeout=30) == 0
    assert Complaint.objects.get(order=order).escalations == ["acknowledge"]


@pytest.mark.django_db(transaction=True)
def test_the_store_board_hears_why_it_was_suspended(regulator: User, diner: User) -> None:
    menu = build_menu_store(location=Point(121.45, 31.23, srid=4326))
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(LineRequest(item_id=menu.tea.pk, quantity=2),),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )
    order = order_place(diner=diner, request=request, idempotency_key="k").order
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_for_store(menu.store.pk), channel)

    sanction_impose(regulator=regulator, store=menu.store, kind="suspension", reason="Rats in the kitchen")

    events = []
    for _ in range(5):
        message = async_to_sync(layer.receive)(channel)
        events.append(message["event"])
        if message["event"]["type"] == "store.sanctioned":
            break
    sanctioned = next(e for e in events if e["type"] == "store.sanctioned")
    assert sanctioned["reason"] == "Rats in the kitchen" and sanctioned["store_status"] == "suspended"
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
