"""A real browser (Debian's Chromium, driven by Playwright) against a live Daphne."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.tests.factories import PASSWORD
from tests.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_home_switch_language_and_log_in(browser: Any, daphne_server: LiveServer, diner: User) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(daphne_server.url + "/")
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        assert page.get_by_test_id("headline").inner_text() == "放心外卖，送到家。"

        page.get_by_test_id("lang-en").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_test_id("headline").inner_text() == "Food you can trust, delivered."

        page.get_by_test_id("login-link").click()
        page.get_by_label("Username").fill(diner.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url(daphne_server.url + "/")
        assert page.get_by_test_id("who").inner_text() == str(diner)
        assert "Diner" in page.get_by_test_id("roles").inner_text()
    finally:
        context.close()


def test_wrong_password_shows_the_error_in_the_form(browser: Any, daphne_server: LiveServer, diner: User) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        page.goto(daphne_server.url + "/accounts/login/")
        page.get_by_label("Username").fill(diner.username)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_test_id("login-submit").click()
        assert page.get_by_test_id("form-error").is_visible()
        assert page.get_by_label("Username").input_value() == diner.username
    finally:
        context.close()


def test_home_map_draws_without_tiles(browser: Any, daphne_server: LiveServer) -> None:
    """No internet here: the tile requests fail, the map still draws and says so."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.route("**/tile.openstreetmap.org/**", lambda route: route.abort())
    try:
        page.goto(daphne_server.url + "/")
        page.get_by_test_id("map-offline").wait_for(timeout=10000)
        assert page.locator("#store-map.leaflet-container").count() == 1
    finally:
        context.close()
