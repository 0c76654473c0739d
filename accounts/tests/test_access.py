"""access_*: each grants its own people and refuses the outsider."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import Point

from accounts.access import (
    access_courier,
    access_diner,
    access_operator,
    access_regulator_at,
    access_regulator_store,
    access_store,
    user_roles,
)
from accounts.models import Role, User
from delivery.models import Store, StoreMembership
from delivery.tests.factories import StoreFactory, StoreMembershipFactory
from dispatch.models import Courier
from dispatch.tests.factories import CourierFactory

pytestmark = pytest.mark.django_db


def test_store_staff_act_on_their_store(owner: User, store: Store) -> None:
    assert access_store(owner, store)


def test_staff_of_another_store_are_refused(store: Store) -> None:
    other = StoreMembershipFactory(store=StoreFactory()).user
    assert not access_store(other, store)


def test_outsider_and_anonymous_are_refused_a_store(outsider: User, store: Store) -> None:
    assert not access_store(outsider, store)
    assert not access_store(AnonymousUser(), store)


def test_inactive_owner_is_refused(owner: User, store: Store) -> None:
    owner.is_active = False
    owner.save()
    assert not access_store(owner, store)


def test_plain_staff_cannot_manage(store: Store) -> None:
    staff = StoreMembershipFactory(store=store, role=StoreMembership.Role.STAFF).user
    assert access_store(staff, store)
    assert not access_store(staff, store, roles={StoreMembership.Role.OWNER, StoreMembership.Role.MANAGER})


def test_courier_acts_only_as_themself(courier: Courier, outsider: User) -> None:
    other: Courier = CourierFactory()
    assert access_courier(courier.user, courier)
    assert not access_courier(courier.user, other)
    assert not access_courier(outsider, courier)


def test_regulator_acts_only_inside_their_district(regulator: User, store: Store) -> None:
    assert access_regulator_at(regulator, Point(121.45, 31.23, srid=4326))
    assert access_regulator_store(regulator, store)
    assert not access_regulator_at(regulator, Point(121.60, 31.30, srid=4326))


def test_outsider_is_no_regulator(outsider: User) -> None:
    assert not access_regulator_at(outsider, Point(121.45, 31.23, srid=4326))


def test_operator_is_staff(operator: User, outsider: User) -> None:
    assert access_operator(operator)
    assert not access_operator(outsider)
    assert not access_operator(AnonymousUser())


def test_diner(diner: User, outsider: User) -> None:
    assert access_diner(diner)
    assert not access_diner(outsider)


def test_user_roles(diner: User, owner: User, courier: Courier, regulator: User, operator: User) -> None:
    assert user_roles(diner) == {Role.DINER}
    assert user_roles(owner) == {Role.STORE_STAFF}
    assert user_roles(courier.user) == {Role.COURIER}
    assert user_roles(regulator) == {Role.REGULATOR}
    assert user_roles(operator) == {Role.OPERATOR}
    assert user_roles(AnonymousUser()) == set()


def test_user_roles_is_one_query(diner: User, django_assert_num_queries: object) -> None:
    StoreMembershipFactory(user=diner)  # a diner who also works at a store
    with django_assert_num_queries(1):  # type: ignore[operator]
        roles = user_roles(diner)
    assert roles == {Role.DINER, Role.STORE_STAFF}
