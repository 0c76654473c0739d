"""The order state machine: every move succeeds from its allowed states and is refused from
every other; a racing pair of moves has exactly one winner."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from accounts.models import User
from delivery.models import Order, OrderEvent, Store
from delivery.transitions import STAMPS, TRANSITIONS, TransitionRefused, can_transition, order_transition

S = Order.Status
ALL = [s.value for s in S]
PAIRS = [(a, b) for a in ALL for b in ALL if a != b]


def _order(diner: User, store: Store, status: str) -> Order:
    return Order.objects.create(
        number=f"T{Order.objects.count() + 1:08d}",
        diner=diner,
        store=store,
        status=status,
        subtotal_cents=2000,
        total_cents=2000,
        delivery_address="上海市静安区南京西路1788号",
        delivery_point=Point(121.445, 31.224, srid=4326),
        eta_at=timezone.now() + timedelta(minutes=35),
    )


def test_the_table_names_only_real_states() -> None:
    assert set(TRANSITIONS) == set(ALL)
    assert all(to in ALL for targets in TRANSITIONS.values() for to in targets)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [p for p in PAIRS if can_transition(*p)])
def test_allowed_move_succeeds_stamps_and_records(
    diner: User, store: Store, owner: User, from_status: str, to_status: str
) -> None:
    order = _order(diner, store, from_status)

    result = order_transition(order_id=order.pk, to=to_status, actor=owner, actor_role="store", reason="test")

    assert result.changed
    assert result.order.status == to_status
    assert result.order.version == 2
    if to_status in STAMPS:
        assert getattr(result.order, STAMPS[to_status]) is not None
    # The order handed back (updated in memory, not read back) is the row as stored.
    stored = Order.objects.get(pk=order.pk)
    fields = [f.attname for f in Order._meta.concrete_fields]
    assert [getattr(result.order, f) for f in fields] == [getattr(stored, f) for f in fields]
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status, event.actor, event.actor_role, event.reason) == (
        from_status,
        to_status,
        owner,
        "store",
        "test",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [p for p in PAIRS if not can_transition(*p)])
def test_forbidden_move_is_refused_and_changes_nothing(
    diner: User, store: Store, from_status: str, to_status: str
) -> None:
    order = _order(diner, store, from_status)

    with pytest.raises(TransitionRefused) as refused:
        order_transition(order_id=order.pk, to=to_status, actor=None, actor_role="system")

    assert refused.value.code == "order_state_conflict"
    order.refresh_from_db()
    assert (order.status, order.version) == (from_status, 1)
    assert not OrderEvent.objects.filter(order=order).exists()


@pytest.mark.django_db
def test_repeating_a_move_is_a_no_op(diner: User, store: Store) -> None:
    order = _order(diner, store, S.PAID)
    order_transition(order_id=order.pk, to=S.ACCEPTED, actor=None, actor_role="store")

    again = order_transition(order_id=order.pk, to=S.ACCEPTED, actor=None, actor_role="store")

    assert not again.changed
    assert OrderEvent.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_a_stale_board_cannot_accept_a_cancelled_order(diner: User, store: Store) -> None:
    order = _order(diner, store, S.PAID)
    order_transition(order_id=order.pk, to=S.CANCELLED, actor=diner, actor_role="diner")

    with pytest.raises(TransitionRefused):
        order_transition(order_id=order.pk, to=S.ACCEPTED, actor=None, actor_role="store")


@pytest.mark.django_db
def test_expected_from_narrows_the_sources(diner: User, store: Store) -> None:
    order = _order(diner, store, S.ACCEPTED)
    with pytest.raises(TransitionRefused):
        order_transition(
            order_id=order.pk, to=S.CANCELLED, actor=diner, actor_role="diner", expected_from=frozenset({S.PLACED})
        )


@pytest.mark.django_db(transaction=True)
def test_racing_accept_and_reject_have_exactly_one_winner(diner: User, store: Store) -> None:
    """Two boards answering one paid order, one accepting and one rejecting: neither move is
    allowed after the other, so exactly one wins and the other is refused."""
    order = _order(diner, store, S.PAID)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def move(to: str) -> None:
        barrier.wait()
        try:
            order_transition(order_id=order.pk, to=to, actor=None, actor_role="test")
            outcomes[to] = "won"
        except TransitionRefused:
            outcomes[to] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(to,)) for to in (S.ACCEPTED, S.REJECTED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["refused", "won"]
    order.refresh_from_db()
    winner = next(to for to, outcome in outcomes.items() if outcome == "won")
    assert order.status == winner
    assert OrderEvent.objects.filter(order=order).count() == 1
