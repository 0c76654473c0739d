"""Access predicates: the few functions that answer "may this user act on this object?".

Every view, API and consumer asks one of these; each has a test in which an outsider is refused.
They only read, never raise, and treat an anonymous or inactive user as nobody.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import Point
from django.db.models import Exists, OuterRef

from accounts.models import DinerProfile, RegulatorProfile, Role, User
from delivery.models import Order, Store, StoreMembership
from dispatch.models import Courier

AnyUser = User | AnonymousUser

STORE_ROLES_ALL = frozenset(StoreMembership.Role.values)
STORE_ROLES_MANAGE = frozenset({StoreMembership.Role.OWNER, StoreMembership.Role.MANAGER})


def _active(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def _active_id(user: AnyUser) -> int | None:
    """The id of an active, signed-in user; None for anybody else."""
    return user.pk if _active(user) else None


def access_operator(user: AnyUser) -> bool:
    """Platform operators are the active staff accounts (they also reach Django's admin)."""
    return _active(user) and bool(user.is_staff)


def access_diner(user: AnyUser) -> bool:
    uid = _active_id(user)
    return uid is not None and DinerProfile.objects.filter(user_id=uid).exists()


def access_store(user: AnyUser, store: Store, *, roles: Iterable[str] = STORE_ROLES_ALL) -> bool:
    """The user works at this store with one of `roles`."""
    uid = _active_id(user)
    if uid is None:
        return False
    return StoreMembership.objects.filter(user_id=uid, store_id=store.pk, role__in=list(roles)).exists()


def access_order(user: AnyUser, order: Order) -> bool:
    """The order's diner, the staff of its store, and operators may see it."""
    uid = _active_id(user)
    if uid is None:
        return False
    return order.diner_id == uid or access_store(user, order.store) or access_operator(user)


def access_order_tracking(user: AnyUser, order: Order) -> bool:
    """Only the order's own diner sees where its courier is (not the store, not other diners)."""
    uid = _active_id(user)
    return uid is not None and order.diner_id == uid


def access_courier(user: AnyUser, courier: Courier) -> bool:
    """Only the courier's own account acts as that courier."""
    return _active(user) and courier.user_id == user.pk


def access_regulator_at(user: AnyUser, point: Point) -> bool:
    """The user regulates the district that covers this point."""
    uid = _active_id(user)
    if uid is None:
        return False
    return RegulatorProfile.objects.filter(user_id=uid, district__covers=point).exists()


def access_regulator_store(user: AnyUser, store: Store) -> bool:
    return access_regulator_at(user, store.location)


def user_roles(user: AnyUser) -> set[Role]:
    """Every role the user holds now (for navigation; never a substitute for access_*).

    One query: every page of the web app asks this through the context processor."""
    uid = _active_id(user)
    if uid is None:
        return set()
    flags = (
        User.objects.filter(pk=uid)
        .annotate(
            is_diner=Exists(DinerProfile.objects.filter(user_id=OuterRef("pk"))),
            is_store_staff=Exists(StoreMembership.objects.filter(user_id=OuterRef("pk"))),
            is_courier=Exists(Courier.objects.filter(user_id=OuterRef("pk"))),
            is_regulator=Exists(RegulatorProfile.objects.filter(user_id=OuterRef("pk"))),
        )
        .values("is_diner", "is_store_staff", "is_courier", "is_regulator", "is_staff")
        .first()
    )
    if flags is None:
        return set()
    held = {
        Role.DINER: flags["is_diner"],
        Role.STORE_STAFF: flags["is_store_staff"],
        Role.COURIER: flags["is_courier"],
        Role.REGULATOR: flags["is_regulator"],
        Role.OPERATOR: flags["is_staff"],
    }
    return {role for role, has in held.items() if has}
