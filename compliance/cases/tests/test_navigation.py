"""Store staff find their stores' compliance page from home and from the board; operators find
the escalated complaints."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from delivery.models import Store

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_store_staff_reach_the_compliance_page_from_home_and_the_board(shop: Store, shop_owner: User) -> None:
    client = _client(shop_owner)
    target = reverse("frontend:merchant_compliance", args=[shop.pk]).encode()
    home = client.get(reverse("frontend:home"))
    assert home.status_code == 200 and target in home.content
    board = client.get(reverse("frontend:board", args=[shop.pk]))
    assert board.status_code == 200 and b'data-testid="nav-compliance"' in board.content and target in board.content
    assert client.get(target.decode()).status_code == 200


def test_others_get_no_compliance_link(shop: Store, outsider: User, operator: User) -> None:
    target = reverse("frontend:merchant_compliance", args=[shop.pk]).encode()
    assert target not in _client(outsider).get(reverse("frontend:home")).content
    operator_home = _client(operator).get(reverse("frontend:home")).content
    assert target not in operator_home and reverse("frontend:operator_complaints").encode() in operator_home
