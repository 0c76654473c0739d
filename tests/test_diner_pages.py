"""The diner's pages through Django's test client: access, the address in the session, the store
list, the menu and cart, checkout (refusals, idempotency), the order page and history."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import DinerFactory
from delivery.models import Cart, CartLine, Coupon, MenuItem, Order, Payment, Store
from delivery.services.carts import cart_line_add
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import MenuStore, build_menu_store
from delivery.transitions import order_transition
from frontend.diner import SESSION_ADDRESS, SESSION_RECENT

pytestmark = pytest.mark.django_db

# In the shipped gazetteer, ~1.3 km north of the menu store at (121.45, 31.23): inside its zone.
INSIDE: dict[str, Any] = {"label": "上海市 昌平路300号附近", "lat": 31.238, "lng": 121.445}
# Also in the gazetteer, in Pudong: outside every zone of these tests.
FAR: dict[str, Any] = {"label": "上海市浦东新区科苑路88号", "lat": 31.2045, "lng": 121.596}


@pytest.fixture
def menu(db: None) -> MenuStore:
    return build_menu_store()


@pytest.fixture
def other_diner(db: None) -> User:
    user: User = DinerFactory(user__username="diner-zhao").user
    return user


def _client_for(user: User, address: dict[str, Any] | None = INSIDE) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if address is not None:
        session = client.session
        session[SESSION_ADDRESS] = dict(address)
        session.save()
    return client


def _html(response: Any) -> str:
    return str(response.content.decode())


def _add(client: Client, store: Store, **data: Any) -> Any:
    return client.post(reverse("frontend:cart_add", args=[store.pk]), data, HTTP_HX_REQUEST="true")


def _fill_cart(diner: User, menu: MenuStore) -> None:
    """Noodles (large, mild) and the set meal: 2100 + 2800 = 4900."""
    cart_line_add(
        diner=diner,
        store=menu.store,
        line=LineRequest(item_id=menu.noodles.pk, option_ids=(menu.large.pk, menu.mild.pk)),
    )
    cart_line_add(diner=diner, store=menu.store, line=LineRequest(set_meal_id=menu.set_meal.pk))


def _checkout_data(client: Client, store: Store, **overrides: str) -> dict[str, str]:
    """The checkout form as the cart page rendered it (its idempotency key), filled in."""
    page = _html(client.get(reverse("frontend:cart", args=[store.pk])))
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None
    return {
        "idempotency_key": key.group(1),
        "contact_name": "王先生",
        "contact_phone": "138 1234 5678",
        "address_detail": "3号楼 1203室",
        "note": "不要香菜",
        "coupon_code": "",
        **overrides,
    }


def _place(diner: User, menu: MenuStore, key: str = "k-1") -> Order:
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(
            LineRequest(item_id=menu.noodles.pk, option_ids=(menu.large.pk, menu.mild.pk)),
            LineRequest(set_meal_id=menu.set_meal.pk),
        ),
        delivery_address=INSIDE["label"],
        delivery_lat=INSIDE["lat"],
        delivery_lng=INSIDE["lng"],
        contact_name="王先生",
        contact_phone="13812345678",
    )
    return order_place(diner=diner, request=request, idempotency_key=key).order


# --- Access --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_and_back(menu: MenuStore, diner: User) -> None:
    order = _place(diner, menu)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for url in (
        reverse("frontend:address"),
        reverse("frontend:stores"),
        reverse("frontend:store", args=[menu.store.pk]),
        reverse("frontend:cart", args=[menu.store.pk]),
        reverse("frontend:orders"),
        reverse("frontend:order", args=[order.number]),
        reverse("frontend:order_status", args=[order.number]),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


def test_a_signed_in_user_who_is_not_a_diner_is_refused(menu: MenuStore, outsider: User) -> None:
    client = _client_for(outsider)
    assert client.get(reverse("frontend:stores")).status_code == 403
    assert client.get(reverse("frontend:store", args=[menu.store.pk])).status_code == 403


def test_home_page_offers_ordering_food(client: Client) -> None:
    response = client.get(reverse("frontend:home"))
    assert f'href="{reverse("frontend:address")}" data-testid="order-food"' in _html(response)


# --- Address -------------------------------------------------------------------------------


def test_a_typed_address_is_geocoded_kept_in_the_session_and_remembered(diner: User) -> None:
    client = _client_for(diner, address=None)

    response = client.post(reverse("frontend:address"), {"address": "上海市静安区 南京西路1601号"})

    assert response.status_code == 302
    assert response["Location"] == reverse("frontend:stores")
    assert client.session[SESSION_ADDRESS] == {"label": "上海市静安区南京西路1601号", "lat": 31.2241, "lng": 121.4472}
    assert client.session[SESSION_RECENT][0]["label"] == "上海市静安区南京西路1601号"


def test_an_address_not_found_keeps_what_was_typed_and_says_so_by_the_field(diner: User) -> None:
    client = _client_for(diner, address=None)

    response = client.post(reverse("frontend:address"), {"address": "火星路1号"})

    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="error-address"' in html
    assert 'value="火星路1号"' in html
    assert SESSION_ADDRESS not in client.session


def test_an_empty_address_asks_for_one(diner: User) -> None:
    response = _client_for(diner, address=None).post(reverse("frontend:address"), {"address": "  "})
    assert response.status_code == 400
    assert 'data-testid="error-address"' in _html(response)


def test_locate_me_labels_the_position_from_the_gazetteer_or_with_its_coordinates(diner: User) -> None:
    client = _client_for(diner, address=None)

    client.post(reverse("frontend:address"), {"lat": "31.23805", "lng": "121.44502"})
    assert client.session[SESSION_ADDRESS]["label"] == "上海市 昌平路300号附近"
    assert client.session[SESSION_ADDRESS]["lat"] == pytest.approx(31.23805)

    client.post(reverse("frontend:address"), {"lat": "30.5", "lng": "120.1"})
    assert client.session[SESSION_ADDRESS]["label"] == "Near 30.50000, 120.10000"


def test_recent_addresses_can_be_chosen_again_and_next_is_followed(diner: User, menu: MenuStore) -> None:
    client = _client_for(diner, address=None)
    client.post(reverse("frontend:address"), {"address": "上海市静安区南京西路1601号"})
    client.post(reverse("frontend:address"), {"address": "上海市 昌平路300号附近"})
    page = _html(client.get(reverse("frontend:address")))
    assert page.count('data-testid="recent-address"') == 2

    cart_url = reverse("frontend:cart", args=[menu.store.pk])
    response = client.post(reverse("frontend:address"), {"recent": "1", "next": cart_url})

    assert response["Location"] == cart_url
    assert client.session[SESSION_ADDRESS]["label"] == "上海市静安区南京西路1601号"
    evil = client.post(reverse("frontend:address"), {"recent": "0", "next": "https://evil.example/"})
    assert evil["Location"] == reverse("frontend:stores")


# --- Store list ----------------------------------------------------------------------------


def test_without_an_address_the_store_list_asks_for_one(diner: User) -> None:
    response = _client_for(diner, address=None).get(reverse("frontend:stores"))
    assert response["Location"] == reverse("frontend:address")


def test_store_cards_show_eta_fee_minimum_rating_and_distance(diner: User, menu: MenuStore) -> None:
    # A second store whose pin is ~150 m from the address: it delivers there in its ¥3.00 band.
    near_store = build_menu_store(location=Point(121.4465, 31.2385, srid=4326), min_order_cents=0)
    client = _client_for(diner)

    response = client.get(reverse("frontend:stores"), {"sort": "fee"})

    assert response.status_code == 200
    html = _html(response)
    assert html.count('data-testid="store-card"') == 2
    assert "¥15.00" in html  # the menu store's minimum order
    assert "New" in html  # no reviews yet
    assert 'class="badge-slot"' in html  # where compliance puts the hygiene grade
    cards = response.context["cards"]
    assert [c.store.pk for c in cards] == [near_store.store.pk, menu.store.pk]  # ¥3.00 before ¥6.00
    assert cards[0].fee == "¥3.00"
    assert client.get(reverse("frontend:stores"), {"sort": "nonsense"}).context["sort"] == "distance"


def test_an_address_outside_every_zone_says_no_restaurant_delivers_there(diner: User, menu: MenuStore) -> None:
    response = _client_for(diner, address=FAR).get(reverse("frontend:stores"))

    html = _html(response)
    assert 'data-testid="no-stores"' in html
    assert FAR["label"] in html
    assert reverse("frontend:address") in html


# --- Store page and adding -----------------------------------------------------------------


def test_store_page_shows_the_menu_sold_out_dishes_and_set_meals(diner: User, menu: MenuStore) -> None:
    MenuItem.objects.filter(pk=menu.tea.pk).update(available=False)
    response = _client_for(diner).get(reverse("frontend:store", args=[menu.store.pk]))

    assert response.status_code == 200
    html = _html(response)
    assert 'data-testid="open-now"' in html
    assert "¥18.00" in html and "+¥3.00" in html  # price and an option's delta
    assert 'data-testid="options-dialog"' in html
    assert 'type="radio" name="option_ids.' in html
    assert html.count('data-testid="sold-out"') == 2  # the tea, and the set meal that holds it
    assert "Gluten" in html


def test_the_menu_follows_the_language(diner: User, menu: MenuStore) -> None:
    client = _client_for(diner)
    client.post(reverse("set_language"), {"language": "zh-hans"})

    response = client.get(reverse("frontend:store", args=[menu.store.pk]))

    assert response.status_code == 200
    assert "葱油拌面" in _html(response) and "大份" in _html(response)


def test_store_page_is_only_for_live_stores(diner: User, menu: MenuStore) -> None:
    Store.objects.filter(pk=menu.store.pk).update(status=Store.Status.SUSPENDED)
    assert _client_for(diner).get(reverse("frontend:store", args=[menu.store.pk])).status_code == 404


def test_adding_with_htmx_answers_the_cart_bar(diner: User, menu: MenuStore) -> None:
    client = _client_for(diner)

    response = _add(client, menu.store, item_id=menu.noodles.pk, **{f"option_ids.{menu.large.group_id}": menu.large.pk})
    response = _add(client, menu.store, set_meal_id=menu.set_meal.pk, quantity=2)

    assert response.status_code == 200
    html = _html(response)
    assert 'id="cart-bar"' in html
    assert 'data-testid="cart-count">3<' in html
    assert "¥77.00" in html  # 2100 + 2 × 2800
    line = CartLine.objects.get(cart__diner=diner, item=menu.noodles)
    assert line.option_ids == [menu.large.pk]


def test_a_refused_add_answers_its_message_into_the_dialog(diner: User, menu: MenuStore) -> None:
    """The size group needs exactly one choice: the server enforces it too."""
    response = _add(client := _client_for(diner), menu.store, item_id=menu.noodles.pk, error_slot="dlg-7-error")

    assert response.status_code == 400
    assert response["HX-Retarget"] == "#dlg-7-error"
    assert 'data-testid="add-error"' in _html(response)
    assert "Size" in _html(response)
    assert not CartLine.objects.filter(cart__diner=diner).exists()
    both = _add(client, menu.store, item_id=menu.noodles.pk, option_ids=[menu.regular.pk, menu.large.pk])
    assert both.status_code == 400
    assert both["HX-Retarget"] == "#cart-bar-error"


def test_adding_without_javascript_redirects_back_to_the_store(diner: User, menu: MenuStore) -> None:
    client = _client_for(diner)
    url = reverse("frontend:cart_add", args=[menu.store.pk])

    assert client.post(url, {"item_id": menu.tea.pk})["Location"] == reverse("frontend:store", args=[menu.store.pk])
    refused = client.post(url, {"item_id": menu.noodles.pk})
    assert refused["Location"] == f"{reverse('frontend:store', args=[menu.store.pk])}?dish={menu.noodles.pk}"


# --- Cart and checkout ---------------------------------------------------------------------


def test_cart_page_quotes_and_applies_a_coupon(diner: User, menu: MenuStore) -> None:
    now = timezone.now()
    Coupon.objects.create(
        code="SAVE5",
        kind=Coupon.Kind.SPEND_SAVE,
        funded_by=Coupon.FundedBy.PLATFORM,
        threshold_cents=2000,
        discount_cents=500,
        valid_from=now - timedelta(days=1),
        valid_to=now + timedelta(days=1),
    )
    _fill_cart(diner, menu)
    client = _client_for(diner)
    page = client.get(reverse("frontend:cart", args=[menu.store.pk]))
    assert page.context["totals"].total == "¥57.00"  # 4900 + 200 packaging + 600 delivery

    data = _checkout_data(client, menu.store, coupon_code="save5", contact_phone="")
    response = client.post(reverse("frontend:cart", args=[menu.store.pk]), data)

    assert response.status_code == 200
    html = _html(response)
    assert 'data-testid="discount">-¥5.00<' in html
    assert 'data-testid="total">¥52.00<' in html
    assert 'value="save5"' in html and 'value="王先生"' in html
    assert 'data-testid="error-contact_phone"' not in html  # only placing needs a phone

    unknown = client.post(reverse("frontend:cart", args=[menu.store.pk]), {**data, "coupon_code": "NOPE"})
    assert unknown.status_code == 400
    assert 'data-testid="error-coupon_code"' in _html(unknown)
    assert 'value="NOPE"' in _html(unknown)


def test_quantity_buttons_change_the_line_and_keep_the_form(diner: User, menu: MenuStore) -> None:
    _fill_cart(diner, menu)
    client = _client_for(diner)
    line = CartLine.objects.get(cart__diner=diner, set_meal=menu.set_meal)
    url = reverse("frontend:cart_line", args=[menu.store.pk, line.pk])

    response = client.post(url, {"quantity": "3", "contact_name": "小王", "note": "多放葱"})
    assert response.status_code == 200
    line.refresh_from_db()
    assert line.quantity == 3
    assert 'value="小王"' in _html(response) and "多放葱" in _html(response)

    client.post(url, {"quantity": "0"})
    assert not CartLine.objects.filter(pk=line.pk).exists()


def test_another_diner_cannot_change_my_cart_line(diner: User, other_diner: User, menu: MenuStore) -> None:
    _fill_cart(diner, menu)
    line = CartLine.objects.get(cart__diner=diner, set_meal=menu.set_meal)

    response = _client_for(other_diner).post(
        reverse("frontend:cart_line", args=[menu.store.pk, line.pk]), {"quantity": "0"}
    )

    assert response.status_code == 404  # not their line: refused, and nothing changes
    assert CartLine.objects.filter(pk=line.pk, quantity=1).exists()
    assert not Cart.objects.filter(diner=other_diner).exists()


def test_checkout_below_the_minimum_is_refused_with_the_message_and_keeps_the_form(
    diner: User, menu: MenuStore
) -> None:
    cart_line_add(diner=diner, store=menu.store, line=LineRequest(item_id=menu.tea.pk))  # ¥9.00 < ¥15.00
    client = _client_for(diner)
    data = _checkout_data(client, menu.store)

    response = client.post(reverse("frontend:checkout", args=[menu.store.pk]), data)

    assert response.status_code == 400
    html = _html(response)
    assert 'data-testid="error-lines"' in html
    assert "¥6.00 more to reach the minimum order of ¥15.00" in html
    for typed in ("王先生", "138 1234 5678", "3号楼 1203室", "不要香菜"):
        assert typed in html
    assert f'value="{data["idempotency_key"]}"' in html  # the same attempt may be retried
    assert not Order.objects.exists()


def test_checkout_needs_a_phone_and_says_so_by_the_field(diner: User, menu: MenuStore) -> None:
    _fill_cart(diner, menu)
    client = _client_for(diner)

    response = client.post(
        reverse("frontend:checkout", args=[menu.store.pk]), _checkout_data(client, menu.store, contact_phone="12")
    )

    assert response.status_code == 400
    assert 'data-testid="error-contact_phone"' in _html(response)
    assert not Order.objects.exists()


def test_a_double_checkout_with_the_same_key_places_one_order_and_pays_it(diner: User, menu: MenuStore) -> None:
    _fill_cart(diner, menu)
    client = _client_for(diner)
    data = _checkout_data(client, menu.store)
    url = reverse("frontend:checkout", args=[menu.store.pk])

    first = client.post(url, data)
    second = client.post(url, data)  # a double click, or the browser retrying

    order = Order.objects.get()
    assert order.total_cents == 5700
    assert order.delivery_address == f"{INSIDE['label']} 3号楼 1203室"
    assert order.contact_phone_masked == "138****5678"
    payment = Payment.objects.get(order=order)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("payments:sandbox_page", args=[payment.provider_ref])
    assert not CartLine.objects.filter(cart__diner=diner).exists()


def test_checkout_without_an_address_asks_for_one(diner: User, menu: MenuStore) -> None:
    _fill_cart(diner, menu)
    response = _client_for(diner, address=None).post(reverse("frontend:checkout", args=[menu.store.pk]), {})
    assert response["Location"].startswith(reverse("frontend:address") + "?next=")


# --- Orders --------------------------------------------------------------------------------


def test_order_page_shows_the_timeline_lines_and_pay_now(diner: User, menu: MenuStore) -> None:
    order = _place(diner, menu)
    client = _client_for(diner)

    html = _html(client.get(reverse("frontend:order", args=[order.number])))

    assert 'data-testid="pay-now"' in html
    assert 'data-step="placed" data-state="current"' in html
    assert "Large" in html and "Noodles &amp; tea" in html and "1 × Lemon tea" in html
    assert "¥57.00" in html
    assert 'data-order-live data-number="' + order.number in html

    pay = client.post(reverse("frontend:order_pay", args=[order.number]))
    assert pay["Location"].startswith("/payments/sandbox/")


def test_the_status_partial_follows_the_order(diner: User, menu: MenuStore) -> None:
    order = _place(diner, menu)
    order_transition(order_id=order.pk, to=Order.Status.PAID, actor=None, actor_role="system")
    order_transition(order_id=order.pk, to=Order.Status.CANCELLED, actor=None, actor_role="system", reason="test")

    response = _client_for(diner).get(reverse("frontend:order_status", args=[order.number]))

    html = _html(response)
    assert html.lstrip().startswith('<div id="order-status"')
    assert 'data-step="paid" data-state="done"' in html
    assert 'data-step="cancelled" data-state="ended"' in html
    assert 'data-step="delivered"' not in html  # never reached
    assert 'data-testid="pay-now"' not in html


def test_another_diner_gets_404_on_my_order(diner: User, other_diner: User, menu: MenuStore) -> None:
    order = _place(diner, menu)
    client = _client_for(other_diner)

    assert client.get(reverse("frontend:order", args=[order.number])).status_code == 404
    assert client.get(reverse("frontend:order_status", args=[order.number])).status_code == 404
    assert client.post(reverse("frontend:order_pay", args=[order.number])).status_code == 404
    assert client.post(reverse("frontend:order_reorder", args=[order.number])).status_code == 404


def test_history_lists_orders_and_reorder_names_what_is_gone(diner: User, menu: MenuStore) -> None:
    order = _place(diner, menu)
    MenuItem.objects.filter(pk=menu.tea.pk).update(available=False)  # the set meal holds the tea
    client = _client_for(diner)

    history = _html(client.get(reverse("frontend:orders")))
    assert order.number in history and 'data-testid="reorder"' in history

    response = client.post(reverse("frontend:order_reorder", args=[order.number]), follow=True)

    assert response.redirect_chain[0][0] == reverse("frontend:cart", args=[menu.store.pk])
    html = _html(response)
    assert "Added 1 dish to your cart." in html
    assert "面+茶套餐" in html  # named as skipped
    assert CartLine.objects.get(cart__diner=diner).item == menu.noodles
