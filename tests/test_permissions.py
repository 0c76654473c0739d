"""Every endpoint bound to one diner's order refuses everyone else: another diner, another
store's staff, and anonymous visitors (who are sent to log in or refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from accounts.tests.factories import DinerFactory
from delivery.models import CartLine, Order
from delivery.payments.services import payment_start
from delivery.services.carts import cart_line_add
from delivery.services.orders import LineRequest, PlaceRequest, order_place
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from frontend.diner import SESSION_ADDRESS

pytestmark = pytest.mark.django_db

BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def placed(diner: User) -> tuple[MenuStore, Order, str]:
    menu = build_menu_store()
    request = PlaceRequest(
        store_id=menu.store.pk,
        lines=(LineRequest(item_id=menu.tea.pk, quantity=2),),
        delivery_address="上海市静安区昌平路300号",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )
    order = order_place(diner=diner, request=request, idempotency_key="perm").order
    payment, _url = payment_start(order=order)
    return menu, order, payment.provider_ref


def _endpoints(order: Order, provider_ref: str, line_id: int) -> list[tuple[str, str]]:
    n = order.number
    return [
        ("get", f"/api/v1/orders/{n}/"),
        ("post", f"/api/v1/orders/{n}/payments/"),
        ("get", f"/orders/{n}/"),
        ("get", f"/orders/{n}/status/"),
        ("post", f"/orders/{n}/pay/"),
        ("post", f"/orders/{n}/reorder/"),
        ("get", f"/payments/sandbox/{provider_ref}/"),
        ("post", f"/payments/sandbox/{provider_ref}/"),
        ("post", f"/cart/{order.store_id}/lines/{line_id}/"),
    ]


def test_outsiders_are_refused_on_every_order_endpoint(
    client: Client, diner: User, placed: tuple[MenuStore, Order, str]
) -> None:
    menu, order, provider_ref = placed
    line = cart_line_add(diner=diner, store=menu.store, line=LineRequest(item_id=menu.tea.pk))
    other_diner: User = DinerFactory().user
    other_staff = StoreMembershipFactory(store=build_menu_store().store).user

    for outsider in (other_diner, other_staff):
        client.force_login(outsider, backend=BACKEND)
        session = client.session  # an address chosen, so the pages reach their access checks
        session[SESSION_ADDRESS] = {"label": "上海市静安区昌平路300号", "lat": 31.238, "lng": 121.441}
        session.save()
        for method, url in _endpoints(order, provider_ref, line.pk):
            response = getattr(client, method)(url, {"quantity": "0", "outcome": "pay"})
            assert response.status_code in (403, 404), (outsider.username, method, url, response.status_code)

    client.logout()
    for method, url in _endpoints(order, provider_ref, line.pk):
        response = getattr(client, method)(url)
        assert response.status_code in (302, 403, 404), ("anonymous", method, url, response.status_code)
        if response.status_code == 302:
            assert "/accounts/login/" in response["Location"]

    order.refresh_from_db()
    assert order.status == Order.Status.PLACED  # nobody paid it for the diner
    assert CartLine.objects.get(pk=line.pk).quantity == 1  # nobody emptied the diner's cart


def test_the_diner_is_served(client: Client, diner: User, placed: tuple[MenuStore, Order, str]) -> None:
    _menu, order, provider_ref = placed
    client.force_login(diner, backend=BACKEND)
    for url in (f"/api/v1/orders/{order.number}/", f"/orders/{order.number}/", f"/payments/sandbox/{provider_ref}/"):
        assert client.get(url).status_code == 200, url


def test_the_api_schema_is_valid_without_warnings(tmp_path: Path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/orders/" in (tmp_path / "schema.yaml").read_text()
