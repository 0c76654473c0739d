"""The restaurant's live board in a real browser (Chromium through Playwright) against a live
Daphne: orders appear without reload and alert, accept and ready reach the diner's page, the
accept deadline rejects and refunds, one automatic ticket across two boards, strangers refused,
and a Redis restart under the board (a throwaway redis-server)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test.utils import override_settings

from accounts.models import User
from delivery.models import Order, Payment, TicketPrint
from delivery.tests.board_helpers import place_paid_order
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from dispatch.services.dispatching import orders_enqueue
from tests.conftest import ROOT, LiveServer, _free_port, _stop, _test_process_env, in_thread, session_cookie
from tests.test_board_live import _redis_up

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Printing is the browser's dialog; the tests count the calls instead.
COUNT_PRINTS = "window.__printed = 0; window.print = () => { window.__printed += 1; };"


@pytest.fixture
def manager(menu: MenuStore) -> User:
    user: User = StoreMembershipFactory(store=menu.store, role="owner").user
    return user


def _page(browser: Any, server: LiveServer, user: User, *, init: str = COUNT_PRINTS) -> tuple[Any, Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    name, value = session_cookie(user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server.url}])
    context.add_init_script(init)
    return context, context.new_page()


def _open_board(page: Any, server: LiveServer, store_id: int) -> None:
    page.goto(f"{server.url}/board/{store_id}/")
    page.locator("[data-testid=board-conn][data-status=open]").wait_for(timeout=10000)


def test_a_diners_order_appears_on_the_board_and_accept_then_ready_reach_the_diners_page(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    board_context, board = _page(browser, daphne_server, staff)
    diner_context, mine = _page(browser, daphne_server, diner)
    try:
        _open_board(board, daphne_server, menu.store.pk)
        order: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        mine.goto(f"{daphne_server.url}/orders/{order.number}/")
        mine.locator("#order-status[data-status=paid]").wait_for()

        # No reload: the push brings it into the "new" column, with the alert on.
        board.get_by_test_id("col-paid").get_by_test_id(f"order-{order.number}").wait_for(timeout=10000)
        assert board.title().startswith("(1)")
        assert "alerting" in board.evaluate("document.body.className")
        assert "Scallion oil noodles" in board.get_by_test_id(f"order-{order.number}").inner_text()

        board.get_by_test_id(f"prep-{order.number}").fill("20")
        board.get_by_test_id(f"accept-{order.number}").click()
        board.get_by_test_id("col-accepted").get_by_test_id(f"order-{order.number}").wait_for()
        assert not board.title().startswith("(")
        assert "alerting" not in board.evaluate("document.body.className")
        mine.locator("#order-status[data-status=accepted]").wait_for(timeout=10000)
        assert Order.objects.get(pk=order.pk).prep_minutes == 20
        # Dispatch takes the accepted order: the board shows the search for a courier at once.
        in_thread(orders_enqueue)
        board.locator(f"[data-testid=dispatch-{order.number}][data-dispatch=waiting]").wait_for(timeout=10000)

        board.get_by_test_id(f"ready-{order.number}").click()
        board.get_by_test_id("col-ready").get_by_test_id(f"order-{order.number}").wait_for()
        mine.locator("#order-status[data-status=ready]").wait_for(timeout=10000)
        assert board.evaluate("window.__printed") == 1  # printed on accept
    finally:
        board_context.close()
        diner_context.close()


def test_acting_on_an_order_another_device_moved_shows_a_message(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    context, board = _page(browser, daphne_server, staff)
    try:
        _open_board(board, daphne_server, menu.store.pk)
        order: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        board.get_by_test_id(f"accept-{order.number}").wait_for(timeout=10000)
        # The diner cancels while the board still shows the order as new; the push is held back.
        board.evaluate("window.boardLive.socket.close(); window.boardLive.close()")
        from delivery.transitions import order_transition

        in_thread(order_transition, order_id=order.pk, to=Order.Status.CANCELLED, actor=diner, actor_role="diner")
        board.get_by_test_id(f"accept-{order.number}").click()
        toast = board.get_by_test_id("toast").first
        toast.wait_for()
        assert "cancelled" in toast.inner_text()
        board.get_by_test_id(f"order-{order.number}").wait_for(state="detached")
        assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    finally:
        context.close()


def test_an_unanswered_order_is_rejected_and_refunded_after_the_deadline(
    browser: Any,
    daphne_server: LiveServer,
    menu: MenuStore,
    staff: User,
    diner: User,
    celery_worker: Any,
    celery_beat: Any,
    settings: Any,
) -> None:
    """Time control: the deadline is shortened to 3 s; real Celery beat sends the deadline sweep
    (every half second here) and a real worker runs it; the board drops the order and the
    diner's page says why."""
    settings.ORDER_ACCEPT_DEADLINE_MINUTES = 0.05
    board_context, board = _page(browser, daphne_server, staff)
    diner_context, mine = _page(browser, daphne_server, diner)
    try:
        _open_board(board, daphne_server, menu.store.pk)
        order: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        board.get_by_test_id(f"order-{order.number}").wait_for(timeout=10000)
        mine.goto(f"{daphne_server.url}/orders/{order.number}/")
        mine.locator("#order-status[data-status=rejected]").wait_for(timeout=20000)
        assert "in time" in mine.get_by_test_id("reason").inner_text()
        board.get_by_test_id(f"order-{order.number}").wait_for(state="detached", timeout=10000)
        payment = Payment.objects.get(order=order)
        assert payment.refunded_cents == order.total_cents and payment.refunds.count() == 1
    finally:
        board_context.close()
        diner_context.close()


def test_one_automatic_print_across_two_boards_and_a_reconnect(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, manager: User, diner: User
) -> None:
    first_context, first = _page(browser, daphne_server, staff)
    second_context, second = _page(browser, daphne_server, manager)
    try:
        _open_board(first, daphne_server, menu.store.pk)
        _open_board(second, daphne_server, menu.store.pk)
        order: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        second.get_by_test_id(f"order-{order.number}").wait_for(timeout=10000)
        first.get_by_test_id(f"accept-{order.number}").click()
        for page in (first, second):
            page.get_by_test_id("col-accepted").get_by_test_id(f"order-{order.number}").wait_for(timeout=10000)
        second.reload()  # a reconnect: the order is accepted and printed already
        _open_board(second, daphne_server, menu.store.pk)
        second.get_by_test_id(f"order-{order.number}").wait_for()
        time.sleep(1.0)
        assert first.evaluate("window.__printed") + second.evaluate("window.__printed") == 1
        assert TicketPrint.objects.filter(order=order, kind="auto").count() == 1

        second.get_by_test_id(f"reprint-{order.number}").click()
        second.wait_for_function("window.__printed === 1")
        assert TicketPrint.objects.filter(order=order).count() == 2
    finally:
        first_context.close()
        second_context.close()


def test_another_stores_staff_cannot_open_the_board(browser: Any, daphne_server: LiveServer, menu: MenuStore) -> None:
    stranger = StoreMembershipFactory(store=build_menu_store().store, role="owner").user
    context, page = _page(browser, daphne_server, stranger)
    try:
        response = page.goto(f"{daphne_server.url}/board/{menu.store.pk}/")
        assert response.status == 404
        api = page.request.get(f"{daphne_server.url}/api/v1/board/stores/{menu.store.pk}/")
        assert api.status == 404 and api.json()["code"] == "not_found"
    finally:
        context.close()


def test_sold_out_and_pause_show_on_the_diners_pages_at_once(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    board_context, board = _page(browser, daphne_server, staff)
    diner_context, mine = _page(browser, daphne_server, diner)
    try:
        board.goto(f"{daphne_server.url}/board/{menu.store.pk}/menu/")
        board.get_by_test_id(f"sold-out-item-{menu.tea.pk}").click()
        board.get_by_test_id(f"available-item-{menu.tea.pk}").wait_for()
        mine.goto(f"{daphne_server.url}/stores/{menu.store.pk}/")
        tea = mine.locator(f"[data-item-id='{menu.tea.pk}']")
        assert tea.get_by_test_id("sold-out").count() == 1

        _open_board(board, daphne_server, menu.store.pk)
        board.get_by_test_id("pause").click()
        board.get_by_test_id("resume").wait_for()
        mine.goto(f"{daphne_server.url}/stores/{menu.store.pk}/")
        assert mine.get_by_test_id("store-paused").count() == 1
    finally:
        board_context.close()
        diner_context.close()


# --- Redis restarted under the board ----------------------------------------------------------


class ThrowawayRedis:
    def __init__(self) -> None:
        self.port = _free_port()
        self.process = _redis_up(self.port)

    def stop(self) -> None:
        _stop(self.process)

    def start(self) -> None:
        self.process = _redis_up(self.port)


@pytest.fixture
def throwaway(django_db_setup: None) -> Iterator[tuple[ThrowawayRedis, LiveServer]]:
    """A redis-server of this test's own, and a Daphne using it (the shared Redis on 6379 is
    never restarted)."""
    redis = ThrowawayRedis()
    port = _free_port()
    env = {**_test_process_env(), "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    server = LiveServer(host="127.0.0.1", port=port)
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/ping", timeout=1):  # noqa: S310 - our own server
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                _stop(process)
                redis.stop()
                raise
            time.sleep(0.2)
    try:
        yield redis, server
    finally:
        _stop(process)
        redis.stop()


def test_redis_restarted_under_the_board_the_page_reconnects_and_resyncs(
    browser: Any, throwaway: tuple[ThrowawayRedis, LiveServer], menu: MenuStore, staff: User, diner: User, settings: Any
) -> None:
    redis, server = throwaway
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {
        **layers["default"]["CONFIG"],
        "hosts": [{"address": f"redis://127.0.0.1:{redis.port}/1"}],
    }
    context, board = _page(browser, server, staff, init=COUNT_PRINTS + "window.BOARD_HEARTBEAT_MS = 1000;")
    try:
        _open_board(board, server, menu.store.pk)
        redis.stop()
        # An order while Redis is down: its push cannot reach this board.
        lost: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        board.locator("[data-testid=board-conn]:not([data-status=open])").wait_for(timeout=10000)
        redis.start()
        board.locator("[data-testid=board-conn][data-status=open]").wait_for(timeout=30000)
        board.get_by_test_id(f"order-{lost.number}").wait_for(timeout=10000)  # the resync
        # Pushes flow again through the restarted Redis.
        with override_settings(CHANNEL_LAYERS=layers):
            fresh: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        board.get_by_test_id(f"order-{fresh.number}").wait_for(timeout=10000)
        assert board.locator(f"[data-testid=order-{lost.number}]").count() == 1
    finally:
        context.close()


def test_the_socket_killed_while_orders_arrive_loses_and_duplicates_nothing(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    context, board = _page(browser, daphne_server, staff)
    try:
        _open_board(board, daphne_server, menu.store.pk)
        numbers = []
        for index in range(6):
            if index % 2 == 0:
                # Dropped once open (closing a socket still reconnecting would drop nothing): the
                # client reconnects, and the order placed meanwhile arrives by the resync.
                board.locator("[data-testid=board-conn][data-status=open]").wait_for()
                board.evaluate("window.boardLive.socket.close()")
            numbers.append(in_thread(place_paid_order, diner=diner, menu=menu).number)
        column = board.get_by_test_id("col-paid")
        board.wait_for_function(
            "n => document.querySelectorAll('[data-testid=col-paid] li.order').length === n", arg=len(numbers)
        )
        board.locator("[data-testid=board-conn][data-status=open]").wait_for()
        time.sleep(1.0)  # late pushes and resyncs settle; nothing may appear twice
        shown = column.locator("li.order").evaluate_all("nodes => nodes.map(n => n.dataset.number)")
        assert sorted(shown) == sorted(numbers)
        # The first connection and one per drop, each followed by a resync. (Resyncs that overlap
        # are folded into one fetch, so their count depends on timing; the connections' does not.)
        assert board.evaluate("window.boardLive.opens") >= 4
        assert board.evaluate("window.boardStats.resyncs") >= 1
    finally:
        context.close()


def test_the_new_order_alert_keeps_sounding_in_a_background_tab(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    """Another tab of the same browser is brought to the front, then an order arrives: the push
    still reaches the board, whose title counts it and whose page flashes, and the beeps are put
    on the WebAudio clock two minutes ahead. Headless Chromium keeps every page "visible" (there
    is no real background tab to be had, and CDP's frozen lifecycle state did not stop timers
    here), so the test makes the board worse off than any background tab: it holds the page's
    main thread for 3 s, so no script of it runs, and checks that the audio clock, which plays
    the scheduled beeps on its own thread, ran on with beeps still ahead of it."""
    context, board = _page(browser, daphne_server, staff)
    try:
        _open_board(board, daphne_server, menu.store.pk)
        board.get_by_test_id("sound-on").click()  # the user gesture browsers require for sound
        board.wait_for_function("window.boardAlert().audio === 'running'", timeout=10000)
        quiet = board.evaluate("window.boardAlert()")
        assert quiet["sounding"] is False and not quiet["title"].startswith("(")

        other = context.new_page()
        other.goto(f"{daphne_server.url}/board/{menu.store.pk}/menu/")
        other.bring_to_front()

        order: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        board.wait_for_function("document.title.startsWith('(1)')", timeout=15000)
        first = board.evaluate("window.boardAlert()")
        assert first["flashing"] is True and first["sounding"] is True and first["audio"] == "running"
        # Beeps every 2 s are already on the audio clock for the next two minutes (at least 100 s
        # ahead): no timer needs to fire in the background for them to sound.
        assert first["scheduledUntil"] - first["now"] >= 100

        # Hold the board's main thread for 3 s: no timer, no task of the page runs (a background
        # tab still gets throttled timers; this is worse), while the other tab stays in front.
        board.evaluate("() => { const end = performance.now() + 3000; while (performance.now() < end); }")
        later = board.evaluate("window.boardAlert()")
        assert later["audio"] == "running" and later["sounding"] is True
        assert later["now"] - first["now"] >= 2.5  # the audio clock ran on, the beeps with it
        assert later["scheduledUntil"] - later["now"] >= 90  # with beeps still ahead of it
        assert later["title"].startswith("(1)") and later["flashing"] is True

        # Someone acts (back on the board): the sound stops and the count goes.
        board.bring_to_front()
        board.get_by_test_id(f"accept-{order.number}").click()
        board.get_by_test_id("col-accepted").get_by_test_id(f"order-{order.number}").wait_for()
        done = board.evaluate("window.boardAlert()")
        assert done["sounding"] is False and not done["title"].startswith("(")
    finally:
        context.close()


def _age(number: str, **fields: Any) -> None:
    """Move an order's timestamps back (time passing) without a push."""
    from django.utils import timezone

    Order.objects.filter(number=number).update(**{k: timezone.now() - v for k, v in fields.items()})


def test_late_orders_are_highlighted_on_the_live_board(
    browser: Any, daphne_server: LiveServer, menu: MenuStore, staff: User, diner: User
) -> None:
    """An accepted order past its pickup time and a new order close to its accept deadline are
    marked late when the board next resyncs (no reload); a fresh order is not."""
    from datetime import timedelta

    from delivery.services import board as svc

    context, board = _page(browser, daphne_server, staff)
    try:
        _open_board(board, daphne_server, menu.store.pk)
        cooking: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        card = board.get_by_test_id(f"order-{cooking.number}")
        card.wait_for(timeout=10000)
        in_thread(svc.order_accept, user=staff, store_id=menu.store.pk, number=cooking.number, prep_minutes=5)
        board.get_by_test_id("col-accepted").get_by_test_id(f"order-{cooking.number}").wait_for(timeout=10000)
        assert "late" not in (card.get_attribute("class") or "").split()

        waiting: Order = in_thread(place_paid_order, diner=diner, menu=menu)
        board.get_by_test_id(f"order-{waiting.number}").wait_for(timeout=10000)
        # Time passes: the pickup time of the accepted order is behind us (accepted 10 min ago
        # with 5 min of prep), and the new order has used 70 % of its time to be accepted.
        in_thread(_age, number=cooking.number, accepted_at=timedelta(minutes=10))
        in_thread(_age, number=waiting.number, paid_at=svc.accept_deadline() * 0.7)
        fresh: Order = in_thread(place_paid_order, diner=diner, menu=menu)  # its push resyncs the board
        board.get_by_test_id(f"order-{fresh.number}").wait_for(timeout=10000)

        board.locator(f"li.order.late[data-number='{cooking.number}']").wait_for(timeout=10000)
        board.locator(f"li.order.late[data-number='{waiting.number}']").wait_for(timeout=10000)
        assert board.get_by_test_id(f"order-{cooking.number}").locator(".late-tag").is_visible()
        assert "late" not in (board.get_by_test_id(f"order-{fresh.number}").get_attribute("class") or "").split()
        assert board.locator("li.order.late").count() == 2
    finally:
        context.close()
