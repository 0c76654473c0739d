"""delivery.coupons: each refusal code refused and allowed (pure), then the facts read from the database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point

from accounts.models import User
from delivery.coupons import COUPON_MESSAGES, CouponFacts, coupon_facts_for, coupon_refusal, coupon_terms
from delivery.models import Coupon, CouponRedemption, Order, Store
from delivery.pricing import CouponTerms

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STORE_ID = 7
OTHER_STORE_ID = 8


def facts(**overrides: Any) -> CouponFacts:
    """A coupon this diner may use right now at STORE_ID; each test breaks one rule."""
    fields: dict[str, Any] = {
        "kind": Coupon.Kind.SPEND_SAVE,
        "store_id": None,
        "active": True,
        "valid_from": NOW - timedelta(days=7),
        "valid_to": NOW + timedelta(days=7),
        "per_diner_limit": 1,
        "total_limit": None,
        "uses_by_diner": 0,
        "uses_total": 0,
        "diner_has_prior_orders": False,
    }
    fields.update(overrides)
    return CouponFacts(**fields)


def refusal(given: CouponFacts, *, store_id: int = STORE_ID, now: datetime = NOW) -> str | None:
    return coupon_refusal(given, store_id=store_id, now=now)


# --- coupon_refusal: allowed -----------------------------------------------------------------


def test_usable_platform_coupon_is_not_refused():
    assert refusal(facts()) is None


def test_new_diner_coupon_is_allowed_on_a_first_order():
    assert refusal(facts(kind=Coupon.Kind.NEW_DINER, diner_has_prior_orders=False)) is None


# --- coupon_refusal: one rule at a time ------------------------------------------------------


def test_inactive_coupon_is_refused():
    assert refusal(facts(active=False)) == "coupon_inactive"


def test_coupon_before_its_start_is_refused():
    assert refusal(facts(valid_from=NOW + timedelta(seconds=1))) == "coupon_not_started"


def test_coupon_is_usable_from_the_instant_it_starts():
    assert refusal(facts(valid_from=NOW)) is None


def test_coupon_at_its_end_is_expired():
    # The window is half-open: valid_to itself is already too late
    assert refusal(facts(valid_to=NOW)) == "coupon_expired"


def test_coupon_after_its_end_is_expired():
    assert refusal(facts(valid_to=NOW - timedelta(days=1))) == "coupon_expired"


def test_coupon_is_usable_until_just_before_its_end():
    assert refusal(facts(valid_to=NOW + timedelta(microseconds=1))) is None


def test_window_compares_instants_not_wall_clocks():
    # Given a coupon ending at 12:00 UTC (20:00 in Shanghai), When used at 19:59 Shanghai time
    just_before = datetime(2026, 3, 1, 19, 59, tzinfo=ZoneInfo("Asia/Shanghai"))

    # Then it is still valid, though 19:59 > 12:00 on a wall clock
    assert refusal(facts(valid_to=datetime(2026, 3, 1, 12, 0, tzinfo=UTC)), now=just_before) is None


def test_naive_now_is_a_bug_not_a_refusal():
    with pytest.raises(TypeError):
        refusal(facts(), now=NOW.replace(tzinfo=None))


def test_store_coupon_at_another_store_is_refused():
    assert refusal(facts(store_id=OTHER_STORE_ID), store_id=STORE_ID) == "coupon_wrong_store"


def test_store_coupon_at_its_own_store_is_allowed():
    assert refusal(facts(store_id=STORE_ID), store_id=STORE_ID) is None


@pytest.mark.parametrize("store_id", [STORE_ID, OTHER_STORE_ID])
def test_platform_coupon_is_allowed_at_any_store(store_id):
    assert refusal(facts(store_id=None), store_id=store_id) is None


@pytest.mark.parametrize(("limit", "uses"), [(1, 1), (3, 3), (3, 4), (0, 0)])
def test_coupon_used_up_by_this_diner_is_refused(limit, uses):
    assert refusal(facts(per_diner_limit=limit, uses_by_diner=uses)) == "coupon_used_up"


def test_coupon_with_uses_left_for_this_diner_is_allowed():
    assert refusal(facts(per_diner_limit=3, uses_by_diner=2, uses_total=50)) is None


@pytest.mark.parametrize(("limit", "uses"), [(100, 100), (100, 101)])
def test_coupon_whose_total_limit_is_reached_is_exhausted(limit, uses):
    assert refusal(facts(total_limit=limit, uses_total=uses)) == "coupon_exhausted"


def test_coupon_below_its_total_limit_is_allowed():
    assert refusal(facts(total_limit=100, uses_total=99)) is None


def test_coupon_without_total_limit_is_never_exhausted():
    assert refusal(facts(total_limit=None, uses_total=10**9)) is None


def test_new_diner_coupon_is_refused_after_a_paid_order():
    assert refusal(facts(kind=Coupon.Kind.NEW_DINER, diner_has_prior_orders=True)) == "coupon_new_diners_only"


def test_spend_save_coupon_does_not_care_about_prior_orders():
    assert refusal(facts(kind=Coupon.Kind.SPEND_SAVE, diner_has_prior_orders=True)) is None


# --- coupon_refusal: precedence and messages -------------------------------------------------

# Every rule broken at once; fixing them one by one, in order, walks through every code.
ALL_BROKEN = facts(
    kind=Coupon.Kind.NEW_DINER,
    store_id=OTHER_STORE_ID,
    active=False,
    valid_from=NOW + timedelta(days=1),
    valid_to=NOW + timedelta(days=2),
    uses_by_diner=1,
    total_limit=5,
    uses_total=5,
    diner_has_prior_orders=True,
)
FIXES: list[tuple[str, dict[str, Any]]] = [
    ("coupon_inactive", {"active": True}),
    ("coupon_not_started", {"valid_from": NOW - timedelta(days=2), "valid_to": NOW - timedelta(days=1)}),
    ("coupon_expired", {"valid_to": NOW + timedelta(days=1)}),
    ("coupon_wrong_store", {"store_id": STORE_ID}),
    ("coupon_used_up", {"uses_by_diner": 0}),
    ("coupon_exhausted", {"total_limit": None}),
    ("coupon_new_diners_only", {"diner_has_prior_orders": False}),
]


def test_first_broken_rule_decides_in_a_fixed_order():
    # Given a coupon breaking every rule
    given = ALL_BROKEN
    seen = []

    # When each rule is fixed in turn
    for _code, fix in FIXES:
        seen.append(refusal(given))
        given = dataclasses.replace(given, **fix)

    # Then each code came up in order, and with all fixed the coupon is usable
    assert seen == [code for code, _ in FIXES]
    assert refusal(given) is None


def test_every_refusal_code_has_a_message():
    assert set(COUPON_MESSAGES) == {code for code, _ in FIXES}
    assert all(message.strip() for message in COUPON_MESSAGES.values())


def test_coupon_terms_carry_what_pricing_needs():
    coupon = Coupon(code="MAN30", threshold_cents=3000, discount_cents=500, funded_by=Coupon.FundedBy.STORE)

    assert coupon_terms(coupon) == CouponTerms(
        code="MAN30", threshold_cents=3000, discount_cents=500, funded_by="store"
    )


# --- coupon_facts_for, against the database ---------------------------------------------------

_numbers = count(1)


def make_store(name: str = "老王面馆") -> Store:
    return Store.objects.create(name_zh=name, address="上海市南京西路1号", location=Point(121.45, 31.23, srid=4326))


def make_diner(username: str) -> User:
    return User.objects.create(username=username)


def make_coupon(**overrides: Any) -> Coupon:
    fields: dict[str, Any] = {
        "code": f"C{next(_numbers)}",
        "kind": Coupon.Kind.SPEND_SAVE,
        "funded_by": Coupon.FundedBy.PLATFORM,
        "threshold_cents": 3000,
        "discount_cents": 500,
        "valid_from": NOW - timedelta(days=7),
        "valid_to": NOW + timedelta(days=7),
    }
    fields.update(overrides)
    return Coupon.objects.create(**fields)


def make_order(*, diner: User, store: Store, paid: bool, coupon: Coupon | None = None, **extra: Any) -> Order:
    discount = 0 if coupon is None else coupon.discount_cents
    return Order.objects.create(
        number=f"T{next(_numbers):08d}",
        diner=diner,
        store=store,
        subtotal_cents=3000,
        packaging_cents=100,
        delivery_fee_cents=500,
        discount_cents=discount,
        discount_platform_cents=discount,
        total_cents=3000 + 100 + 500 - discount,
        coupon=coupon,
        delivery_address="上海市静安区愚园路2号",
        delivery_point=Point(121.44, 31.22, srid=4326),
        eta_at=NOW + timedelta(minutes=40),
        paid_at=NOW if paid else None,
        **extra,
    )


def redeem(coupon: Coupon, *, diner: User, store: Store) -> CouponRedemption:
    order = make_order(diner=diner, store=store, paid=True, coupon=coupon)
    return CouponRedemption.objects.create(coupon=coupon, diner=diner, order=order)


def test_facts_copy_the_coupon_and_see_a_fresh_diner(db, django_assert_num_queries):
    # Given a store coupon nobody has used, and a diner who never ordered
    store = make_store()
    coupon = make_coupon(
        kind=Coupon.Kind.NEW_DINER, store=store, funded_by="store", per_diner_limit=2, total_limit=1000
    )
    diner = make_diner("diner-wang")

    # When its facts are read (in two queries)
    with django_assert_num_queries(2):
        got = coupon_facts_for(coupon=coupon, diner_id=diner.pk)

    # Then they mirror the coupon and show no uses and no prior orders
    assert got == CouponFacts(
        kind="new_diner",
        store_id=store.pk,
        active=True,
        valid_from=coupon.valid_from,
        valid_to=coupon.valid_to,
        per_diner_limit=2,
        total_limit=1000,
        uses_by_diner=0,
        uses_total=0,
        diner_has_prior_orders=False,
    )


def test_facts_count_this_diners_uses_and_everyones(db):
    # Given diner Wang redeemed the coupon twice, diner Li once, and Wang another coupon once
    store = make_store()
    coupon, other_coupon = make_coupon(per_diner_limit=5), make_coupon()
    wang, li = make_diner("diner-wang"), make_diner("diner-li")
    redeem(coupon, diner=wang, store=store)
    redeem(coupon, diner=wang, store=store)
    redeem(coupon, diner=li, store=store)
    redeem(other_coupon, diner=wang, store=store)

    # When Wang's and Li's facts are read
    wang_facts = coupon_facts_for(coupon=coupon, diner_id=wang.pk)
    li_facts = coupon_facts_for(coupon=coupon, diner_id=li.pk)

    # Then each sees their own uses and the same total, other coupons not counted
    assert (wang_facts.uses_by_diner, wang_facts.uses_total) == (2, 3)
    assert (li_facts.uses_by_diner, li_facts.uses_total) == (1, 3)


@pytest.mark.parametrize("ended", [Order.Status.CANCELLED, Order.Status.REJECTED])
def test_a_cancelled_or_rejected_order_gives_its_coupon_back(db, ended):
    # Given a first order with a new-diner coupon, which the store then rejected (or was cancelled)
    store, diner = make_store(), make_diner("diner-wang")
    coupon = make_coupon(kind=Coupon.Kind.NEW_DINER)
    redemption = redeem(coupon, diner=diner, store=store)
    Order.objects.filter(pk=redemption.order_id).update(status=ended)

    got = coupon_facts_for(coupon=coupon, diner_id=diner.pk)

    # Then the use no longer counts, the diner is still new, and the coupon is usable again
    assert (got.uses_by_diner, got.uses_total, got.diner_has_prior_orders) == (0, 0, False)
    assert coupon_refusal(got, store_id=store.pk, now=NOW) is None
    # and the redemption stays as the record of what the order was priced with
    assert CouponRedemption.objects.filter(pk=redemption.pk).exists()


@pytest.mark.parametrize("later", [Order.Status.DELIVERED, Order.Status.REFUNDED, Order.Status.ACCEPTED])
def test_a_served_or_refunded_order_keeps_its_coupon_used(db, later):
    store, diner = make_store(), make_diner("diner-wang")
    coupon = make_coupon()
    redemption = redeem(coupon, diner=diner, store=store)
    Order.objects.filter(pk=redemption.order_id).update(status=later)

    got = coupon_facts_for(coupon=coupon, diner_id=diner.pk)

    assert (got.uses_by_diner, got.uses_total) == (1, 1)


def test_facts_see_a_paid_order_as_a_prior_order(db):
    store, diner = make_store(), make_diner("diner-wang")
    make_order(diner=diner, store=store, paid=True, status=Order.Status.DELIVERED)

    got = coupon_facts_for(coupon=make_coupon(kind=Coupon.Kind.NEW_DINER), diner_id=diner.pk)

    assert got.diner_has_prior_orders is True


def test_facts_ignore_orders_never_paid(db):
    # Given an order placed and one cancelled before payment
    store, diner = make_store(), make_diner("diner-wang")
    make_order(diner=diner, store=store, paid=False)
    make_order(diner=diner, store=store, paid=False, status=Order.Status.CANCELLED, cancelled_at=NOW)

    got = coupon_facts_for(coupon=make_coupon(kind=Coupon.Kind.NEW_DINER), diner_id=diner.pk)

    assert got.diner_has_prior_orders is False


def test_facts_count_a_paid_order_at_any_store_in_any_later_status(db):
    # Given a paid order at another store that was refunded in full
    home, elsewhere, diner = make_store(), make_store("小李饺子"), make_diner("diner-wang")
    make_order(diner=diner, store=elsewhere, paid=True, status=Order.Status.REFUNDED, refunded_at=NOW)

    got = coupon_facts_for(coupon=make_coupon(kind=Coupon.Kind.NEW_DINER, store=home), diner_id=diner.pk)

    assert got.diner_has_prior_orders is True


def test_facts_ignore_other_diners_orders_and_uses(db):
    store, wang, li = make_store(), make_diner("diner-wang"), make_diner("diner-li")
    coupon = make_coupon(kind=Coupon.Kind.NEW_DINER)
    redeem(coupon, diner=li, store=store)

    got = coupon_facts_for(coupon=coupon, diner_id=wang.pk)

    assert (got.diner_has_prior_orders, got.uses_by_diner, got.uses_total) == (False, 0, 1)


def test_new_diner_coupon_end_to_end_is_refused_after_its_use(db):
    # Given a new-diner coupon that Wang has used on his first order
    store, wang = make_store(), make_diner("diner-wang")
    coupon = make_coupon(kind=Coupon.Kind.NEW_DINER, total_limit=1000)
    assert coupon_refusal(coupon_facts_for(coupon=coupon, diner_id=wang.pk), store_id=store.pk, now=NOW) is None
    redeem(coupon, diner=wang, store=store)

    # When he tries it again
    code = coupon_refusal(coupon_facts_for(coupon=coupon, diner_id=wang.pk), store_id=store.pk, now=NOW)

    # Then his one use is spent
    assert code == "coupon_used_up"
