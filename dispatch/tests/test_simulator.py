"""The simulator plays the restaurants through the board's services, like a tap on the board."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from delivery.models import Order, OrderEvent, Store, StoreMembership
from dispatch.simulator import _restaurants_step
from dispatch.tests.factories import make_order

pytestmark = pytest.mark.django_db


def test_simulated_restaurants_accept_and_mark_ready_through_the_board(store: Store, owner: object) -> None:
    diner = UserFactory(username="sim-diner-0001")
    order = make_order(diner=diner, store=store, status=Order.Status.PAID, paid_at=timezone.now())
    Store.objects.filter(pk=store.pk).update(busy_extra_minutes=5, missed_in_row=2)

    assert _restaurants_step(speedup=1.0) == 1
    order.refresh_from_db()
    store.refresh_from_db()
    assert order.status == Order.Status.ACCEPTED
    # The board's accept: the store's prep time plus busy minutes, the missed-orders count reset.
    assert order.prep_minutes == store.default_prep_minutes + 5
    assert store.missed_in_row == 0
    event = OrderEvent.objects.get(order=order, to_status=Order.Status.ACCEPTED)
    assert event.actor == owner  # the store's member acted, through the access check

    assert _restaurants_step(speedup=1_000_000.0) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.READY


def test_a_store_without_members_gets_a_simulated_staff_member(store: Store) -> None:
    diner = UserFactory(username="sim-diner-0002")
    order = make_order(diner=diner, store=store, status=Order.Status.PAID, paid_at=timezone.now())

    _restaurants_step(speedup=1.0)

    order.refresh_from_db()
    assert order.status == Order.Status.ACCEPTED
    member = StoreMembership.objects.get(store=store)
    assert member.user.username == f"sim-staff-{store.pk}" and member.role == StoreMembership.Role.STAFF
