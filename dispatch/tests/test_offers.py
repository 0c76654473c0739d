"""Offers: accept, decline with a reason, time-out and re-offer without that courier, the open
pool after N failures, first grab wins, and the fencing token of the zone lease."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from delivery.models import Order, Store
from delivery.transitions import order_transition
from dispatch.models import Courier, Offer, OrderDispatch
from dispatch.services.dispatching import orders_enqueue
from dispatch.services.leases import lease_acquire
from dispatch.services.offers import offer_accept, offer_create, offer_decline, offers_expire, pool_grab
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch
from dispatch.transitions import TransitionRefused

pytestmark = pytest.mark.django_db
DS = OrderDispatch.State


def _setup(diner: User, store: Store) -> tuple[Order, Courier]:
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)
    return order, idle_courier()


def test_offer_claims_order_and_courier(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)

    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk], pickup_distance_m=300)

    assert offer is not None and offer.status == Offer.Status.PENDING
    assert offer.expires_at > timezone.now() + timedelta(seconds=25)
    assert offer.earnings_cents >= 500
    courier.refresh_from_db()
    assert courier.state == Courier.State.OFFERED
    assert OrderDispatch.objects.get(order=order).state == DS.OFFERED


def test_offer_refused_for_an_order_not_waiting_or_a_busy_courier(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    other = idle_courier(lng=121.452)
    assert offer_create(courier_id=courier.pk, order_ids=[order.pk]) is not None

    # The order is already offered: a second offer for it writes nothing.
    assert offer_create(courier_id=other.pk, order_ids=[order.pk]) is None
    other.refresh_from_db()
    assert other.state == Courier.State.IDLE
    # The courier is already offered: no second offer for them.
    second = make_order(diner=diner, store=store)
    waiting_dispatch(second)
    assert offer_create(courier_id=courier.pk, order_ids=[second.pk]) is None
    assert OrderDispatch.objects.get(order=second).state == DS.WAITING


def test_accept_assigns_the_order_and_moves_the_courier(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None

    offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)
    again = offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)  # a retried tap

    assert again.status == Offer.Status.ACCEPTED
    courier.refresh_from_db()
    order.refresh_from_db()
    dispatch = OrderDispatch.objects.get(order=order)
    assert courier.state == Courier.State.TO_STORE
    assert dispatch.state == DS.ASSIGNED and dispatch.courier == courier and dispatch.fee_cents > 0
    assert order.courier == courier


def test_another_courier_cannot_answer_an_offer(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    intruder = idle_courier(lng=121.46)

    with pytest.raises(TransitionRefused) as refused:
        offer_accept(offer_id=offer.pk, courier=intruder, actor=intruder.user)

    assert refused.value.code == "not_your_offer"


def test_decline_sends_the_order_back_higher_and_without_that_courier(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None

    offer_decline(offer_id=offer.pk, courier=courier, actor=courier.user, reason="too far")

    offer.refresh_from_db()
    courier.refresh_from_db()
    dispatch = OrderDispatch.objects.get(order=order)
    assert offer.status == Offer.Status.DECLINED and offer.reason == "too far"
    assert courier.state == Courier.State.IDLE
    assert (dispatch.state, dispatch.priority, dispatch.failures) == (DS.WAITING, 1, 1)
    assert dispatch.excluded_couriers == [courier.pk]
    # Never offered to them again; another courier may get it.
    assert offer_create(courier_id=courier.pk, order_ids=[order.pk]) is None
    assert offer_create(courier_id=idle_courier(lng=121.452).pk, order_ids=[order.pk]) is not None


def test_offer_times_out_and_is_offered_to_the_next_courier(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(TransitionRefused) as late:
        offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)
    assert late.value.code == "offer_expired"
    assert offers_expire() == 1
    assert offers_expire() == 0  # a rerun finds nothing

    offer.refresh_from_db()
    courier.refresh_from_db()
    dispatch = OrderDispatch.objects.get(order=order)
    assert offer.status == Offer.Status.EXPIRED and courier.state == Courier.State.IDLE
    assert (dispatch.state, dispatch.priority, dispatch.excluded_couriers) == (DS.WAITING, 1, [courier.pk])
    nxt = idle_courier(lng=121.452)
    reoffer = offer_create(courier_id=nxt.pk, order_ids=[order.pk])
    assert reoffer is not None and reoffer.courier == nxt


@override_settings(DISPATCH_MAX_OFFERS=2)
def test_after_n_failures_the_order_goes_to_the_pool(diner: User, store: Store) -> None:
    order, first = _setup(diner, store)
    second = idle_courier(lng=121.452)
    for courier in (first, second):
        offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
        assert offer is not None
        offer_decline(offer_id=offer.pk, courier=courier, actor=None, reason="no")

    dispatch = OrderDispatch.objects.get(order=order)
    assert dispatch.state == DS.POOL and dispatch.failures == 2
    third = idle_courier(lng=121.453)
    grabbed = pool_grab(order_id=order.pk, courier=third, actor=third.user)
    third.refresh_from_db()
    assert grabbed.state == DS.ASSIGNED and grabbed.courier == third
    assert third.state == Courier.State.TO_STORE


def test_pool_grab_refused_when_not_available(diner: User, store: Store) -> None:
    order, _courier = _setup(diner, store)
    OrderDispatch.objects.filter(order=order).update(state=DS.POOL)
    offline = idle_courier(state=Courier.State.OFFLINE)

    with pytest.raises(TransitionRefused) as refused:
        pool_grab(order_id=order.pk, courier=offline, actor=None)

    assert refused.value.code == "not_available"


@pytest.mark.django_db(transaction=True)
def test_pool_grab_race_has_exactly_one_winner(diner: User, store: Store) -> None:
    order = make_order(diner=diner, store=store)
    OrderDispatch.objects.create(order=order, store=store, dropoff_code="1111", state=DS.POOL)
    couriers = [idle_courier(lng=121.451 + i / 1000) for i in range(4)]
    barrier = threading.Barrier(len(couriers))
    results: list[str] = []

    def grab(courier: Courier) -> None:
        try:
            barrier.wait()
            pool_grab(order_id=order.pk, courier=courier, actor=None)
            results.append("won")
        except TransitionRefused as refused:
            results.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=grab, args=(c,)) for c in couriers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results.count("won") == 1, results
    assert set(results) <= {"won", "pool_taken", "order_taken"}
    dispatch = OrderDispatch.objects.get(order=order)
    winners = Courier.objects.filter(state=Courier.State.TO_STORE)
    assert winners.count() == 1 and dispatch.courier == winners.get()
    assert Courier.objects.filter(state=Courier.State.IDLE).count() == 3


def test_an_offer_under_a_lost_lease_writes_nothing(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    old = lease_acquire(zone_key="z", holder="a", seconds=30)
    assert old is not None
    assert lease_acquire(zone_key="z", holder="b", seconds=30) is None  # a live lease is not shared
    # a's lease lapses (a paused process); b takes the zone with a new fencing token.
    from dispatch.models import DispatchLease

    DispatchLease.objects.filter(zone_key="z").update(expires_at=timezone.now() - timedelta(seconds=1))
    new = lease_acquire(zone_key="z", holder="b", seconds=30)
    assert new is not None and new.token == old.token + 1

    assert offer_create(courier_id=courier.pk, order_ids=[order.pk], lease=old) is None
    assert OrderDispatch.objects.get(order=order).state == DS.WAITING
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk], lease=new)
    assert offer is not None and offer.fencing_token == new.token


def test_renewing_ones_own_lease_keeps_the_token() -> None:
    first = lease_acquire(zone_key="z", holder="a", seconds=30)
    again = lease_acquire(zone_key="z", holder="a", seconds=30)
    assert first is not None and again is not None and again.token == first.token


def _cancel(order: Order) -> None:
    order_transition(order_id=order.pk, to=Order.Status.CANCELLED, actor=None, actor_role="system", reason="test")


def test_cancelling_an_offered_order_withdraws_the_offer(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    bundled = make_order(diner=diner, store=store)
    waiting_dispatch(bundled)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk, bundled.pk])
    assert offer is not None

    _cancel(order)

    offer.refresh_from_db()
    courier.refresh_from_db()
    assert offer.status == Offer.Status.WITHDRAWN
    assert courier.state == Courier.State.IDLE
    assert OrderDispatch.objects.get(order=order).state == DS.CANCELLED
    # The other order of the bundle goes back with no penalty: nobody refused it.
    other = OrderDispatch.objects.get(order=bundled)
    assert (other.state, other.failures, other.excluded_couriers) == (DS.WAITING, 0, [])
    with pytest.raises(TransitionRefused):
        offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)


def test_cancelling_an_assigned_order_takes_the_task_back(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    kept = make_order(diner=diner, store=store)
    waiting_dispatch(kept)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk, kept.pk])
    assert offer is not None
    offer_accept(offer_id=offer.pk, courier=courier, actor=courier.user)

    _cancel(order)
    courier.refresh_from_db()
    # Still carrying the other order of the bundle: still on the way to the store.
    assert courier.state == Courier.State.TO_STORE
    assert OrderDispatch.objects.get(order=order).state == DS.CANCELLED

    _cancel(kept)
    _cancel(kept)  # a retried cancel changes nothing
    courier.refresh_from_db()
    assert courier.state == Courier.State.IDLE
    assert not OrderDispatch.objects.filter(courier=courier, state=DS.ASSIGNED).exists()
    assert list(courier.events.order_by("pk").values_list("to_state", flat=True))[-1] == Courier.State.IDLE


def test_orders_ended_behind_the_services_back_are_withdrawn_by_the_dispatcher(diner: User, store: Store) -> None:
    order, courier = _setup(diner, store)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None
    Order.objects.filter(pk=order.pk).update(status=Order.Status.REJECTED)  # no hook ran

    orders_enqueue()

    offer.refresh_from_db()
    courier.refresh_from_db()
    assert offer.status == Offer.Status.WITHDRAWN and courier.state == Courier.State.IDLE
    assert OrderDispatch.objects.get(order=order).state == DS.CANCELLED


def _accept(offer: Offer, courier: Courier) -> None:
    offer_accept(offer_id=offer.pk, courier=courier, actor=None)


def _decline(offer: Offer, courier: Courier) -> None:
    offer_decline(offer_id=offer.pk, courier=courier, actor=None, reason="too far")


def _expire(offer: Offer, courier: Courier) -> None:
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    offers_expire()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("answer", [_accept, _decline, _expire], ids=["accept", "decline", "time-out"])
def test_answering_an_offer_locks_the_order_before_the_offer_and_the_courier(
    diner: User, store: Store, answer: object
) -> None:
    """A cancel locks the order, then the dispatch, the offer and the courier (order_transition
    and its hook). An answer that took the offer and the courier first and the order last
    deadlocked with it; now it waits for the order and holds nothing else meanwhile."""
    order, courier = _setup(diner, store)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None and callable(answer)
    holding, release = threading.Event(), threading.Event()

    def hold_the_order() -> None:  # what a cancel does first
        try:
            with transaction.atomic():
                Order.objects.select_for_update(no_key=True).get(pk=order.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def answer_it() -> None:
        try:
            answer(offer, courier)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_order)
    holder.start()
    assert holding.wait(10)
    answering = threading.Thread(target=answer_it)
    answering.start()
    try:
        with connection.cursor() as cursor:
            for _ in range(200):  # until the answer is waiting for the order's lock
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.02)
            else:
                pytest.fail("the answer never waited for the order")
            # Meanwhile it holds neither the offer nor the courier: a cancel could take both.
            with transaction.atomic():
                cursor.execute("SELECT id FROM dispatch_offer WHERE id = %s FOR UPDATE NOWAIT", [offer.pk])
                cursor.execute("SELECT id FROM dispatch_courier WHERE id = %s FOR UPDATE NOWAIT", [courier.pk])
    finally:
        release.set()
        holder.join(10)
        answering.join(10)
    offer.refresh_from_db()
    assert offer.status != Offer.Status.PENDING  # and the answer went through afterwards
