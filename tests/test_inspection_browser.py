"""Inspections in a real browser (Chromium through Playwright, a phone-sized screen) against a
live Daphne: a regulator records an inspection from the code list, the store's owner contests
it with a reply, and a diner sees the pending grade, the reply and the licence badge on the
store page. And the beat sweep's task on a real Celery worker."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import square
from compliance.inspections.models import Inspection
from compliance.inspections.schemes import ViolationInput
from compliance.inspections.services import inspection_record
from compliance.inspections.tasks import inspection_grades_finalise
from compliance.inspections.tests.factories import violation_codes_ensure
from compliance.models import Licence, Verification
from delivery.models import StoreMembership
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from tests.conftest import LiveServer, session_cookie

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _codes(transactional_db: None) -> None:
    violation_codes_ensure()


@pytest.fixture
def menu(transactional_db: None) -> MenuStore:
    return build_menu_store(location=Point(121.441, 31.238, srid=4326), zone=square(121.441, 31.238, 0.02))


def _page(browser: Any, server: LiveServer, user: User) -> tuple[Any, Any]:
    context = browser.new_context(locale="en-US", viewport=PHONE)
    name, value = session_cookie(user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    return context, context.new_page()


@pytest.mark.browser
@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_regulator_inspects_owner_replies_diner_sees_the_grade(
    browser: Any, daphne_server: LiveServer, regulator: User, diner: User, menu: MenuStore
) -> None:
    store = menu.store
    owner = StoreMembershipFactory(store=store, role=StoreMembership.Role.OWNER).user
    today = timezone.localdate()
    Licence.objects.create(
        kind=Licence.Kind.FOOD_BUSINESS,
        number="JY13101060000001",
        store=store,
        valid_from=today - datetime.timedelta(days=30),
        valid_to=today + datetime.timedelta(days=300),
        verification=Verification.VERIFIED,
    )

    context, page = _page(browser, daphne_server, regulator)
    page.goto(f"{daphne_server.url}/regulator/stores/{store.pk}/inspect/")
    page.get_by_label("Type").select_option("complaint")
    page.get_by_text("CN-05", exact=False).click()
    page.get_by_text("CN-10", exact=False).click()
    page.get_by_test_id("inspection-submit").click()
    page.wait_for_url("**/inspections/*/")
    assert "良好" in page.get_by_test_id("inspection-grade").inner_text()
    context.close()
    inspection = Inspection.objects.get(store=store)
    assert (inspection.kind, inspection.score, inspection.grade_state) == ("complaint", 87, "pending")

    context, page = _page(browser, daphne_server, owner)
    page.goto(f"{daphne_server.url}/inspections/{inspection.pk}/")
    page.get_by_test_id("reply-link").click()
    page.get_by_label("Your reply").fill("The boards were separated the same afternoon.")
    page.get_by_test_id("reply-submit").click()
    page.wait_for_url(f"**/inspections/{inspection.pk}/")
    assert "separated the same afternoon" in page.get_by_test_id("merchant-reply").inner_text()
    context.close()

    context, page = _page(browser, daphne_server, diner)
    page.goto(f"{daphne_server.url}/stores/{store.pk}/")
    badges = page.locator(".store-badges")
    assert "良好" in badges.get_by_test_id("grade-badge").inner_text()
    assert badges.get_by_test_id("licence-badge").is_visible()
    assert "separated the same afternoon" in badges.get_by_test_id("badge-reply").inner_text()
    context.close()


@pytest.mark.live
def test_worker_finalises_expired_grades_once(celery_worker: Any, menu: MenuStore) -> None:
    inspection = inspection_record(
        store=menu.store,
        inspected_on=timezone.localdate(),
        scheme="cn",
        violations=[ViolationInput(code="CN-09", points=5)],
    )
    Inspection.objects.filter(pk=inspection.pk).update(contest_until=timezone.localdate() - datetime.timedelta(days=1))
    assert inspection_grades_finalise.delay().get(timeout=30) == 1
    assert inspection_grades_finalise.delay().get(timeout=30) == 0
    inspection.refresh_from_db()
    assert inspection.grade_state == Inspection.GradeState.FINAL
