"""After-sales refund requests: asked on delivered orders, answered by the store or the platform,
approved automatically when the store lets the deadline pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from delivery.models import LedgerEntry, Order, Payment, RefundRequest
from delivery.services.aftersales import (
    AftersalesRefused,
    refund_request_accept,
    refund_request_contest,
    refund_request_create,
    refund_request_decide,
    refund_requests_expire,
)
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import StoreMembershipFactory, build_menu_store
from delivery.transitions import order_transition

pytestmark = pytest.mark.django_db
S = Order.Status


def _delivered_order(diner: User) -> tuple[Order, User]:
    """A real order: placed, paid (a succeeded sandbox payment), then carried to delivered."""
    menu = build_menu_store()
    owner = StoreMembershipFactory(store=menu.store).user
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(
            LineRequest(item_id=menu.noodles.pk, option_ids=(menu.regular.pk,), quantity=2),
            LineRequest(item_id=menu.tea.pk),
        ),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )
    order = order_place(diner=diner, request=request, idempotency_key="k").order
    Payment.objects.create(
        order=order,
        provider="sandbox",
        provider_ref=f"sbx_{order.pk}",
        amount_cents=order.total_cents,
        status=Payment.Status.SUCCEEDED,
    )
    for to in (S.PAID, S.ACCEPTED, S.READY, S.PICKED_UP, S.DELIVERED):
        order = order_transition(order_id=order.pk, to=to, actor=None, actor_role="test").order
    return order, owner


def _noodles(order: Order, quantity: int = 1) -> list[dict[str, int]]:
    return [{"line": order.lines.get(name_en="Scallion oil noodles").pk, "quantity": quantity}]


def test_store_accepts_and_the_items_are_refunded(diner: User) -> None:
    order, owner = _delivered_order(diner)
    request = refund_request_create(diner=diner, order=order, reason="面坨了", lines=_noodles(order))
    assert request.amount_cents == 1800

    refund_request_accept(user=owner, request=request)

    order.refresh_from_db()
    assert order.status == S.PARTIALLY_REFUNDED
    assert order.lines.get(name_en="Scallion oil noodles").refunded_quantity == 1
    assert Payment.objects.get(order=order).refunded_cents == 1800
    assert LedgerEntry.objects.filter(order=order, kind="refund").exists()


def test_contested_request_is_decided_by_an_operator(diner: User, operator: User) -> None:
    order, owner = _delivered_order(diner)
    request = refund_request_create(diner=diner, order=order, reason="少了一份", lines=_noodles(order, 2))
    refund_request_contest(user=owner, request=request, response="监控显示已放入两份")

    decided = refund_request_decide(user=operator, request=request, approve=False)

    assert decided.status == RefundRequest.Status.DECLINED
    assert Payment.objects.get(order=order).refunded_cents == 0


def test_unanswered_request_is_approved_after_the_deadline_once(diner: User) -> None:
    order, _owner = _delivered_order(diner)
    request = refund_request_create(diner=diner, order=order, reason="凉了", lines=_noodles(order))
    RefundRequest.objects.filter(pk=request.pk).update(respond_by=timezone.now() - timedelta(minutes=1))

    assert refund_requests_expire() == 1
    assert refund_requests_expire() == 0  # a rerun does nothing

    request.refresh_from_db()
    assert request.status == RefundRequest.Status.APPROVED
    assert Payment.objects.get(order=order).refunded_cents == 1800


def test_requests_are_refused_for_the_wrong_people_and_states(diner: User, outsider: User, operator: User) -> None:
    order, owner = _delivered_order(diner)
    with pytest.raises(AftersalesRefused) as foreign:
        refund_request_create(diner=outsider, order=order, reason="x", lines=_noodles(order))
    assert foreign.value.status == 404
    with pytest.raises(AftersalesRefused) as too_many:
        refund_request_create(diner=diner, order=order, reason="x", lines=_noodles(order, 3))
    assert too_many.value.code == "invalid_lines"

    request = refund_request_create(diner=diner, order=order, reason="x", lines=_noodles(order))
    with pytest.raises(AftersalesRefused) as second:
        refund_request_create(diner=diner, order=order, reason="y", lines=_noodles(order))
    assert second.value.code == "request_open"
    for stranger in (outsider, diner, StoreMembershipFactory(store=build_menu_store().store).user):
        with pytest.raises(AftersalesRefused):
            refund_request_accept(user=stranger, request=request)
    with pytest.raises(AftersalesRefused):
        refund_request_decide(user=owner, request=request, approve=True)  # only operators decide


def test_window_after_delivery(diner: User, settings: object) -> None:
    order, _owner = _delivered_order(diner)
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(hours=73))
    order.refresh_from_db()
    with pytest.raises(AftersalesRefused) as late:
        refund_request_create(diner=diner, order=order, reason="x", lines=_noodles(order))
    assert late.value.code == "window_closed"


def test_a_refused_refund_hands_the_request_back(diner: User) -> None:
    order, owner = _delivered_order(diner)
    request = refund_request_create(diner=diner, order=order, reason="x", lines=_noodles(order))
    Payment.objects.filter(order=order).update(status=Payment.Status.FAILED)  # nothing to refund from

    with pytest.raises(AftersalesRefused) as refused:
        refund_request_accept(user=owner, request=request)

    assert refused.value.code == "not_paid"
    request.refresh_from_db()
    assert request.status == RefundRequest.Status.REQUESTED
