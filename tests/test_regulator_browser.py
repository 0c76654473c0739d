"""A regulator in a real browser (Chromium through Playwright, against a live Daphne), on a
phone-sized screen: reviews a flag from the queue, triages, sends a notice, the merchant answers
it on its own page, the regulator suspends the store; the store is gone from the diner's list at
once, and its public credit page shows the sanction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import square as square_zone
from compliance.models import Flag, LegalEntity, Licence, StoreRegistration
from delivery.models import Store
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from tests.conftest import LiveServer, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# A gazetteer address inside the store's zone (delivery/data/gazetteer.json).
INSIDE_ADDRESS = "上海市 昌平路300号附近"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def menu(transactional_db: None) -> MenuStore:
    return build_menu_store(location=Point(121.441, 31.238, srid=4326), zone=square_zone(121.441, 31.238, 0.02))


@pytest.fixture
def flag(menu: MenuStore) -> Flag:
    entity = LegalEntity.objects.create(name="上海一证多店餐饮有限公司", uscc="91310106MA1FL2XQ0X")
    StoreRegistration.objects.create(store=menu.store, entity=entity)
    Licence.objects.create(kind=Licence.Kind.FOOD_BUSINESS, number="JY23101060012345", store=menu.store)
    now = timezone.now()
    flag: Flag = Flag.objects.create(
        code="LICENCE_SHARED",
        store=menu.store,
        severity=Flag.Severity.HIGH,
        evidence={"licence": "JY23101060012345", "stores": [{"id": menu.store.pk, "name": "另一家店"}]},
        raised_at=now,
        evaluated_at=now,
    )
    return flag


def _page(browser: Any, server: LiveServer, user: User | None) -> tuple[Any, Any]:
    context = browser.new_context(locale="en-US", viewport=PHONE)
    if user is not None:
        name, value = session_cookie(user).split("=", 1)
        context.add_cookies([{"name": name, "value": value, "url": server.url}])
    return context, context.new_page()


def _diner_store_names(page: Any, server: LiveServer) -> str:
    page.goto(server.url + "/stores/")
    return str(page.locator("main").inner_text())


def test_a_regulator_reviews_a_flag_suspends_the_store_and_the_public_sees_it(
    browser: Any, daphne_server: LiveServer, regulator: User, diner: User, menu: MenuStore, flag: Flag, tmp_path: Path
) -> None:
    store = menu.store
    owner = StoreMembershipFactory(store=store, user__username="owner-browser").user
    diner_context, diner_page = _page(browser, daphne_server, diner)
    regulator_context, page = _page(browser, daphne_server, regulator)
    owner_context, owner_page = _page(browser, daphne_server, owner)
    public_context, public_page = _page(browser, daphne_server, None)
    try:
        # The diner sees the store before.
        diner_page.goto(daphne_server.url + "/address/")
        diner_page.get_by_test_id("address-input").fill(INSIDE_ADDRESS)
        diner_page.get_by_test_id("address-submit").click()
        diner_page.wait_for_url(daphne_server.url + "/stores/")
        assert store.name_en in _diner_store_names(diner_page, daphne_server)

        # The regulator's queue holds the flag; reviewing it opens the case page with its evidence.
        page.goto(daphne_server.url + "/regulator/")
        row = page.get_by_test_id("queue-row").filter(has_text=store.name_en)
        assert "LICENCE_SHARED" in row.inner_text()
        page.screenshot(path=str(tmp_path / "regulator-queue-390.png"), full_page=True)
        row.get_by_test_id("review-flag").click()
        page.wait_for_url(f"{daphne_server.url}/regulator/cases/*/")
        assert "JY23101060012345" in page.get_by_test_id("evidence-flags").inner_text()
        case_url = page.url
        page.get_by_test_id("act-triage").click()
        page.get_by_test_id("act-review").click()
        page.get_by_test_id("notice-text").fill("One licence is used by two stores. Explain.")
        page.get_by_test_id("act-notice").click()
        assert page.get_by_test_id("case-status").inner_text() == "Notice sent"

        # The merchant reads the notice and answers it.
        owner_page.goto(case_url.replace("/regulator/cases/", "/merchant/cases/"))
        assert "One licence is used by two stores." in owner_page.get_by_test_id("notice").inner_text()
        owner_page.get_by_test_id("case-text").fill("The other store is not ours.")
        owner_page.get_by_test_id("merchant-submit").click()
        owner_page.wait_for_load_state()

        # The store's board is open while the regulator suspends the store.
        owner_page.goto(f"{daphne_server.url}/board/{store.pk}/")
        owner_page.locator("[data-testid=board-conn][data-status=open]").wait_for()
        page.goto(case_url)
        page.get_by_test_id("decision").select_option("suspension")
        page.get_by_test_id("decision-reason").fill("Borrowed food-business licence.")
        page.get_by_test_id("act-decide").click()
        assert "Suspend" in page.get_by_test_id("decision-shown").inner_text()
        assert page.get_by_test_id("store-status").inner_text() == "Suspended"
        page.screenshot(path=str(tmp_path / "regulator-case-390.png"), full_page=True)

        # The board says so without a reload (the sanction's push).
        owner_page.wait_for_function(
            "() => document.getElementById('store-state').classList.contains('sanctioned')", timeout=10000
        )
        assert "regulator" in owner_page.locator("#store-state").inner_text()

        # Gone from the diner's app at once.
        assert store.name_en not in _diner_store_names(diner_page, daphne_server)
        assert diner_page.goto(f"{daphne_server.url}/stores/{store.pk}/").status == 404

        # The public credit page shows the sanction, found by searching the credit code.
        public_page.goto(daphne_server.url + "/credit/")
        public_page.get_by_test_id("credit-q").fill("91310106MA1FL2XQ0X")
        public_page.get_by_test_id("credit-q").press("Enter")
        public_page.get_by_test_id("credit-stores").get_by_role("link", name=store.name_en).click()
        sanctions = public_page.get_by_test_id("credit-sanctions")
        assert "Suspension" in sanctions.inner_text() and "Borrowed food-business licence." in sanctions.inner_text()
        public_page.screenshot(path=str(tmp_path / "credit-store-390.png"), full_page=True)
        assert Store.objects.get(pk=store.pk).status == Store.Status.SUSPENDED
    finally:
        for context in (diner_context, regulator_context, owner_context, public_context):
            context.close()
