"""Helpers for the cases tests: a store with a real menu, a regulator of another district, a flag,
and orders in the states a sanction must deal with."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import RegulatorFactory, square
from compliance.models import Flag, LegalEntity, Licence, StoreRegistration
from delivery.models import Order, Payment, Store
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from delivery.transitions import order_transition


@pytest.fixture
def menu(db: None) -> MenuStore:
    return build_menu_store()


@pytest.fixture
def shop(menu: MenuStore) -> Store:
    """The menu store with an entity and licences, as the compliance import leaves it."""
    entity = LegalEntity.objects.create(
        name="上海黑厨房餐饮有限公司",
        uscc="91310106MA1FL2XQ0X",
        legal_rep_name="张三",
        legal_rep_id_hash="a" * 64,
        legal_rep_id_masked="3101**********1234",
        registered_address="上海市静安区南京西路1号",
    )
    StoreRegistration.objects.create(store=menu.store, entity=entity)
    Licence.objects.create(kind=Licence.Kind.BUSINESS, number=entity.uscc, entity=entity)
    Licence.objects.create(kind=Licence.Kind.FOOD_BUSINESS, number="JY23101060012345", store=menu.store)
    return menu.store


@pytest.fixture
def shop_owner(shop: Store) -> User:
    user: User = StoreMembershipFactory(store=shop, user__username="owner-shop").user
    return user


@pytest.fixture
def far_regulator(db: None) -> User:
    """A regulator of a district that does not cover the test stores (Pudong, east of the river)."""
    user: User = RegulatorFactory(
        user__username="regulator-pudong", jurisdiction_name="Pudong", district=square(121.60, 31.22, 0.02)
    ).user
    return user


@pytest.fixture
def flag(shop: Store) -> Flag:
    now = timezone.now()
    flag: Flag = Flag.objects.create(
        code="LICENCE_SHARED",
        store=shop,
        severity=Flag.Severity.HIGH,
        evidence={"licence": "JY23101060012345", "stores": [{"id": shop.pk, "name": shop.name_zh}]},
        raised_at=now,
        evaluated_at=now,
    )
    return flag


def place_order(menu: MenuStore, diner: User, *, key: str, paid: bool) -> Order:
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(LineRequest(item_id=menu.noodles.pk, option_ids=(menu.regular.pk,), quantity=1),),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )
    order = order_place(diner=diner, request=request, idempotency_key=key).order
    if paid:
        Payment.objects.create(
            order=order,
            provider="sandbox",
            provider_ref=f"sbx_{order.pk}",
            amount_cents=order.total_cents,
            status=Payment.Status.SUCCEEDED,
        )
        order = order_transition(order_id=order.pk, to=Order.Status.PAID, actor=None, actor_role="test").order
    return order
