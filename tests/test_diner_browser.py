"""The diner's web app in a real browser (Chromium through Playwright) against a live Daphne, on
a phone-sized screen: address, store list, menu and options dialog, cart with a coupon,
checkout, the sandbox payment, and the order page updating live.

The geocoder is the project's offline gazetteer (delivery/data/gazetteer.json), which the Daphne
process reads too; the test store's zone is built around one of its Jing'an addresses.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import square as square_zone
from delivery.models import CartLine, Coupon, Option, OptionGroup, Order
from delivery.tests.factories import MenuStore, build_menu_store
from delivery.transitions import order_transition
from tests.conftest import LiveServer, in_thread, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Gazetteer entries: one inside the store's zone, one far outside it (Pudong).
INSIDE_ADDRESS, INSIDE_LAT, INSIDE_LNG = "上海市 昌平路300号附近", 31.238, 121.445
FAR_ADDRESS = "上海市浦东新区科苑路88号"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def menu(transactional_db: None) -> MenuStore:
    # The pin ~400 m west of the inside address; the zone a square of ±0.02° around the pin.
    return build_menu_store(location=Point(121.441, 31.238, srid=4326), zone=square_zone(121.441, 31.238, 0.02))


@pytest.fixture
def coupon(transactional_db: None) -> Coupon:
    now = timezone.now()
    coupon: Coupon = Coupon.objects.create(
        code="SAVE5",
        kind=Coupon.Kind.SPEND_SAVE,
        funded_by=Coupon.FundedBy.PLATFORM,
        threshold_cents=2000,
        discount_cents=500,
        valid_from=now - timedelta(hours=1),
        valid_to=now + timedelta(days=1),
    )
    return coupon


def _signed_in_page(browser: Any, server: LiveServer, user: User, **context_options: Any) -> tuple[Any, Any]:
    context = browser.new_context(locale="en-US", viewport=PHONE, **context_options)
    name, value = session_cookie(user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    return context, context.new_page()


def test_a_diner_orders_with_options_a_set_meal_and_a_coupon_pays_and_follows_the_order(
    browser: Any, daphne_server: LiveServer, diner: User, menu: MenuStore, coupon: Coupon, tmp_path: Path
) -> None:
    context, page = _signed_in_page(browser, daphne_server, diner)
    try:
        # Address: typed, geocoded from the gazetteer.
        page.goto(daphne_server.url + "/")
        page.get_by_test_id("order-food").click()
        page.get_by_test_id("address-input").fill(INSIDE_ADDRESS)
        page.get_by_test_id("address-submit").click()
        page.wait_for_url(daphne_server.url + "/stores/")

        # The store list: the card shows ETA, fee and minimum before ordering.
        card = page.get_by_test_id("store-card").filter(has_text=menu.store.name_en)
        assert card.get_by_test_id("store-fee").inner_text() == "Delivery ¥3.00"
        assert card.get_by_test_id("store-min-order").inner_text() == "Minimum ¥15.00"
        assert card.get_by_test_id("store-rating").inner_text() == "New"
        card.click()
        page.wait_for_url(f"{daphne_server.url}/stores/{menu.store.pk}/")
        assert page.get_by_test_id("open-now").inner_text() == "Open now"

        # A dish with option groups: the dialog, its price follows the choices.
        dish = page.get_by_test_id("dish").filter(has_text="Scallion oil noodles")
        dish.get_by_test_id("add").click()
        dialog = page.locator(f"#dlg-{menu.noodles.pk}")
        dialog.wait_for(state="visible")
        dialog.get_by_label("Large").check()
        dialog.get_by_label("Mild").check()
        assert dialog.locator("[data-price-total]").inner_text() == "¥21.00"
        page.screenshot(path=str(tmp_path / "store-options-390.png"))
        dialog.get_by_test_id("dialog-add").click()
        dialog.wait_for(state="hidden")
        bar = page.get_by_test_id("cart-bar")
        assert bar.get_by_test_id("cart-count").inner_text() == "1"

        # The set meal goes straight in.
        page.get_by_test_id("set-meal").filter(has_text="Noodles & tea").get_by_test_id("add").click()
        page.wait_for_function("document.getElementById('cart-bar').dataset.count === '2'")
        assert bar.get_by_test_id("cart-subtotal").inner_text() == "¥49.00"
        page.screenshot(path=str(tmp_path / "store-390.png"), full_page=True)

        # The cart: the quote, then the coupon (htmx swaps the form; what was typed stays).
        page.get_by_test_id("checkout-link").click()
        page.wait_for_url(f"{daphne_server.url}/cart/{menu.store.pk}/")
        assert page.get_by_test_id("total").inner_text() == "¥54.00"  # 49 + 2 packaging + 3 delivery
        page.evaluate("window.notReloaded = true")
        page.get_by_test_id("contact-name").fill("王先生")
        page.get_by_test_id("contact-phone").fill("138 1234 5678")
        noodles = page.get_by_test_id("cart-line").filter(has_text="Size: Large")
        noodles.get_by_test_id("line-plus").click()
        page.get_by_test_id("total").filter(has_text="¥75.00").wait_for()  # + 21
        page.get_by_test_id("cart-line").filter(has_text="Size: Large").get_by_test_id("line-minus").click()
        page.get_by_test_id("total").filter(has_text="¥54.00").wait_for()
        page.get_by_test_id("coupon-input").fill("NOPE")
        page.get_by_test_id("coupon-apply").click()
        page.get_by_test_id("error-coupon_code").wait_for()  # a 400, swapped in by the coupon field
        assert page.get_by_test_id("coupon-input").input_value() == "NOPE"
        page.get_by_test_id("coupon-input").fill("SAVE5")
        page.get_by_test_id("coupon-apply").click()
        page.get_by_test_id("discount").wait_for()
        assert page.evaluate("window.notReloaded") is True  # htmx swapped the form, no page load
        assert page.get_by_test_id("discount").inner_text() == "-¥5.00"
        assert page.get_by_test_id("total").inner_text() == "¥49.00"
        assert page.get_by_test_id("contact-phone").input_value() == "138 1234 5678"
        assert "Large" in page.get_by_test_id("cart-lines").inner_text()
        # A full-page capture repeats sticky bars mid-page: let them scroll for the picture.
        page.add_style_tag(content=".topbar, .place-bar { position: static !important; }")
        page.screenshot(path=str(tmp_path / "cart-390.png"), full_page=True)

        # Place the order, pay on the sandbox's page, land on the order page, paid.
        page.get_by_test_id("place-order").click()
        page.get_by_test_id("sandbox-pay").wait_for()
        assert page.get_by_test_id("amount").inner_text() == "¥49.00"
        page.get_by_test_id("sandbox-pay-button").click()
        order = Order.objects.get(diner=diner)
        page.wait_for_url(f"{daphne_server.url}/orders/{order.number}/")
        assert page.get_by_test_id("status-title").inner_text() == "Paid"
        assert page.locator("[data-step=paid]").get_attribute("data-state") == "current"
        assert page.get_by_test_id("order-discount").inner_text() == "-¥5.00"

        # The restaurant accepts: the status block follows over the WebSocket, no reload.
        page.wait_for_function("document.querySelector('[data-order-live]').dataset.refreshes === '1'")
        page.evaluate("window.notReloaded = true")
        in_thread(order_transition, order_id=order.pk, to=Order.Status.ACCEPTED, actor=None, actor_role="store")
        page.locator("#order-status[data-status=accepted]").wait_for()
        assert page.get_by_test_id("status-title").inner_text() == "Accepted"
        assert page.locator("[data-step=paid]").get_attribute("data-state") == "done"
        assert page.evaluate("window.notReloaded") is True
        page.screenshot(path=str(tmp_path / "order-390.png"), full_page=True)
    finally:
        context.close()


def test_an_address_outside_every_zone_shows_no_stores_and_says_why(
    browser: Any, daphne_server: LiveServer, diner: User, menu: MenuStore
) -> None:
    context, page = _signed_in_page(browser, daphne_server, diner)
    try:
        page.goto(daphne_server.url + "/address/")
        page.get_by_test_id("address-input").fill(FAR_ADDRESS)
        page.get_by_test_id("address-submit").click()
        page.wait_for_url(daphne_server.url + "/stores/")

        message = page.get_by_test_id("no-stores")
        assert FAR_ADDRESS in message.inner_text()
        assert "outside the delivery zone" in message.inner_text()
        assert page.get_by_test_id("store-card").count() == 0
        message.get_by_test_id("change-address").click()
        page.wait_for_url(daphne_server.url + "/address/")
    finally:
        context.close()


def test_locate_me_uses_the_browsers_position(
    browser: Any, daphne_server: LiveServer, diner: User, menu: MenuStore
) -> None:
    context, page = _signed_in_page(
        browser,
        daphne_server,
        diner,
        geolocation={"latitude": INSIDE_LAT, "longitude": INSIDE_LNG},
        permissions=["geolocation"],
    )
    try:
        page.goto(daphne_server.url + "/address/")
        page.get_by_test_id("locate-me").click()
        page.wait_for_url(daphne_server.url + "/stores/")
        assert page.get_by_test_id("address-chip").inner_text().strip() == INSIDE_ADDRESS
        assert page.get_by_test_id("store-card").count() == 1
    finally:
        context.close()


def test_an_unknown_address_keeps_what_was_typed(browser: Any, daphne_server: LiveServer, diner: User) -> None:
    context, page = _signed_in_page(browser, daphne_server, diner)
    try:
        page.goto(daphne_server.url + "/address/")
        page.get_by_test_id("address-input").fill("火星路1号")
        page.get_by_test_id("address-submit").click()
        page.get_by_test_id("error-address").wait_for()
        assert page.get_by_test_id("address-input").input_value() == "火星路1号"
    finally:
        context.close()


def test_the_options_dialog_enforces_a_groups_minimum_and_maximum(
    browser: Any, daphne_server: LiveServer, diner: User, menu: MenuStore
) -> None:
    toppings = OptionGroup.objects.create(
        item=menu.noodles, name_zh="加料", name_en="Toppings", min_choices=1, max_choices=2, position=5
    )
    for position, (name, available) in enumerate([("Egg", True), ("Tofu", True), ("Pork", True), ("Crab", False)]):
        Option.objects.create(
            group=toppings, name_zh=name, name_en=name, price_delta_cents=200, available=available, position=position
        )
    context, page = _signed_in_page(browser, daphne_server, diner)
    try:
        page.goto(f"{daphne_server.url}/stores/{menu.store.pk}/")
        page.get_by_test_id("dish").filter(has_text="Scallion oil noodles").get_by_test_id("add").click()
        dialog = page.locator(f"#dlg-{menu.noodles.pk}")
        dialog.wait_for(state="visible")
        assert dialog.get_by_label("Crab").is_disabled()  # sold out

        form = dialog.locator("form")
        assert form.evaluate("form => form.checkValidity()") is False  # no topping yet
        dialog.get_by_test_id("dialog-add").click()  # the browser refuses to send it
        assert dialog.is_visible()
        assert dialog.get_by_test_id("add-error").count() == 0  # not even asked the server
        assert not CartLine.objects.filter(cart__diner=diner).exists()

        dialog.get_by_label("Egg").check()
        dialog.get_by_label("Tofu").check()
        assert dialog.get_by_label("Pork").is_disabled()  # at the maximum
        assert dialog.locator("[data-price-total]").inner_text() == "¥22.00"  # 18 + 2 + 2
        assert form.evaluate("form => form.checkValidity()") is True
        dialog.get_by_test_id("dialog-add").click()
        dialog.wait_for(state="hidden")
        page.wait_for_function("document.getElementById('cart-bar').dataset.count === '1'")
        assert len(CartLine.objects.get(cart__diner=diner).option_ids) == 3  # regular size + two toppings
    finally:
        context.close()
