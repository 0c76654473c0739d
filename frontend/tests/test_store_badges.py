"""The diner sees a store's hygiene grade, "licence verified" badge and open-kitchen link, on
the store list (one query for all cards) and the store page."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from compliance.inspections.models import Inspection
from compliance.inspections.schemes import ViolationInput
from compliance.inspections.selectors import store_badges
from compliance.inspections.services import inspection_contest, inspection_record
from compliance.models import Licence, StoreRegistration, Verification
from delivery.models import Store
from delivery.tests.factories import build_menu_store
from frontend.diner import SESSION_ADDRESS

pytestmark = pytest.mark.django_db

INSIDE: dict[str, Any] = {"label": "上海市 昌平路300号附近", "lat": 31.238, "lng": 121.445}


def _client(diner: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(diner, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[SESSION_ADDRESS] = dict(INSIDE)
    session.save()
    return client


def _licence(store: Store, **kw: Any) -> Licence:
    today = timezone.localdate()
    fields = {
        "kind": Licence.Kind.FOOD_BUSINESS,
        "number": f"JY13101060{store.pk:06d}",
        "store": store,
        "valid_from": today - datetime.timedelta(days=400),
        "valid_to": today + datetime.timedelta(days=400),
        "verification": Verification.VERIFIED,
        **kw,
    }
    licence: Licence = Licence.objects.create(**fields)
    return licence


def _graded(store: Store, points: int, *, final: bool = True) -> None:
    inspection_record(
        store=store,
        inspected_on=timezone.localdate(),
        scheme="cn",
        violations=[ViolationInput(code="CN-09", points=points)],
        external_ref=f"t:{store.pk}" if final else None,
    )


def test_badges_say_grade_licence_and_open_kitchen(db: None) -> None:
    today = timezone.localdate()
    full = build_menu_store().store
    _graded(full, 5)
    _licence(full)
    StoreRegistration.objects.create(store=full, open_kitchen_url="https://live.example.cn/k/1")
    expired = build_menu_store().store
    _licence(expired, valid_to=today - datetime.timedelta(days=1))
    unverified = build_menu_store().store
    _licence(unverified, verification=Verification.PENDING)
    pending = build_menu_store().store
    _graded(pending, 20, final=False)
    badges = store_badges([s.pk for s in (full, expired, unverified, pending)])
    assert (badges[full.pk].grade, badges[full.pk].licence_verified, badges[full.pk].open_kitchen_url) == (
        "优秀",
        True,
        "https://live.example.cn/k/1",
    )
    assert not badges[expired.pk].licence_verified and not badges[unverified.pk].licence_verified
    assert badges[expired.pk].grade == ""
    assert (badges[pending.pk].grade, badges[pending.pk].grade_pending) == ("良好", True)


def test_store_list_shows_badges_in_a_constant_number_of_queries(
    diner: User, django_assert_max_num_queries: Any
) -> None:
    first = build_menu_store().store
    _graded(first, 5)
    _licence(first)
    client = _client(diner)
    with CaptureQueriesContext(connection) as one_store:
        html = client.get(reverse("frontend:stores")).content.decode()
    assert 'data-testid="grade-badge"' in html and 'data-testid="licence-badge"' in html
    for n in range(6):
        store = build_menu_store().store
        _graded(store, 5 + n)
        _licence(store)
        StoreRegistration.objects.create(store=store, open_kitchen_url=f"https://live.example.cn/k/{n}")
    with django_assert_max_num_queries(len(one_store.captured_queries)):
        html = client.get(reverse("frontend:stores")).content.decode()
    assert html.count('data-testid="grade-badge"') == 7
    assert html.count('data-testid="licence-badge"') == 7
    assert 'data-testid="open-kitchen"' not in html  # the link is on the store page


def test_store_page_shows_grade_licence_open_kitchen_and_reply(diner: User, owner: User, store: Store) -> None:
    menu = build_menu_store()
    _licence(menu.store)
    StoreRegistration.objects.create(store=menu.store, open_kitchen_url="https://live.example.cn/k/9")
    _graded(menu.store, 20, final=False)
    inspection = Inspection.objects.get(store=menu.store)
    inspection_contest(inspection=inspection, actor=owner, reply="Fixed the same afternoon.")
    html = _client(diner).get(reverse("frontend:store", args=[menu.store.pk])).content.decode()
    assert 'data-testid="grade-badge"' in html and "良好" in html and "pending" in html
    assert 'data-testid="licence-badge"' in html
    assert 'href="https://live.example.cn/k/9"' in html
    assert "Fixed the same afternoon." in html
    assert reverse("frontend:inspection", args=[inspection.pk]) in html


def test_store_without_anything_shows_no_badge(diner: User) -> None:
    menu = build_menu_store()
    html = _client(diner).get(reverse("frontend:store", args=[menu.store.pk])).content.decode()
    assert 'data-testid="grade-badge"' not in html and 'data-testid="licence-badge"' not in html
    assert 'data-testid="open-kitchen"' not in html
