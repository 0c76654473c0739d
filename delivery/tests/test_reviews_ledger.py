"""Reviews (once, delivered only, aggregates, one reply) and the store ledger (books once,
reconciles to the cent)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from delivery.models import LedgerEntry, Order, Payment, Refund, Store
from delivery.selectors.reconciliation import reconciliation_days
from delivery.services.ledger import commission_cents, ledger_post_delivered, ledger_post_refund
from delivery.services.reviews import ReviewRefused, review_create, review_reply, store_ratings_refresh
from delivery.tests.factories import StoreFactory, StoreMembershipFactory
from delivery.transitions import order_transition
from dispatch.tests.factories import CourierFactory

pytestmark = pytest.mark.django_db
S = Order.Status


def _order(diner: User, store: Store, status: str = S.PICKED_UP, **fields: object) -> Order:
    values: dict[str, object] = {
        "subtotal_cents": 5000,
        "packaging_cents": 200,
        "delivery_fee_cents": 500,
        "discount_cents": 0,
        "total_cents": 5700,
        **fields,
    }
    return Order.objects.create(
        number=f"R{Order.objects.count() + 1:08d}",
        diner=diner,
        store=store,
        status=status,
        delivery_address="上海市静安区南京西路1788号",
        delivery_point=Point(121.445, 31.224, srid=4326),
        eta_at=timezone.now() + timedelta(minutes=30),
        **values,
    )


def _deliver(order: Order) -> Order:
    return order_transition(order_id=order.pk, to=S.DELIVERED, actor=None, actor_role="courier").order


def test_review_after_delivery_updates_the_aggregates(diner: User, store: Store) -> None:
    order = _deliver(_order(diner, store))

    review_create(diner=diner, order=order, store_stars=4, store_text="好吃")

    store.refresh_from_db()
    assert (store.rating_count, store.rating_sum, store.rating_30d_count, store.rating_mean) == (1, 4, 1, 4.0)


def test_review_is_refused_before_delivery_twice_or_by_another(diner: User, outsider: User, store: Store) -> None:
    order = _order(diner, store)
    with pytest.raises(ReviewRefused) as early:
        review_create(diner=diner, order=order, store_stars=5)
    assert early.value.code == "not_delivered"

    order = _deliver(order)
    with pytest.raises(ReviewRefused) as foreign:
        review_create(diner=outsider, order=order, store_stars=1)
    assert foreign.value.status == 404

    review_create(diner=diner, order=order, store_stars=5)
    with pytest.raises(ReviewRefused) as twice:
        review_create(diner=diner, order=order, store_stars=1)
    assert twice.value.code == "already_reviewed"
    store.refresh_from_db()
    assert store.rating_count == 1


def test_stars_are_one_to_five(diner: User, store: Store) -> None:
    order = _deliver(_order(diner, store))
    for bad in (0, 6):
        with pytest.raises(ReviewRefused):
            review_create(diner=diner, order=order, store_stars=bad)


def test_courier_is_rated_separately_only_when_known(diner: User, store: Store) -> None:
    no_courier = _deliver(_order(diner, store))
    with pytest.raises(ReviewRefused) as refused:
        review_create(diner=diner, order=no_courier, store_stars=5, courier_stars=5)
    assert refused.value.code == "no_courier"

    courier = CourierFactory()
    carried = _deliver(_order(diner, store, courier=courier))
    review = review_create(diner=diner, order=carried, store_stars=3, courier_stars=5, courier_text="准时")
    assert (review.courier, review.courier_stars, review.store_stars) == (courier, 5, 3)


def test_store_replies_once_and_outsiders_cannot(diner: User, store: Store, owner: User, outsider: User) -> None:
    review = review_create(diner=diner, order=_deliver(_order(diner, store)), store_stars=2)
    other_staff = StoreMembershipFactory(store=StoreFactory()).user
    for stranger in (outsider, other_staff, diner):
        with pytest.raises(ReviewRefused):
            review_reply(user=stranger, review=review, text="?")

    review_reply(user=owner, review=review, text="抱歉，下次改进")
    with pytest.raises(ReviewRefused) as twice:
        review_reply(user=owner, review=review, text="again")
    assert twice.value.code == "already_replied"


def test_nightly_refresh_slides_the_30_day_window(diner: User, store: Store) -> None:
    review = review_create(diner=diner, order=_deliver(_order(diner, store)), store_stars=5)
    type(review).objects.filter(pk=review.pk).update(created_at=timezone.now() - timedelta(days=31))

    store_ratings_refresh(store_id=store.pk)

    store.refresh_from_db()
    assert (store.rating_count, store.rating_30d_count, store.rating_30d_sum) == (1, 0, 0)


def test_commission_rounds_half_up() -> None:
    assert commission_cents(base_cents=5200, rate_bp=1800) == 936
    assert commission_cents(base_cents=1, rate_bp=5000) == 1
    assert commission_cents(base_cents=0, rate_bp=1800) == 0


def test_delivery_books_sale_discount_and_commission_once(diner: User, store: Store, settings: object) -> None:
    order = _deliver(_order(diner, store, discount_cents=800, discount_store_cents=800, total_cents=4900))
    ledger_post_delivered(order=order)  # a retry books nothing more

    entries = {e.kind: e.amount_cents for e in LedgerEntry.objects.filter(order=order)}
    # sale = 5000 + 200 packaging; commission 18 % of (5200 - 800) = 792.
    assert entries == {"sale": 5200, "store_discount": -800, "commission": -792}


def test_refunds_give_back_the_stores_net_share(diner: User, store: Store) -> None:
    order = _deliver(_order(diner, store))
    payment = Payment.objects.create(
        order=order, provider="sandbox", provider_ref="p1", amount_cents=5700, status="succeeded"
    )
    net = 5200 - commission_cents(base_cents=5200, rate_bp=1800)

    part = Refund.objects.create(payment=payment, amount_cents=1300, reason="missing item", status="succeeded")
    ledger_post_refund(refund=part)
    ledger_post_refund(refund=part)  # once only
    rest = Refund.objects.create(payment=payment, amount_cents=4400, reason="cold", status="succeeded")
    ledger_post_refund(refund=rest)

    refunds = [e.amount_cents for e in LedgerEntry.objects.filter(order=order, kind="refund").order_by("pk")]
    assert refunds[0] == -round(1300 * net / 5200)
    assert sum(e.amount_cents for e in LedgerEntry.objects.filter(order=order)) == 0  # nothing left for the store


def test_reconciliation_matches_the_orders_to_the_cent(diner: User, store: Store) -> None:
    orders = [_deliver(_order(diner, store, subtotal_cents=1000 * n, total_cents=1000 * n + 700)) for n in range(1, 6)]
    _order(diner, store, status=S.PAID)  # not delivered: not in the ledger

    today = timezone.localdate()
    [day] = reconciliation_days(store=store, start=today, end=today)

    gross = sum(o.subtotal_cents + o.packaging_cents for o in orders)
    commission = sum(commission_cents(base_cents=o.subtotal_cents + o.packaging_cents, rate_bp=1800) for o in orders)
    assert (day.orders, day.gross_cents, day.commission_cents, day.refunds_cents) == (5, gross, -commission, 0)
    assert day.payout_cents == gross - commission
