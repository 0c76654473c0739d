"""Sanctions take effect at once: discovery, unaccepted orders, the board, and their terms."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import Point

from accounts.models import User
from compliance.cases.tests.conftest import place_order
from compliance.models import Sanction
from compliance.services.sanctions import (
    SanctionRefused,
    sanction_credit_repair,
    sanction_impose,
    sanctions_in_force,
    store_unaccepted_orders_cancel,
)
from delivery.models import Order, Payment, Store
from delivery.selectors.discovery import stores_delivering_to
from delivery.tests.factories import MenuStore
from delivery.transitions import order_transition

pytestmark = pytest.mark.django_db
DROP_OFF = Point(121.441, 31.238, srid=4326)


def _listed(store: Store) -> bool:
    return store.pk in {card.store.pk for card in stores_delivering_to(DROP_OFF)}


@pytest.mark.parametrize("kind, status", [("suspension", Store.Status.SUSPENDED), ("delisting", Store.Status.CLOSED)])
def test_a_suspended_or_delisted_store_leaves_discovery_and_its_unaccepted_orders_are_refunded(
    menu: MenuStore,
    shop: Store,
    regulator: User,
    diner: User,
    kind: str,
    status: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    placed = place_order(menu, diner, key="a", paid=False)
    paid = place_order(menu, diner, key="b", paid=True)
    accepted = place_order(menu, diner, key="c", paid=True)
    order_transition(order_id=accepted.pk, to=Order.Status.ACCEPTED, actor=None, actor_role="test")
    assert _listed(shop)

    with django_capture_on_commit_callbacks(execute=False) as pushes:
        sanction = sanction_impose(regulator=regulator, store=shop, kind=kind, reason="Unlicensed kitchen")

    shop.refresh_from_db()
    assert shop.status == status and not _listed(shop)
    assert Order.objects.get(pk=placed.pk).status == Order.Status.CANCELLED
    assert Order.objects.get(pk=paid.pk).status == Order.Status.CANCELLED
    payment = Payment.objects.get(order=paid)
    assert payment.refunded_cents == payment.amount_cents
    # An accepted order is the store's to finish (or the platform's to handle): left alone.
    assert Order.objects.get(pk=accepted.pk).status == Order.Status.ACCEPTED
    assert Payment.objects.get(order=accepted).refunded_cents == 0
    # Snapshots of the identifiers that bind the record.
    assert sanction.bound_uscc == "91310106MA1FL2XQ0X"
    assert sanction.bound_legal_rep_id_hash == "a" * 64
    assert sanction.bound_licence_numbers == sorted(["91310106MA1FL2XQ0X", "JY23101060012345"])
    assert shop.name_zh in sanction.bound_names
    # The board hears why (pushed after commit).
    assert pushes, "the store's board is told"
    # A rerun cancels nothing more and refunds nothing twice.
    assert store_unaccepted_orders_cancel(store_id=shop.pk, reason="again", actor=None) == 0
    assert Payment.objects.get(order=paid).refunded_cents == payment.amount_cents


def test_a_warning_leaves_the_store_listed(menu: MenuStore, shop: Store, regulator: User, diner: User) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    sanction_impose(regulator=regulator, store=shop, kind="warning", reason="Dirty floor")
    assert _listed(shop) and Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_a_regulator_of_another_district_cannot_sanction(shop: Store, far_regulator: User, outsider: User) -> None:
    for user in (far_regulator, outsider):
        with pytest.raises(SanctionRefused) as refused:
            sanction_impose(regulator=user, store=shop, kind="suspension", reason="x")
        assert refused.value.status == 404
    shop.refresh_from_db()
    assert shop.status == Store.Status.LIVE and not Sanction.objects.exists()


def test_a_dishonest_listing_lasts_three_years_and_repair_waits_one(shop: Store, regulator: User) -> None:
    decided = date(2026, 3, 1)
    sanction = sanction_impose(regulator=regulator, store=shop, kind="dishonest_list", reason="Fraud", today=decided)
    assert sanction.effective_until == date(2029, 3, 1)
    assert sanctions_in_force(today=date(2029, 2, 28)).filter(pk=sanction.pk).exists()
    assert not sanctions_in_force(today=date(2029, 3, 2)).filter(pk=sanction.pk).exists()
    with pytest.raises(SanctionRefused) as early:
        sanction_credit_repair(regulator=regulator, sanction=sanction, reason="Rectified", today=date(2027, 2, 28))
    assert early.value.code == "repair_too_early"
    sanction_credit_repair(regulator=regulator, sanction=sanction, reason="Rectified", today=date(2027, 3, 1))
    sanction.refresh_from_db()
    assert sanction.lifted_on == date(2027, 3, 1)
    assert not sanctions_in_force(today=date(2027, 3, 2)).filter(pk=sanction.pk).exists()


def test_credit_repair_is_for_dishonest_listings_only(shop: Store, regulator: User) -> None:
    sanction = sanction_impose(regulator=regulator, store=shop, kind="suspension", reason="x")
    with pytest.raises(SanctionRefused) as refused:
        sanction_credit_repair(
            regulator=regulator, sanction=sanction, reason="r", today=sanction.decided_on + timedelta(days=800)
        )
    assert refused.value.code == "not_repairable"


def test_a_dishonest_listing_cannot_be_lifted_but_by_repair_or_appeal(shop: Store, regulator: User) -> None:
    from compliance.services.sanctions import sanction_lift

    sanction = sanction_impose(regulator=regulator, store=shop, kind="dishonest_list", reason="Fraud")
    with pytest.raises(SanctionRefused) as refused:
        sanction_lift(regulator=regulator, sanction=sanction, reason="r")
    assert refused.value.code == "use_credit_repair"
    sanction_lift(regulator=regulator, sanction=sanction, reason="Appeal won", overturned=True)
    sanction.refresh_from_db()
    assert sanction.lifted_on is not None


def test_credit_repair_from_the_case_is_audited_and_waits_a_year(
    regulator: User, flag: Any, shop_owner: User, far_regulator: User
) -> None:
    from compliance.cases.services import (
        CaseRefused,
        case_audit_verify,
        case_decide,
        case_defence_file,
        case_notice_send,
        case_open_from_flag,
        case_review,
        case_sanction_lift,
        case_triage,
    )

    case = case_open_from_flag(regulator=regulator, flag=flag)
    case_triage(regulator=regulator, case=case)
    case_review(regulator=regulator, case=case)
    case_notice_send(regulator=regulator, case=case, text="n")
    case_defence_file(user=shop_owner, case=case, text="d")
    case_decide(regulator=regulator, case=case, decision="dishonest_list", reason="Serious fraud")
    assert case.sanction is not None
    decided = case.sanction.decided_on
    with pytest.raises(SanctionRefused):
        case_sanction_lift(regulator=regulator, case=case, reason="Reformed", today=decided + timedelta(days=300))
    with pytest.raises(CaseRefused):
        case_sanction_lift(regulator=far_regulator, case=case, reason="x", today=decided + timedelta(days=400))
    case_sanction_lift(regulator=regulator, case=case, reason="Reformed", today=decided + timedelta(days=366))
    assert case.sanction is not None and case.sanction.lifted_on == decided + timedelta(days=366)
    assert case.events.order_by("-seq").first().action == "credit_repair"  # type: ignore[union-attr]
    assert case_audit_verify(case) is None


def test_the_sweep_refunds_a_payment_that_arrived_after_the_suspension(
    menu: MenuStore, shop: Store, regulator: User, diner: User
) -> None:
    from compliance.cases.tasks import sanctioned_stores_orders_settle

    order = place_order(menu, diner, key="late", paid=False)
    sanction_impose(regulator=regulator, store=shop, kind="suspension", reason="Rats")
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    # The diner's payment succeeds at the provider after the order was cancelled.
    Payment.objects.create(
        order=order,
        provider="sandbox",
        provider_ref=f"sbx_late_{order.pk}",
        amount_cents=order.total_cents,
        status=Payment.Status.SUCCEEDED,
    )
    assert sanctioned_stores_orders_settle.apply().get() == 0  # nothing to cancel; one refund
    payment = Payment.objects.get(order=order)
    assert payment.refunded_cents == payment.amount_cents
    sanctioned_stores_orders_settle.apply().get()
    assert Payment.objects.get(order=order).refunded_cents == payment.amount_cents  # not twice


def test_a_provider_outage_does_not_undo_the_sanction(
    menu: MenuStore, shop: Store, regulator: User, diner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.services import sanctions

    paid = place_order(menu, diner, key="p", paid=True)

    def outage(**kwargs: Any) -> None:
        raise ConnectionError("provider down")

    monkeypatch.setattr(sanctions, "refund_issue", outage)
    sanction_impose(regulator=regulator, store=shop, kind="suspension", reason="Rats")
    shop.refresh_from_db()
    assert shop.status == Store.Status.SUSPENDED and Order.objects.get(pk=paid.pk).status == Order.Status.CANCELLED
    monkeypatch.undo()
    sanctions.sanctioned_stores_orders_settle()
    payment = Payment.objects.get(order=paid)
    assert payment.refunded_cents == payment.amount_cents


@pytest.mark.parametrize("bound_by", ["credit_code", "legal_rep", "licence", "nothing"])
def test_a_sanction_follows_the_merchant_by_each_identifier(shop: Store, regulator: User, bound_by: str) -> None:
    from compliance.cases.selectors import sanction_history_for, sanctions_elsewhere
    from compliance.models import LegalEntity, Licence, StoreRegistration
    from delivery.tests.factories import StoreFactory

    sanction = sanction_impose(regulator=regulator, store=shop, kind="delisting", reason="Black workshop")
    reborn = StoreFactory(name_zh="新开小馆", address="上海市黄浦区某路2号")
    entity = LegalEntity.objects.create(
        name="新公司",
        uscc="91310106MA1FL2XQ0X" if bound_by == "credit_code" else "91310101MA1AAAAA0B",
        legal_rep_id_hash="a" * 64 if bound_by == "legal_rep" else "b" * 64,
    )
    StoreRegistration.objects.create(store=reborn, entity=entity)
    number = "JY23101060012345" if bound_by == "licence" else "JY23101010099999"
    Licence.objects.create(kind=Licence.Kind.FOOD_BUSINESS, number=number, store=reborn)
    found = [s.pk for s in sanctions_elsewhere(reborn)]
    assert found == ([] if bound_by == "nothing" else [sanction.pk])
    assert [s.pk for s in sanction_history_for(shop)] == [sanction.pk]
