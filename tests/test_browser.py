"""A real browser (Debian's Chromium, driven by Playwright) against a live Daphne."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from accounts.models import User
from accounts.tests.factories import PASSWORD
from core.realtime import event_push, group_for_user
from tests.conftest import LiveServer, session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _push_notice(user: User, text: str) -> None:
    """Push from another thread: this one runs Playwright's event loop, beside which
    async_to_sync (inside event_push) refuses to run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(event_push, group_for_user(user.pk), "notice", {"text": text, "level": "info"}).result(timeout=10)


def test_home_switch_language_and_log_in(browser: Any, daphne_server: LiveServer, diner: User) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(daphne_server.url + "/")
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        assert page.get_by_test_id("headline").inner_text() == "放心外卖，送到家。"
        assert page.get_by_test_id("lang-en").inner_text() == "English"  # each language named in itself

        page.get_by_test_id("lang-en").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_test_id("headline").inner_text() == "Food you can trust, delivered."
        assert page.get_by_test_id("lang-zh-hans").inner_text() == "简体中文"

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


def test_live_notices_arrive_and_a_dropped_socket_reconnects_and_resyncs(
    browser: Any, daphne_server: LiveServer, diner: User
) -> None:
    """The shared WebSocket client (ws.js): pushes arrive; after the socket drops, it reconnects
    with backoff and calls the page's resync again, and pushes arrive again."""
    context = browser.new_context(locale="en-US")
    name, value = session_cookie(diner).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": daphne_server.url}])
    page = context.new_page()
    status = page.locator("#live-status")
    try:
        page.goto(daphne_server.url + "/")
        page.wait_for_function("document.getElementById('live-status').dataset.resyncs === '1'")
        assert status.get_attribute("data-status") == "open"

        _push_notice(diner, "Your order is on its way")
        page.get_by_test_id("toast").filter(has_text="Your order is on its way").wait_for()

        page.evaluate("window.mingchuLive.socket.close()")  # a network drop, not our own close()
        page.wait_for_function("document.getElementById('live-status').dataset.resyncs === '2'")
        assert status.get_attribute("data-status") == "open"

        _push_notice(diner, "Delivered")
        page.get_by_test_id("toast").filter(has_text="Delivered").wait_for()
    finally:
        context.close()
