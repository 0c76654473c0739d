"""The courier API: a courier's whole day over HTTP, with the refusals (not a courier, not your
offer, wrong code) as `{"code", "message", "fields"}`; the diner's tracking resync."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.gis.geos import Point
from rest_framework.test import APIClient

from accounts.models import User
from delivery.models import Order, Store
from delivery.tests.factories import StoreFactory
from dispatch.models import Courier, Offer
from dispatch.services.offers import offer_create
from dispatch.tests.factories import idle_courier, make_order, waiting_dispatch

pytestmark = pytest.mark.django_db


def _client(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _post(client: APIClient, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/v1/courier/{path}", body or {}, format="json")


def test_a_courier_day_over_the_api(diner: User, store: Store) -> None:
    courier = idle_courier(state=Courier.State.OFFLINE)
    api = _client(courier.user)
    assert _post(api, "online/", {"online": True}).json()["state"] == "idle"
    order = make_order(diner=diner, store=store, status=Order.Status.READY)
    waiting_dispatch(order)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None

    me = api.get("/api/v1/courier/me/").json()
    assert me["offer"]["id"] == offer.pk and 0 < me["offer"]["seconds_left"] <= 30
    assert me["offer"]["orders"][0]["phone"] == order.contact_phone_masked
    assert _post(api, f"offers/{offer.pk}/accept/").json()["state"] == "to_store"
    assert _post(api, f"tasks/{order.number}/arrived-store/").json()["state"] == "at_store"
    assert _post(api, f"tasks/{order.number}/picked-up/").json()["state"] == "to_customer"
    assert _post(api, f"tasks/{order.number}/arrived/").status_code == 200
    wrong = _post(api, f"tasks/{order.number}/delivered/", {"code": "9999"})
    assert wrong.status_code == 409 and wrong.json()["code"] == "wrong_code"
    missing = _post(api, f"tasks/{order.number}/delivered/", {})
    assert missing.status_code == 400 and "code" in missing.json()["fields"]
    done = _post(api, f"tasks/{order.number}/delivered/", {"code": "4821"}).json()
    assert done["state"] == "idle" and done["delivered_today"] == 1 and done["earnings_today_cents"] > 0
    assert _post(api, "online/", {"online": False}).json()["state"] == "offline"


def test_decline_with_a_reason(diner: User, store: Store) -> None:
    courier = idle_courier()
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None

    response = _post(_client(courier.user), f"offers/{offer.pk}/decline/", {"reason": "too far"})

    assert response.status_code == 200 and response.json()["state"] == "idle"
    offer.refresh_from_db()
    assert (offer.status, offer.reason) == (Offer.Status.DECLINED, "too far")


def test_non_couriers_are_refused(diner: User, outsider: User) -> None:
    for user in (diner, outsider):
        response = _client(user).get("/api/v1/courier/me/")
        assert response.status_code == 403 and response.json()["code"] == "not_a_courier"
    assert APIClient().get("/api/v1/courier/me/").status_code in (401, 403)


def test_a_courier_cannot_answer_anothers_offer(diner: User, store: Store) -> None:
    courier, other = idle_courier(), idle_courier(lng=121.46)
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)
    offer = offer_create(courier_id=courier.pk, order_ids=[order.pk])
    assert offer is not None

    assert _post(_client(other.user), f"offers/{offer.pk}/accept/").status_code == 404
    offer.refresh_from_db()
    assert offer.status == Offer.Status.PENDING


def test_going_offline_with_a_task_is_refused(diner: User, store: Store) -> None:
    courier = idle_courier(state=Courier.State.TO_STORE)
    response = _post(_client(courier.user), "online/", {"online": False})
    assert response.status_code == 409 and response.json()["code"] == "courier_busy"


@pytest.mark.parametrize(
    ("language", "message"),
    [("zh-hans", "请先完成当前任务再下线。"), ("en", "Finish your current task before going offline.")],
)
def test_refusals_speak_the_couriers_language(language: str, message: str) -> None:
    courier = idle_courier(state=Courier.State.TO_STORE)
    client = _client(courier.user)
    response = client.post(
        "/api/v1/courier/online/", {"online": False}, format="json", headers={"Accept-Language": language}
    )
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["message"]) == ("courier_busy", message)


def test_tracking_is_for_the_orders_diner_only(diner: User, store: Store, owner: User, outsider: User) -> None:
    order = make_order(diner=diner, store=store)
    waiting_dispatch(order)

    mine = _client(diner).get(f"/api/v1/orders/{order.number}/tracking/")
    assert mine.status_code == 200 and mine.json()["looking"] is True and mine.json()["courier"] is None
    for intruder in (owner, outsider):
        assert _client(intruder).get(f"/api/v1/orders/{order.number}/tracking/").status_code == 404


def test_courier_page_for_couriers_only(client: Any, courier: Courier, diner: User) -> None:
    client.force_login(courier.user)
    page = client.get("/courier/")
    assert page.status_code == 200 and b'data-testid="online-toggle"' in page.content
    client.force_login(diner)
    assert client.get("/courier/").status_code == 403


def test_a_two_store_offer_and_task_list_the_pickups_in_order(diner: User, store: Store) -> None:
    nearby = StoreFactory(location=Point(121.452, 31.23, srid=4326))
    a = make_order(diner=diner, store=store, status=Order.Status.READY)
    b = make_order(diner=diner, store=nearby, status=Order.Status.PREPARING)
    for order in (a, b):
        waiting_dispatch(order)
    courier = idle_courier()
    api = _client(courier.user)
    offer = offer_create(courier_id=courier.pk, order_ids=[b.pk, a.pk])
    assert offer is not None

    me = api.get("/api/v1/courier/me/").json()
    # a's food is ready, b's still cooking: a's store first.
    assert [(p["store_id"], p["orders"]) for p in me["offer"]["pickups"]] == [
        (store.pk, [a.number]),
        (nearby.pk, [b.number]),
    ]
    _post(api, f"offers/{offer.pk}/accept/")
    at_a = _post(api, f"tasks/{a.number}/arrived-store/").json()
    assert [(p["arrived"], p["done"]) for p in at_a["pickups"]] == [(True, False), (False, False)]
    refused = _post(api, f"tasks/{b.number}/picked-up/")
    assert refused.status_code == 409 and refused.json()["code"] == "wrong_store"
    on = _post(api, f"tasks/{a.number}/picked-up/").json()
    assert on["state"] == "to_store" and [p["done"] for p in on["pickups"]] == [True, False]
