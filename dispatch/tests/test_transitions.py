"""The courier and offer state machines: every allowed move succeeds and writes an event, every
other move is refused; a racing pair has exactly one winner."""

from __future__ import annotations

import pytest

from dispatch.models import Courier, CourierEvent, Offer, OfferEvent
from dispatch.tests.factories import CourierFactory
from dispatch.transitions import (
    COURIER_TRANSITIONS,
    OFFER_TRANSITIONS,
    TransitionRefused,
    can_courier_transition,
    can_offer_transition,
    courier_transition,
    offer_transition,
)

C_ALL = [s.value for s in Courier.State]
O_ALL = [s.value for s in Offer.Status]
C_PAIRS = [(a, b) for a in C_ALL for b in C_ALL]
O_PAIRS = [(a, b) for a in O_ALL for b in O_ALL if a != b]


def test_tables_name_only_real_states() -> None:
    assert set(COURIER_TRANSITIONS) == set(C_ALL)
    assert set(OFFER_TRANSITIONS) == set(O_ALL)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), [p for p in C_PAIRS if can_courier_transition(*p)])
def test_allowed_courier_move_succeeds_and_records(from_state: str, to_state: str) -> None:
    courier = CourierFactory(state=from_state)

    move = courier_transition(courier_id=courier.pk, to=to_state, actor=courier.user, reason="test")

    assert move.changed and move.courier.state == to_state and move.courier.version == 2
    event = CourierEvent.objects.get(courier=courier)
    assert (event.from_state, event.to_state, event.actor, event.reason) == (from_state, to_state, courier.user, "test")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("from_state", "to_state"), [p for p in C_PAIRS if not can_courier_transition(*p) and p[0] != p[1]]
)
def test_refused_courier_move_changes_nothing(from_state: str, to_state: str) -> None:
    courier = CourierFactory(state=from_state)

    with pytest.raises(TransitionRefused) as refused:
        courier_transition(courier_id=courier.pk, to=to_state, actor=None)

    assert refused.value.code == "courier_state_conflict"
    courier.refresh_from_db()
    assert courier.state == from_state and not CourierEvent.objects.exists()


@pytest.mark.django_db
def test_repeated_courier_move_is_an_idempotent_no_op() -> None:
    courier = CourierFactory(state=Courier.State.IDLE)

    move = courier_transition(courier_id=courier.pk, to=Courier.State.IDLE, actor=None)

    assert not move.changed and not CourierEvent.objects.exists()


@pytest.mark.django_db
def test_expected_from_narrows_the_sources() -> None:
    courier = CourierFactory(state=Courier.State.IDLE)

    with pytest.raises(TransitionRefused):
        courier_transition(
            courier_id=courier.pk, to=Courier.State.TO_STORE, actor=None, expected_from=frozenset({"offered"})
        )


def _offer(status: str) -> Offer:
    from datetime import timedelta

    from django.utils import timezone

    return Offer.objects.create(
        courier=CourierFactory(), status=status, expires_at=timezone.now() + timedelta(seconds=30)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [p for p in O_PAIRS if can_offer_transition(*p)])
def test_allowed_offer_move_succeeds_and_records(from_status: str, to_status: str) -> None:
    offer = _offer(from_status)

    moved = offer_transition(offer_id=offer.pk, to=to_status, actor=None, reason="r")

    assert moved.status == to_status and moved.responded_at is not None
    assert OfferEvent.objects.filter(offer=offer, from_status=from_status, to_status=to_status).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [p for p in O_PAIRS if not can_offer_transition(*p)])
def test_refused_offer_move_changes_nothing(from_status: str, to_status: str) -> None:
    offer = _offer(from_status)

    with pytest.raises(TransitionRefused) as refused:
        offer_transition(offer_id=offer.pk, to=to_status, actor=None)

    assert refused.value.code == "offer_closed"
    offer.refresh_from_db()
    assert offer.status == from_status and not OfferEvent.objects.exists()
