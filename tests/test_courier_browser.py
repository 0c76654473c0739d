"""The courier app and the diner's live map in a real browser, with the real dispatcher process:
a courier goes online (the browser's geolocation streams their position), the dispatcher offers
them a ready order, they accept, and the diner's map shows the courier move."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import expect

from accounts.models import User
from delivery.models import Order
from delivery.tests.factories import build_menu_store
from dispatch.models import Courier
from dispatch.services.offers import offer_create
from dispatch.tests.factories import CourierFactory, idle_courier, make_order, waiting_dispatch
from tests.conftest import LiveServer, in_thread, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
STORE = (121.441, 31.238)


def _page(browser: Any, server: LiveServer, user: User, **options: Any) -> tuple[Any, Any]:
    context = browser.new_context(locale="en-US", viewport=PHONE, **options)
    name, value = session_cookie(user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    return context, context.new_page()


def test_courier_goes_online_accepts_an_offer_and_the_diner_sees_them_move(
    browser: Any, daphne_server: LiveServer, dispatcher: Any, diner: User
) -> None:
    menu = build_menu_store(location=Point(*STORE, srid=4326))
    order = make_order(
        diner=diner, store=menu.store, status=Order.Status.READY, delivery_point=Point(121.446, 31.236, srid=4326)
    )
    courier: Courier = CourierFactory(user__username="rider-wu")

    rider_context, rider = _page(
        browser,
        daphne_server,
        courier.user,
        geolocation={"latitude": 31.2385, "longitude": 121.4405, "accuracy": 10},
        permissions=["geolocation"],
    )
    diner_context, diner_page = _page(browser, daphne_server, diner)
    try:
        rider.goto(f"{daphne_server.url}/courier/")
        expect(rider.get_by_test_id("courier-state")).to_have_attribute("data-state", "offline")
        rider.get_by_test_id("online-toggle").click()
        expect(rider.get_by_test_id("courier-state")).to_have_attribute("data-state", "idle")

        # The dispatcher finds the courier near the store and offers the order, with a countdown.
        offer = rider.get_by_test_id("offer-card")
        expect(offer).to_be_visible(timeout=20_000)
        expect(rider.get_by_test_id("offer-countdown")).to_contain_text("s")
        rider.get_by_test_id("offer-accept").click()
        expect(rider.get_by_test_id("courier-state")).to_have_attribute("data-state", "to_store")
        expect(rider.get_by_test_id("task")).to_have_attribute("data-number", order.number)

        diner_page.goto(f"{daphne_server.url}/orders/{order.number}/")
        track = diner_page.get_by_test_id("track-map")
        expect(diner_page.get_by_test_id("tracking")).to_be_visible()
        expect(track).to_have_attribute("data-courier-lat", "31.2385", timeout=15_000)

        # The courier rides towards the store: the diner's map follows.
        rider_context.set_geolocation({"latitude": 31.2382, "longitude": 121.4409, "accuracy": 10})
        expect(track).to_have_attribute("data-courier-lat", "31.2382", timeout=20_000)
        expect(track).to_have_attribute("data-courier-lng", "121.4409")
        assert rider.get_by_test_id("step-arrived-store").is_visible()
    finally:
        rider_context.close()
        diner_context.close()


def test_a_two_store_offer_lists_both_pickups_and_the_courier_goes_store_by_store(
    browser: Any, daphne_server: LiveServer, diner: User
) -> None:
    first = build_menu_store(location=Point(*STORE, srid=4326)).store
    second = build_menu_store(location=Point(STORE[0] + 0.002, STORE[1], srid=4326)).store
    door = Point(121.446, 31.236, srid=4326)
    a = make_order(diner=diner, store=first, status=Order.Status.READY, delivery_point=door)
    b = make_order(diner=diner, store=second, status=Order.Status.READY, delivery_point=door)
    for order in (a, b):
        waiting_dispatch(order)
    courier = idle_courier(lng=STORE[0], lat=STORE[1])
    offer = in_thread(offer_create, courier_id=courier.pk, order_ids=[a.pk, b.pk], sequence=[a.pk, b.pk])
    assert offer is not None

    context, rider = _page(browser, daphne_server, courier.user)
    try:
        rider.goto(f"{daphne_server.url}/courier/")
        expect(rider.get_by_test_id("offer-card")).to_be_visible()
        expect(rider.get_by_test_id("offer-multi")).to_be_visible()
        pickups = rider.get_by_test_id("offer-pickup")
        expect(pickups).to_have_count(2)
        expect(pickups.nth(0)).to_have_attribute("data-store", str(first.pk))  # its food was ready first
        expect(pickups.nth(1)).to_have_attribute("data-store", str(second.pk))
        rider.get_by_test_id("offer-accept").click()

        state = rider.get_by_test_id("courier-state")
        for store in (first, second):
            expect(state).to_have_attribute("data-state", "to_store")
            next_pickup = rider.locator(f"[data-testid=pickup][data-store='{store.pk}']")
            next_pickup.get_by_test_id("step-arrived-store").click()
            expect(state).to_have_attribute("data-state", "at_store")
            # Only the order of the store the courier is at can be picked up here.
            expect(rider.get_by_test_id("step-picked-up")).to_have_count(1)
            rider.get_by_test_id("step-picked-up").click()
            expect(next_pickup).to_have_attribute("data-done", "true")

        expect(state).to_have_attribute("data-state", "to_customer")
        for order in (a, b):
            task = rider.locator(f"[data-testid=task][data-number='{order.number}']")
            task.get_by_test_id("step-arrived").click()
            task.get_by_test_id("dropoff-code").fill("4821")
            task.get_by_test_id("step-delivered").click()
            expect(rider.locator(f"[data-testid=task][data-number='{order.number}']")).to_have_count(0)
        expect(state).to_have_attribute("data-state", "idle")
        expect(rider.get_by_test_id("delivered-today")).to_have_text("2")
    finally:
        context.close()
