"""A store goes live only through an operator's admission, and only when nothing blocks it."""

from __future__ import annotations

import pytest

from accounts.models import User
from delivery.models import Store
from delivery.services import stores
from delivery.services.stores import StoreRefused, store_admit, store_send_back, store_submit_for_review
from delivery.tests.factories import StoreFactory, StoreMembershipFactory, build_menu_store

pytestmark = pytest.mark.django_db
S = Store.Status


@pytest.fixture(autouse=True)
def _marketplace_checks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the marketplace's own checks; the compliance app registers its
    licence checks into ADMISSION_CHECKS and tests them in compliance/tests."""
    monkeypatch.setattr(stores, "ADMISSION_CHECKS", [])


def test_owner_submits_and_operator_admits(operator: User) -> None:
    store = build_menu_store(status=S.DRAFT).store
    owner = StoreMembershipFactory(store=store).user

    store_submit_for_review(user=owner, store=store)
    store_admit(operator=operator, store=store)

    store.refresh_from_db()
    assert store.status == S.LIVE


def test_nobody_but_an_operator_admits(owner: User, outsider: User, diner: User) -> None:
    store = build_menu_store(status=S.PENDING_REVIEW).store
    StoreMembershipFactory(store=store, user=owner)
    for user in (owner, outsider, diner):
        with pytest.raises(StoreRefused):
            store_admit(operator=user, store=store)
    store.refresh_from_db()
    assert store.status == S.PENDING_REVIEW


def test_an_incomplete_store_is_blocked_with_reasons(operator: User) -> None:
    store: Store = StoreFactory(status=S.PENDING_REVIEW)
    with pytest.raises(StoreRefused) as refused:
        store_admit(operator=operator, store=store)
    assert refused.value.code == "admission_blocked"
    assert len(refused.value.reasons) == 4


def test_registered_checks_block_admission(operator: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seam the compliance issue uses for its licence checks."""
    store = build_menu_store(status=S.PENDING_REVIEW).store
    monkeypatch.setattr(stores, "ADMISSION_CHECKS", [lambda s: ["The food-business licence is not verified."]])
    with pytest.raises(StoreRefused) as refused:
        store_admit(operator=operator, store=store)
    assert refused.value.reasons == ["The food-business licence is not verified."]


def test_only_a_store_under_review_is_admitted_or_sent_back(operator: User) -> None:
    for status in (S.DRAFT, S.LIVE, S.SUSPENDED, S.CLOSED):
        store = build_menu_store(status=status).store
        with pytest.raises(StoreRefused):
            store_admit(operator=operator, store=store)
        with pytest.raises(StoreRefused):
            store_send_back(operator=operator, store=store)


def test_submit_needs_a_manager_of_that_store(outsider: User) -> None:
    store = build_menu_store(status=S.DRAFT).store
    staff = StoreMembershipFactory(store=store, role="staff").user
    for user in (outsider, staff):
        with pytest.raises(StoreRefused):
            store_submit_for_review(user=user, store=store)
