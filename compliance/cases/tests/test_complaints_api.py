"""The complaints API: filed by the order's diner (with a photo), answered by the store, closed by
the diner or an operator; everybody else refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.factories import DinerFactory
from compliance.cases.models import Case
from compliance.cases.tests.conftest import place_order
from delivery.models import Store
from delivery.tests.factories import MenuStore

pytestmark = pytest.mark.django_db


def _api(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "photo.png"
    return buffer


def test_a_complaint_through_the_api(
    menu: MenuStore, shop: Store, diner: User, shop_owner: User, owner: User, outsider: User, operator: User
) -> None:
    order = place_order(menu, diner, key="a", paid=True)
    url = f"/api/v1/orders/{order.number}/complaints/"
    bad = _api(diner).post(url, {"category": "late", "text": "x", "photos": [io.BytesIO(b"nope")]}, format="multipart")
    assert bad.status_code == 400
    created = _api(diner).post(
        url, {"category": "food_safety", "text": "Hair in the soup", "photos": [_png()]}, format="multipart"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["photo_count"] == 1 and body["acknowledge_by"] and Case.objects.filter(complaint_id=body["id"]).exists()
    assert [c["id"] for c in _api(diner).get(url).json()] == [body["id"]]
    for user in (DinerFactory().user, outsider, shop_owner):
        assert _api(user).get(url).status_code == 404
    assert _api(outsider).get("/api/v1/store/complaints/").json()["code"] == "not_store_staff"
    assert [c["id"] for c in _api(shop_owner).get("/api/v1/store/complaints/").json()] == [body["id"]]
    assert _api(owner).get("/api/v1/store/complaints/").json() == []

    action = f"/api/v1/complaints/{body['id']}/actions/"
    for user in (owner, outsider):
        refused = _api(user).post(action, {"action": "acknowledge"}, format="json")
        assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    no_text = _api(shop_owner).post(action, {"action": "propose", "solution": ""}, format="json")
    assert no_text.status_code == 400 and "solution" in no_text.json()["fields"]
    assert _api(shop_owner).post(action, {"action": "acknowledge"}, format="json").json()["status"] == "acknowledged"
    proposed = _api(shop_owner).post(action, {"action": "propose", "solution": "Refund"}, format="json")
    assert proposed.json()["status"] == "solution_proposed"
    assert _api(shop_owner).post(action, {"action": "close"}, format="json").status_code == 404  # not the store's call
    assert _api(operator).post(action, {"action": "close"}, format="json").json()["status"] == "closed"
