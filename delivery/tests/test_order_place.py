"""Placing an order: snapshot and totals, idempotency (including the race), every refusal, and the
API's access rules."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import DinerFactory
from delivery.api import OrderSerializer, order_representation
from delivery.models import (
    Coupon,
    HoursException,
    IdempotencyRecord,
    MenuItem,
    Option,
    OptionGroup,
    Order,
    OrderEvent,
    SetMeal,
    SetMealComponent,
    Store,
)
from delivery.selectors.discovery import delivery_quote_for
from delivery.services.orders import LineRequest, OrderRefused, PlaceRequest, order_place, resolve_lines
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store

# ~1.3 km north-west of the store at (121.45, 31.23): inside its zone, in the 3 km fee band.
DROP_LAT, DROP_LNG = 31.2380, 121.4410


@pytest.fixture
def menu(db: None) -> MenuStore:
    return build_menu_store()


def _request(menu: MenuStore, **overrides: Any) -> PlaceRequest:
    fields: dict[str, Any] = {
        "store_id": menu.store.pk,
        "lines": (
            LineRequest(item_id=menu.noodles.pk, option_ids=(menu.large.pk, menu.mild.pk), quantity=2),
            LineRequest(set_meal_id=menu.set_meal.pk),
        ),
        "delivery_address": "上海市静安区昌平路300号",
        "delivery_lat": DROP_LAT,
        "delivery_lng": DROP_LNG,
        "contact_name": "王先生",
        "contact_phone": "13812345678",
    }
    fields.update(overrides)
    return PlaceRequest(**fields)


def test_placement_snapshots_prices_and_promises_an_eta(diner: User, menu: MenuStore) -> None:
    result = order_place(diner=diner, request=_request(menu), idempotency_key="k1")

    order = result.order
    assert result.created
    assert order.status == Order.Status.PLACED
    # 2 × (1800 + 300 large) + 2800 set meal = 7000; packaging 200; 1.3 km -> the 3 km band, 600.
    assert (order.subtotal_cents, order.packaging_cents, order.delivery_fee_cents, order.total_cents) == (
        7000,
        200,
        600,
        7800,
    )
    lines = list(order.lines.all())
    assert [(line.name_en, line.unit_price_cents, line.quantity) for line in lines] == [
        ("Scallion oil noodles", 2100, 2),
        ("Noodles & tea", 2800, 1),
    ]
    assert [o["option_en"] for o in lines[0].options] == ["Large", "Mild"]
    assert [c["name_en"] for c in lines[1].components] == ["Scallion oil noodles", "Lemon tea"]
    assert order.contact_phone_masked == "138****5678"
    assert "12345678" not in order.contact_phone_hash
    assert order.number.startswith(timezone.localdate().strftime("%Y%m%d"))
    # Prep (15 min declared, no history) or the courier wait, whichever is longer, then the ride
    assert timezone.now() + timedelta(minutes=15) < order.eta_at < timezone.now() + timedelta(minutes=60)
    assert OrderEvent.objects.get(order=order).to_status == "placed"

    # A later menu change never changes what was bought.
    menu.noodles.price_cents = 9900
    menu.noodles.save()
    assert order.lines.first().unit_price_cents == 2100  # type: ignore[union-attr]


def test_same_key_and_body_returns_the_same_order(diner: User, menu: MenuStore) -> None:
    first = order_place(diner=diner, request=_request(menu), idempotency_key="k1")
    again = order_place(diner=diner, request=_request(menu), idempotency_key="k1")

    assert not again.created
    assert again.order.pk == first.order.pk
    assert Order.objects.count() == 1


def test_same_key_with_another_body_is_refused_409(diner: User, menu: MenuStore) -> None:
    order_place(diner=diner, request=_request(menu), idempotency_key="k1")

    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu, note="no coriander"), idempotency_key="k1")

    assert (refused.value.code, refused.value.status) == ("idempotency_key_reused", 409)
    assert Order.objects.count() == 1


def test_keys_are_per_diner(diner: User, menu: MenuStore) -> None:
    other: User = DinerFactory().user
    a = order_place(diner=diner, request=_request(menu), idempotency_key="same")
    b = order_place(diner=other, request=_request(menu), idempotency_key="same")
    assert a.order.pk != b.order.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_order(diner: User) -> None:
    menu = build_menu_store()
    barrier = threading.Barrier(5)
    orders: list[int] = []
    errors: list[BaseException] = []

    def place() -> None:
        barrier.wait()
        try:
            orders.append(order_place(diner=diner, request=_request(menu), idempotency_key="race").order.pk)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=place) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(orders) == 5 and len(set(orders)) == 1
    assert Order.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_refused_placement_stores_nothing_and_the_key_can_be_retried(diner: User, menu: MenuStore) -> None:
    menu.noodles.available = False
    menu.noodles.save()
    with pytest.raises(OrderRefused):
        order_place(diner=diner, request=_request(menu), idempotency_key="k1")
    assert not IdempotencyRecord.objects.exists()

    menu.noodles.available = True
    menu.noodles.save()
    assert order_place(diner=diner, request=_request(menu), idempotency_key="k1").created


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"status": Store.Status.SUSPENDED}, "store_unavailable", "store_id"),
        ({"status": Store.Status.PAUSED}, "store_unavailable", "store_id"),
        ({"min_order_cents": 99_999}, "below_minimum", "lines"),
    ],
)
def test_store_side_refusals(diner: User, change: dict[str, Any], code: str, field: str) -> None:
    menu = build_menu_store(**change)
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="k")
    assert (refused.value.code, refused.value.field) == (code, field)


def test_closed_store_is_refused(diner: User, menu: MenuStore) -> None:
    menu.store.opening_hours.all().delete()
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="k")
    assert refused.value.code == "store_closed"


def test_a_holiday_and_a_pause_act_at_once(diner: User, menu: MenuStore) -> None:
    # Placement reads hours, exceptions and the pause with the store in one statement: nothing
    # is cached, so each change is seen by the very next placement.
    holiday = HoursException.objects.create(store=menu.store, date=timezone.localdate(), closed=True)
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="k")
    assert refused.value.code == "store_closed"
    holiday.delete()
    Store.objects.filter(pk=menu.store.pk).update(pause_reason="rush", paused_until=None)
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="k")
    assert refused.value.code == "store_paused"
    Store.objects.filter(pk=menu.store.pk).update(pause_reason="")
    assert order_place(diner=diner, request=_request(menu), idempotency_key="k").created


def test_address_outside_the_zone_is_refused(diner: User, menu: MenuStore) -> None:
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu, delivery_lat=31.20, delivery_lng=121.60), idempotency_key="k")
    assert (refused.value.code, refused.value.field) == ("out_of_zone", "delivery_address")


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ((), "empty_cart"),
        ((LineRequest(item_id=None),), "invalid_line"),
        ((LineRequest(item_id=10**9, option_ids=()),), "unknown_item"),
        ((LineRequest(set_meal_id=10**9),), "unknown_set_meal"),
    ],
)
def test_menu_refusals(diner: User, menu: MenuStore, lines: tuple[LineRequest, ...], code: str) -> None:
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu, lines=lines), idempotency_key="k")
    assert refused.value.code == code


def test_options_must_satisfy_each_group(diner: User, menu: MenuStore) -> None:
    no_size = (LineRequest(item_id=menu.noodles.pk, option_ids=(menu.mild.pk,)),)
    two_sizes = (LineRequest(item_id=menu.noodles.pk, option_ids=(menu.regular.pk, menu.large.pk)),)
    foreign = (LineRequest(item_id=menu.tea.pk, option_ids=(menu.large.pk,)),)
    for lines, code in ((no_size, "invalid_options"), (two_sizes, "invalid_options"), (foreign, "invalid_option")):
        with pytest.raises(OrderRefused) as refused:
            order_place(diner=diner, request=_request(menu, lines=lines), idempotency_key="k")
        assert refused.value.code == code


def test_an_item_of_another_store_is_refused(diner: User, menu: MenuStore) -> None:
    other = build_menu_store()
    with pytest.raises(OrderRefused) as refused:
        order_place(
            diner=diner, request=_request(menu, lines=(LineRequest(item_id=other.tea.pk),)), idempotency_key="k"
        )
    assert refused.value.code == "unknown_item"


def _coupon(**fields: Any) -> Coupon:
    now = timezone.now()
    values: dict[str, Any] = {
        "code": "SAVE10",
        "kind": Coupon.Kind.SPEND_SAVE,
        "funded_by": Coupon.FundedBy.PLATFORM,
        "threshold_cents": 5000,
        "discount_cents": 1000,
        "valid_from": now - timedelta(days=1),
        "valid_to": now + timedelta(days=1),
        **fields,
    }
    return Coupon.objects.create(**values)


def test_coupon_discounts_and_is_redeemed_once(diner: User, menu: MenuStore) -> None:
    _coupon()
    order = order_place(diner=diner, request=_request(menu, coupon_code="save10"), idempotency_key="k1").order
    assert (order.discount_cents, order.discount_platform_cents, order.total_cents) == (1000, 1000, 6800)

    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu, coupon_code="SAVE10"), idempotency_key="k2")
    assert (refused.value.code, refused.value.field) == ("coupon_used_up", "coupon_code")


def test_unknown_and_expired_coupons_are_refused(diner: User, menu: MenuStore) -> None:
    _coupon(code="OLD", valid_from=timezone.now() - timedelta(days=9), valid_to=timezone.now() - timedelta(days=1))
    for code, expected in (("NOPE", "coupon_unknown"), ("OLD", "coupon_expired")):
        with pytest.raises(OrderRefused) as refused:
            order_place(diner=diner, request=_request(menu, coupon_code=code), idempotency_key=code)
        assert refused.value.code == expected


# --- API -----------------------------------------------------------------------------------


def _body(menu: MenuStore, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "store_id": menu.store.pk,
        "lines": [{"item_id": menu.noodles.pk, "option_ids": [menu.regular.pk]}, {"set_meal_id": menu.set_meal.pk}],
        "delivery_address": "上海市静安区昌平路300号",
        "delivery_lat": DROP_LAT,
        "delivery_lng": DROP_LNG,
    }
    body.update(overrides)
    return body


def _post(client: Client, body: dict[str, Any], key: str | None = "api-key-1") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/api/v1/orders/", body, content_type="application/json", headers=headers)


def test_api_places_once_per_key(client: Client, diner: User, menu: MenuStore) -> None:
    client.force_login(diner, backend="django.contrib.auth.backends.ModelBackend")

    first = _post(client, _body(menu))
    again = _post(client, _body(menu))
    other = _post(client, _body(menu, note="extra napkins"))

    assert first.status_code == 201
    assert again.status_code == 200 and again.json()["number"] == first.json()["number"]
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def test_api_requires_the_key(client: Client, diner: User, menu: MenuStore) -> None:
    client.force_login(diner, backend="django.contrib.auth.backends.ModelBackend")
    response = _post(client, _body(menu), key=None)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"


def test_api_refusal_names_the_field(client: Client, diner: User, menu: MenuStore) -> None:
    client.force_login(diner, backend="django.contrib.auth.backends.ModelBackend")
    response = _post(client, _body(menu, delivery_lat=31.20, delivery_lng=121.60))
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "out_of_zone"
    assert list(body["fields"]) == ["delivery_address"]


def test_api_validation_errors_are_per_field(client: Client, diner: User, menu: MenuStore) -> None:
    client.force_login(diner, backend="django.contrib.auth.backends.ModelBackend")
    response = _post(client, _body(menu, delivery_lat=123, lines=[]))
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid"
    assert {"delivery_lat", "lines"} <= set(body["fields"])


def test_only_diners_place_orders(client: Client, outsider: User, owner: User, menu: MenuStore) -> None:
    assert _post(client, _body(menu)).status_code == 403  # anonymous
    for user in (outsider, owner):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        response = _post(client, _body(menu))
        assert response.status_code == 403 and response.json()["code"] == "not_a_diner"


def test_order_is_visible_to_its_diner_and_store_only(client: Client, diner: User, menu: MenuStore) -> None:
    order = order_place(diner=diner, request=_request(menu), idempotency_key="k").order
    staff = StoreMembershipFactory(store=menu.store).user
    other_diner: User = DinerFactory().user
    other_staff = StoreMembershipFactory(store=build_menu_store().store).user
    url = f"/api/v1/orders/{order.number}/"

    for user, expected in ((diner, 200), (staff, 200), (other_diner, 404), (other_staff, 404)):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert client.get(url).status_code == expected, user
    client.force_login(other_diner, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/orders/").json()["results"] == []


def test_public_discovery_and_menu_api(client: Client, menu: MenuStore) -> None:
    found = client.get("/api/v1/stores/", {"lat": str(DROP_LAT), "lng": str(DROP_LNG), "sort": "fee"})
    nowhere = client.get("/api/v1/stores/", {"lat": "31.20", "lng": "121.60"})
    bad = client.get("/api/v1/stores/", {"lat": "200", "lng": str(DROP_LNG), "sort": "vibes"})
    menu_response = client.get(f"/api/v1/stores/{menu.store.pk}/menu/")

    assert found.status_code == 200
    [card] = found.json()
    assert (card["id"], card["delivery_fee_cents"]) == (menu.store.pk, 600)
    assert nowhere.json() == []
    assert bad.status_code == 400 and {"lat", "sort"} <= set(bad.json()["fields"])
    [category] = menu_response.json()
    assert [i["name_en"] for i in category["items"]] == ["Scallion oil noodles", "Lemon tea"]
    assert [g["name_en"] for g in category["items"][0]["option_groups"]] == ["Size", "Spice"]
    assert category["set_meals"][0]["components"][1]["name_en"] == "Lemon tea"


def test_menu_of_a_suspended_store_is_not_found(client: Client, db: None) -> None:
    suspended = build_menu_store(status=Store.Status.SUSPENDED)
    assert client.get(f"/api/v1/stores/{suspended.store.pk}/menu/").status_code == 404


def test_token_auth_for_integrations(client: Client, diner: User) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=diner)
    response = client.get("/api/v1/me/", headers={"Authorization": f"Token {token.key}"})
    assert response.status_code == 200 and response.json()["username"] == diner.username
    wrong = client.get("/api/v1/me/", headers={"Authorization": "Token wrong"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "authentication_failed"


def test_api_order_to_paid_through_a_signed_webhook(
    client: Client, diner: User, menu: MenuStore, settings: Any
) -> None:
    """What an integration does: place, start the payment, and the PSP's signed webhook pays."""
    import time

    from delivery.payments.sandbox import sandbox_event_body, signature_header

    client.force_login(diner, backend="django.contrib.auth.backends.ModelBackend")
    number = _post(client, _body(menu)).json()["number"]
    started = client.post(f"/api/v1/orders/{number}/payments/")
    again = client.post(f"/api/v1/orders/{number}/payments/")
    payment = started.json()
    assert started.status_code == 201 and again.json()["provider_ref"] == payment["provider_ref"]

    now = int(time.time())
    body = sandbox_event_body(
        event_type="payment.succeeded",
        provider_ref=payment["provider_ref"],
        amount_cents=payment["amount_cents"],
        created=now,
    )
    signature = signature_header(raw_body=body, timestamp=now, secret=settings.PAYMENT_SANDBOX_SECRET)
    webhook = Client().post(
        "/payments/webhooks/sandbox/", body, content_type="application/json", headers={"Mingchu-Signature": signature}
    )

    assert webhook.status_code == 200
    assert client.get(f"/api/v1/orders/{number}/").json()["status"] == "paid"
    assert client.post(f"/api/v1/orders/{number}/payments/").json()["code"] == "order_not_payable"


def test_only_the_diner_starts_a_payment(client: Client, diner: User, menu: MenuStore) -> None:
    order = order_place(diner=diner, request=_request(menu), idempotency_key="k").order
    client.force_login(
        StoreMembershipFactory(store=menu.store).user, backend="django.contrib.auth.backends.ModelBackend"
    )
    assert client.post(f"/api/v1/orders/{order.number}/payments/").status_code == 404


def _place_total(diner: User, menu: MenuStore, key: str, **overrides: Any) -> int:
    return order_place(diner=diner, request=_request(menu, **overrides), idempotency_key=key).order.total_cents


def test_every_menu_change_acts_on_the_very_next_placement(diner: User, menu: MenuStore) -> None:
    # Placement keeps each store's menu between orders and uses it only while every row it came
    # from is unchanged; changes made with update() (no signals, no save()) must be seen too.
    assert _place_total(diner, menu, "warm") == 7800
    assert _place_total(diner, menu, "again") == 7800  # from the kept menu

    MenuItem.objects.filter(pk=menu.noodles.pk).update(price_cents=1900)  # +100 × 2
    assert _place_total(diner, menu, "item price") == 8000

    Option.objects.filter(pk=menu.large.pk).update(price_delta_cents=500)  # +200 × 2
    assert _place_total(diner, menu, "option price") == 8400

    SetMeal.objects.filter(pk=menu.set_meal.pk).update(price_cents=3000)  # +200
    assert _place_total(diner, menu, "meal price") == 8600

    MenuItem.objects.filter(pk=menu.tea.pk).update(name_en="Jasmine tea")
    order = order_place(diner=diner, request=_request(menu), idempotency_key="component name").order
    assert [c["name_en"] for c in order.lines.all()[1].components] == ["Scallion oil noodles", "Jasmine tea"]

    OptionGroup.objects.filter(pk=menu.large.group_id).update(min_choices=0, max_choices=2)
    two_sizes = (LineRequest(item_id=menu.noodles.pk, option_ids=(menu.regular.pk, menu.large.pk)),)
    assert order_place(diner=diner, request=_request(menu, lines=two_sizes), idempotency_key="group").created


def test_sold_out_and_removed_dishes_are_refused_at_once(diner: User, menu: MenuStore) -> None:
    assert _place_total(diner, menu, "warm") == 7800

    Option.objects.filter(pk=menu.large.pk).update(available=False)
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="option sold out")
    assert refused.value.code == "sold_out"
    Option.objects.filter(pk=menu.large.pk).update(available=True)

    # The set meal's component, sold out: the set meal cannot be ordered.
    MenuItem.objects.filter(pk=menu.tea.pk).update(available=False)
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="component sold out")
    assert refused.value.code == "sold_out"
    MenuItem.objects.filter(pk=menu.tea.pk).update(available=True)

    SetMealComponent.objects.filter(set_meal=menu.set_meal, item=menu.tea).delete()
    order = order_place(diner=diner, request=_request(menu), idempotency_key="component removed").order
    assert [c["name_en"] for c in order.lines.all()[1].components] == ["Scallion oil noodles"]

    Option.objects.filter(pk=menu.mild.pk).delete()
    with pytest.raises(OrderRefused) as refused:
        order_place(diner=diner, request=_request(menu), idempotency_key="option removed")
    assert refused.value.code == "invalid_option"


def test_a_menu_change_rolled_back_is_not_kept(diner: User, menu: MenuStore) -> None:
    # Placed inside a transaction that changed the price and then rolled back: the next
    # placement prices from the menu as committed.
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        MenuItem.objects.filter(pk=menu.noodles.pk).update(price_cents=100)
        assert _place_total(diner, menu, "inside") == 7800 - 2 * 1700
        raise Abort

    assert _place_total(diner, menu, "after") == 7800


@pytest.mark.parametrize(("lat", "lng"), [(DROP_LAT, DROP_LNG), (31.2301, 121.4501), (31.2420, 121.4580)])
def test_placement_prices_the_distance_and_fee_that_discovery_quotes(
    diner: User, menu: MenuStore, lat: float, lng: float
) -> None:
    # Placement reads the store with its own SQL statement; discovery with the ORM. They agree.
    quoted = delivery_quote_for(menu.store, Point(lng, lat, srid=4326))
    order = order_place(
        diner=diner, request=_request(menu, delivery_lat=lat, delivery_lng=lng), idempotency_key=f"{lat},{lng}"
    ).order

    assert quoted == (order.delivery_distance_m, order.delivery_fee_cents)


def test_each_order_serializer_gets_its_own_fields(diner: User, menu: MenuStore) -> None:
    first = order_place(diner=diner, request=_request(menu), idempotency_key="one").order
    second = order_place(diner=diner, request=_request(menu, note="no onions"), idempotency_key="two").order

    a, b = OrderSerializer(first), OrderSerializer(second)

    assert a.fields["lines"] is not b.fields["lines"]
    assert a.fields["lines"].parent is a and b.fields["lines"].parent is b
    assert (a.data["number"], a.data["note"]) == (first.number, "")
    assert (b.data["number"], b.data["note"]) == (second.number, "no onions")
    assert [line["name_en"] for line in b.data["lines"]] == ["Scallion oil noodles", "Noodles & tea"]


def test_the_order_api_authenticates_tokens_as_drf_does(client: Client, diner: User, menu: MenuStore) -> None:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=diner)
    listed = client.get("/api/v1/orders/", headers={"Authorization": f"Token {token.key}"})
    assert listed.status_code == 200

    wrong = client.get("/api/v1/orders/", headers={"Authorization": "Token wrong"})
    assert wrong.status_code in (401, 403) and wrong.json()["code"] == "authentication_failed"

    User.objects.filter(pk=diner.pk).update(is_active=False)
    inactive = client.get("/api/v1/orders/", headers={"Authorization": f"Token {token.key}"})
    assert inactive.status_code in (401, 403) and inactive.json()["code"] == "authentication_failed"


def test_the_placement_response_is_the_order_serializers(diner: User, menu: MenuStore) -> None:
    placed = order_place(diner=diner, request=_request(menu, note="no onions"), idempotency_key="one").order
    paid = order_place(diner=diner, request=_request(menu), idempotency_key="two").order
    Order.objects.filter(pk=paid.pk).update(status=Order.Status.PAID, paid_at=timezone.now())
    paid.refresh_from_db()

    for order in (placed, paid, placed):
        assert order_representation(order) == OrderSerializer(order).data


def test_adding_to_a_cart_checks_the_live_menu_with_one_statement_once_kept(diner: User, menu: MenuStore) -> None:
    line = LineRequest(item_id=menu.noodles.pk, option_ids=(menu.large.pk, menu.mild.pk))
    resolve_lines(menu.store, (line,))  # keeps the menu
    with CaptureQueriesContext(connection) as kept:
        resolve_lines(menu.store, (line,))
    assert len(kept.captured_queries) == 1  # the stamps alone, not the whole menu again

    Option.objects.filter(pk=menu.large.pk).update(available=False)  # and a change is seen at once
    with pytest.raises(OrderRefused) as refused:
        resolve_lines(menu.store, (line,))
    assert refused.value.code == "sold_out"
