"""The live board's services: accept/reject/ready with compare-and-swap, the accept deadline,
ticket prints claimed once, busy mode, pause, sold out, auto-pause; the board API's refusals."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from delivery.models import LedgerEntry, MenuItem, Option, Order, OrderEvent, PauseReason, Payment, Store, TicketPrint
from delivery.selectors.board import board_orders, store_performance
from delivery.services import board as svc
from delivery.services.orders import LineRequest, OrderRefused, PlaceRequest, order_quote
from delivery.tests.board_helpers import place_paid_order, refresh
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store
from delivery.transitions import order_transition

pytestmark = pytest.mark.django_db
S = Order.Status


@pytest.fixture
def menu() -> MenuStore:
    return build_menu_store()


@pytest.fixture
def staff(menu) -> User:  # type: ignore[no-untyped-def]
    user: User = StoreMembershipFactory(store=menu.store, role="staff").user
    return user


@pytest.fixture
def manager(menu) -> User:  # type: ignore[no-untyped-def]
    user: User = StoreMembershipFactory(store=menu.store, role="owner").user
    return user


def test_accept_uses_the_store_prep_time_plus_busy_minutes_and_writes_an_event(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    svc.store_busy_set(user=staff, store_id=menu.store.pk, extra_minutes=10)
    order = place_paid_order(diner, menu)

    accepted = svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number, version=order.version)

    assert accepted.status == S.ACCEPTED
    assert accepted.prep_minutes == menu.store.default_prep_minutes + 10
    assert OrderEvent.objects.filter(order=order, to_status=S.ACCEPTED, actor=staff).count() == 1


def test_accept_twice_is_idempotent_and_a_stale_version_after_a_move_is_refused(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number, version=order.version)
    again = svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number, version=order.version)
    assert again.status == S.ACCEPTED  # a retried request: the same answer

    with pytest.raises(svc.BoardRefused) as refused:
        svc.order_reject(user=staff, store_id=menu.store.pk, number=order.number, reason="x", version=order.version)
    assert refused.value.code == "order_moved"


def test_a_stale_board_cannot_accept_a_cancelled_order(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    shown_version = order.version
    order_transition(order_id=order.pk, to=S.CANCELLED, actor=diner, actor_role="diner")

    with pytest.raises(svc.BoardRefused) as refused:
        svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number, version=shown_version)
    assert refused.value.code == "order_moved"
    assert "cancelled" in refused.value.message
    # Even without a version (an old client), the state machine refuses.
    with pytest.raises(svc.BoardRefused):
        svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number)
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_two_devices_racing_accept_and_reject_one_wins(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def run(action: str) -> None:
        barrier.wait()
        try:
            if action == "accept":
                svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number, version=order.version)
            else:
                svc.order_reject(
                    user=staff, store_id=menu.store.pk, number=order.number, reason="busy", version=order.version
                )
            outcomes.append(action)
        except svc.BoardRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(a,)) for a in ("accept", "reject")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) in (["accept", "refused"], ["refused", "reject"])
    assert OrderEvent.objects.filter(order=order, to_status__in=[S.ACCEPTED, S.REJECTED]).count() == 1


def test_reject_refunds_in_full(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    svc.order_reject(user=staff, store_id=menu.store.pk, number=order.number, reason="售罄", version=order.version)
    order.refresh_from_db()
    assert order.status == S.REJECTED and order.reason == "售罄"
    assert Payment.objects.get(order=order).refunded_cents == order.total_cents


def test_reject_needs_a_reason(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    with pytest.raises(svc.BoardRefused) as refused:
        svc.order_reject(user=staff, store_id=menu.store.pk, number=order.number, reason="  ")
    assert refused.value.code == "invalid_reason"


def test_ready_then_picked_up_only_for_self_delivery(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number)
    svc.order_start_preparing(user=staff, store_id=menu.store.pk, number=order.number)
    assert svc.order_mark_ready(user=staff, store_id=menu.store.pk, number=order.number).status == S.READY
    with pytest.raises(svc.BoardRefused) as refused:
        svc.order_mark_picked_up(user=staff, store_id=menu.store.pk, number=order.number)
    assert refused.value.code == "not_self_delivery"
    Store.objects.filter(pk=menu.store.pk).update(self_delivery=True)
    assert svc.order_mark_picked_up(user=staff, store_id=menu.store.pk, number=order.number).status == S.PICKED_UP


def test_another_stores_staff_is_refused(menu, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    other = build_menu_store()
    stranger = StoreMembershipFactory(store=other.store).user
    with pytest.raises(svc.BoardRefused) as refused:
        svc.order_accept(user=stranger, store_id=menu.store.pk, number=order.number)
    assert refused.value.status == 404
    with pytest.raises(svc.BoardRefused):  # nor through their own store's id
        svc.order_accept(user=stranger, store_id=other.store.pk, number=order.number)
    assert Order.objects.get(pk=order.pk).status == S.PAID


# --- The accept deadline -----------------------------------------------------------------------


def test_auto_reject_after_the_deadline_refunds_once_and_reruns_do_nothing(menu, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    early = timezone.now() + timedelta(minutes=1)
    assert svc.order_auto_reject(order_id=order.pk, now=early) is False
    assert Order.objects.get(pk=order.pk).status == S.PAID

    late = timezone.now() + svc.accept_deadline() + timedelta(seconds=1)
    assert svc.order_auto_reject(order_id=order.pk, now=late) is True
    assert svc.order_auto_reject(order_id=order.pk, now=late) is False
    assert svc.orders_auto_reject_due(now=late) == 0

    order.refresh_from_db()
    assert order.status == S.REJECTED and order.reason == svc.AUTO_REJECT_REASON
    payment = Payment.objects.get(order=order)
    assert payment.refunded_cents == order.total_cents
    assert payment.refunds.count() == 1
    assert refresh(menu.store).missed_in_row == 1


def test_an_accepted_order_is_not_auto_rejected(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number)
    late = timezone.now() + svc.accept_deadline() * 2
    assert svc.orders_auto_reject_due(now=late) == 0
    assert Order.objects.get(pk=order.pk).status == S.ACCEPTED


def test_missed_orders_in_a_row_pause_the_store_until_the_owner_resumes(menu, staff, manager, diner, settings) -> None:  # type: ignore[no-untyped-def]
    settings.BOARD_MISSED_ORDERS_PAUSE = 2
    late = timezone.now() + svc.accept_deadline() + timedelta(seconds=5)
    for _ in range(2):
        place_paid_order(diner, menu)
    assert svc.orders_auto_reject_due(now=late) == 2
    store = refresh(menu.store)
    assert store.pause_reason == PauseReason.MISSED_ORDERS and store.paused_at(timezone.now())
    with pytest.raises(OrderRefused) as refused:
        order_quote(diner=diner, request=_request(menu))
    assert refused.value.code == "store_paused"

    with pytest.raises(svc.BoardRefused) as not_owner:
        svc.store_resume(user=staff, store_id=store.pk)
    assert not_owner.value.code == "owner_must_resume"
    svc.store_resume(user=manager, store_id=store.pk)
    assert not refresh(store).paused_at(timezone.now())
    assert refresh(store).missed_in_row == 0


def _request(menu) -> PlaceRequest:  # type: ignore[no-untyped-def]
    return PlaceRequest(
        store_id=menu.store.pk,
        lines=(LineRequest(item_id=menu.tea.pk, quantity=2),),
        delivery_address="x",
        delivery_lat=31.238,
        delivery_lng=121.441,
    )


# --- Store controls ----------------------------------------------------------------------------


def test_pause_for_a_duration_stops_orders_then_ends_by_itself(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    until = timezone.now() + timedelta(minutes=30)
    assert order_quote(diner=diner, request=_request(menu))  # taking orders before the pause
    svc.store_pause(user=staff, store_id=menu.store.pk, until=until)
    with pytest.raises(OrderRefused) as refused:
        order_quote(diner=diner, request=_request(menu))
    assert refused.value.code == "store_paused"
    assert not refresh(menu.store).paused_at(until + timedelta(seconds=1))
    assert svc.store_pauses_expire(now=until + timedelta(seconds=1)) == 1
    assert refresh(menu.store).pause_reason == ""
    assert order_quote(diner=diner, request=_request(menu))  # and taking them again after it


def test_pause_refuses_a_time_in_the_past(menu, staff) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(svc.BoardRefused) as refused:
        svc.store_pause(user=staff, store_id=menu.store.pk, until=timezone.now() - timedelta(minutes=1))
    assert refused.value.code == "invalid_pause"


def test_busy_mode_lengthens_the_promised_eta(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    before = place_paid_order(diner, menu)
    svc.store_busy_set(user=staff, store_id=menu.store.pk, extra_minutes=20)
    after = place_paid_order(diner, menu)
    gained = (after.eta_at - after.placed_at) - (before.eta_at - before.placed_at)
    assert timedelta(minutes=19) < gained < timedelta(minutes=21)


def test_sold_out_item_until_end_of_day_refuses_orders_and_comes_back(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    item = svc.item_sold_out_set(user=staff, store_id=menu.store.pk, item_id=menu.tea.pk, mode="end_of_day")
    assert item.available is False and item.sold_out_until is not None
    assert timezone.localtime(item.sold_out_until).hour == 0
    with pytest.raises(OrderRefused) as refused:
        order_quote(diner=diner, request=_request(menu))
    assert refused.value.code == "sold_out"
    assert svc.sold_out_restore_due(now=item.sold_out_until) == 1
    assert MenuItem.objects.get(pk=menu.tea.pk).available is True


def test_sold_out_option_for_hours_and_indefinitely(menu, staff) -> None:  # type: ignore[no-untyped-def]
    option = svc.option_sold_out_set(user=staff, store_id=menu.store.pk, option_id=menu.large.pk, mode="hours", hours=2)
    assert option.available is False
    assert svc.sold_out_restore_due(now=timezone.now() + timedelta(hours=1)) == 0
    svc.option_sold_out_set(user=staff, store_id=menu.store.pk, option_id=menu.large.pk, mode="indefinite")
    assert svc.sold_out_restore_due(now=timezone.now() + timedelta(days=30)) == 0
    assert Option.objects.get(pk=menu.large.pk).available is False
    svc.option_sold_out_set(user=staff, store_id=menu.store.pk, option_id=menu.large.pk, mode="available")
    assert Option.objects.get(pk=menu.large.pk).available is True


def test_sold_out_refuses_another_stores_dish(menu, staff) -> None:  # type: ignore[no-untyped-def]
    other = build_menu_store()
    with pytest.raises(svc.BoardRefused) as refused:
        svc.item_sold_out_set(user=staff, store_id=menu.store.pk, item_id=other.tea.pk, mode="indefinite")
    assert refused.value.status == 404


def test_a_store_without_a_board_for_five_minutes_while_open_is_paused(menu, manager) -> None:  # type: ignore[no-untyped-def]
    from core.redis import state_redis

    redis = state_redis()
    key = svc.board_seen_key(menu.store.pk)
    never = build_menu_store()  # never opened a board: left alone
    try:
        redis.set(key, f"{timezone.now().timestamp():.3f}")
        assert svc.stores_auto_pause_unattended(now=timezone.now() + timedelta(minutes=4)) == 0
        assert svc.stores_auto_pause_unattended(now=timezone.now() + timedelta(minutes=6)) == 1
        assert refresh(menu.store).pause_reason == PauseReason.NO_BOARD
        assert refresh(never.store).pause_reason == ""
        assert svc.stores_auto_pause_unattended(now=timezone.now() + timedelta(minutes=7)) == 0
    finally:
        redis.delete(key)


# --- Tickets -----------------------------------------------------------------------------------


def test_the_automatic_ticket_is_claimed_once_and_reprints_are_recorded(menu, staff, manager, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    with pytest.raises(svc.BoardRefused):
        svc.ticket_print_record(user=staff, store_id=menu.store.pk, number=order.number, kind="auto")
    svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number)
    first = svc.ticket_print_record(user=staff, store_id=menu.store.pk, number=order.number, kind="auto", device="a")
    second = svc.ticket_print_record(user=manager, store_id=menu.store.pk, number=order.number, kind="auto", device="b")
    reprint = svc.ticket_print_record(user=manager, store_id=menu.store.pk, number=order.number, kind="manual")
    assert (first.claimed, second.claimed, reprint.claimed) == (True, False, True)
    assert TicketPrint.objects.filter(order=order, kind="auto").count() == 1
    assert TicketPrint.objects.filter(order=order).count() == 2
    assert board_orders(store=menu.store)[0]["auto_printed"] is True


def test_ticket_text_and_escpos_carry_the_order(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    from delivery.tickets import ticket_escpos, ticket_text

    order = place_paid_order(diner, menu, note="不要辣")
    svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number, prep_minutes=20)
    order.refresh_from_db()
    text = ticket_text(order)
    assert order.number in text and "葱油拌面" in text and "大份" in text and "gluten" in text and "不要辣" in text
    assert "少葱" in text
    raw = ticket_escpos(order)
    assert raw.startswith(b"\x1b@") and raw.endswith(b"\x1dV\x42\x00")
    assert "葱油拌面".encode("gb18030") in raw


# --- The board API -----------------------------------------------------------------------------


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_api_board_lists_the_orders_and_an_outsider_gets_404(menu, staff, outsider, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    response = _client(staff).get(f"/api/v1/board/stores/{menu.store.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert [o["number"] for o in data["orders"]] == [order.number]
    assert data["orders"][0]["version"] == order.version and data["orders"][0]["accept_by"]
    for user in (outsider, diner, StoreMembershipFactory(store=build_menu_store().store).user):
        client = _client(user)
        assert client.get(f"/api/v1/board/stores/{menu.store.pk}/").status_code == 404
        moved = client.post(
            f"/api/v1/board/stores/{menu.store.pk}/orders/{order.number}/accept/", {}, content_type="application/json"
        )
        assert moved.status_code == 404 and moved.json()["code"] == "not_found"
    assert Order.objects.get(pk=order.pk).status == S.PAID


def test_api_acting_on_a_moved_order_gives_a_clear_409(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    order = place_paid_order(diner, menu)
    client = _client(staff)
    url = f"/api/v1/board/stores/{menu.store.pk}/orders/{order.number}/"
    assert client.post(url + "accept/", {"version": order.version}, content_type="application/json").status_code == 200
    stale = client.post(url + "reject/", {"version": order.version, "reason": "x"}, content_type="application/json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "order_moved" and stale.json()["message"]


def test_board_pages_refuse_an_outsider(menu, staff, outsider) -> None:  # type: ignore[no-untyped-def]
    for path in ("", "menu/", "performance/", "reviews/"):
        assert _client(staff).get(f"/board/{menu.store.pk}/{path}").status_code == 200
        assert _client(outsider).get(f"/board/{menu.store.pk}/{path}").status_code == 404
    # Reconciliation and settings are for the owner and managers.
    assert _client(staff).get(f"/board/{menu.store.pk}/reconciliation/").status_code == 404
    assert _client(staff).get(f"/board/{menu.store.pk}/settings/").status_code == 404


# --- Performance and reconciliation ----------------------------------------------------------


def test_performance_counts_acceptance_and_prep(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    accepted = place_paid_order(diner, menu)
    svc.order_accept(user=staff, store_id=menu.store.pk, number=accepted.number, prep_minutes=15)
    svc.order_mark_ready(user=staff, store_id=menu.store.pk, number=accepted.number)
    rejected = place_paid_order(diner, menu)
    svc.order_reject(user=staff, store_id=menu.store.pk, number=rejected.number, reason="x")
    now = timezone.now()
    perf = store_performance(store=menu.store, start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    assert (perf.orders, perf.accepted, perf.rejected, perf.auto_rejected) == (2, 1, 1, 0)
    assert perf.acceptance_rate == 0.5
    assert perf.mean_promised_minutes == 15.0 and perf.mean_prep_minutes is not None
    assert perf.late_ready == 0


def test_performance_csv_per_day_and_in_total(menu, staff, outsider, diner) -> None:  # type: ignore[no-untyped-def]
    accepted = place_paid_order(diner, menu)
    svc.order_accept(user=staff, store_id=menu.store.pk, number=accepted.number, prep_minutes=15)
    rejected = place_paid_order(diner, menu)
    svc.order_reject(user=staff, store_id=menu.store.pk, number=rejected.number, reason="x")
    today = timezone.localdate()
    start = today - timedelta(days=2)
    url = f"/board/{menu.store.pk}/performance/?start={start}&end={today}&format=csv"
    response = _client(staff).get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["day"] for r in rows] == [str(start), str(start + timedelta(days=1)), str(today), "total"]
    assert [r["orders"] for r in rows] == ["0", "0", "2", "2"]
    assert rows[2]["accepted"] == rows[3]["accepted"] == "1" and rows[3]["rejected"] == "1"
    assert rows[3]["acceptance_rate"] == "0.5000" and rows[3]["mean_promised_minutes"] == ""  # none ready yet
    assert rows[0]["acceptance_rate"] == ""
    page = _client(staff).get(f"/board/{menu.store.pk}/performance/")
    assert b'data-testid="performance-csv"' in page.content
    assert _client(outsider).get(url).status_code == 404


def test_reconciliation_csv_totals_match_the_ledger_to_the_cent(menu, staff, manager, diner) -> None:  # type: ignore[no-untyped-def]
    from delivery.payments.services import refund_issue

    for index in range(3):
        order = place_paid_order(diner, menu)
        svc.order_accept(user=staff, store_id=menu.store.pk, number=order.number)
        svc.order_mark_ready(user=staff, store_id=menu.store.pk, number=order.number)
        for to in (S.PICKED_UP, S.DELIVERED):
            order_transition(order_id=order.pk, to=to, actor=None, actor_role="courier")
        if index == 0:
            refund_issue(order=order, amount_cents=333, lines=None, reason="cold", actor=None, actor_role="system")
    today = timezone.localdate()
    response = _client(manager).get(
        f"/board/{menu.store.pk}/reconciliation/",
        {"start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1)), "format": "csv"},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    total = rows[-1]
    assert total[0] == "total" and total[1] == "3"

    def cents(text: str) -> int:
        sign = -1 if text.startswith("-") else 1
        yuan, fen = text.lstrip("-").split(".")
        return sign * (int(yuan) * 100 + int(fen))

    ledger = LedgerEntry.objects.filter(store=menu.store)
    by_kind = {k: sum(e.amount_cents for e in ledger if e.kind == k) for k in LedgerEntry.Kind.values}
    assert cents(total[2]) == by_kind["sale"]
    assert cents(total[4]) == by_kind["commission"]
    assert cents(total[5]) == by_kind["refund"] < 0
    assert cents(total[6]) == sum(e.amount_cents for e in ledger)


# --- Restaurant pages: settings, menu editor, review replies ----------------------------------


def _polygon(corners: list[tuple[float, float]]) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [[*map(list, corners), list(corners[0])]]})


def test_settings_draw_a_zone_set_hours_and_refuse_a_bow_tie(menu, manager) -> None:  # type: ignore[no-untyped-def]
    client = _client(manager)
    url = f"/board/{menu.store.pk}/settings/"
    square = _polygon([(121.44, 31.22), (121.46, 31.22), (121.46, 31.24), (121.44, 31.24)])
    assert client.post(url, {"action": "zone", "zone_geojson": square}).status_code == 302
    store = refresh(menu.store)
    assert store.zone is not None and store.delivery_radius_m is None
    bow_tie = _polygon([(121.44, 31.22), (121.46, 31.24), (121.46, 31.22), (121.44, 31.24)])
    refused = client.post(url, {"action": "zone", "zone_geojson": bow_tie})
    assert refused.status_code == 200 and b"error-zone" in refused.content

    assert client.post(url, {"action": "hours", "hours": "0 10:00 22:00\n5 18:00 02:00"}).status_code == 302
    assert sorted(store.opening_hours.values_list("weekday", flat=True)) == [0, 5]
    bad = client.post(url, {"action": "hours", "hours": "monday 10 to 22"})
    assert bad.status_code == 200 and b"error-hours" in bad.content

    assert (
        client.post(
            url,
            {
                "action": "store",
                "default_prep_minutes": 25,
                "min_order_cents": 0,
                "packaging_fee_cents": 100,
                "delivery_radius_m": 1500,
            },
        ).status_code
        == 302
    )
    store = refresh(store)
    assert store.default_prep_minutes == 25 and store.delivery_radius_m == 1500 and store.zone is not None


def test_menu_editor_is_for_owners_and_managers(menu, manager, staff) -> None:  # type: ignore[no-untyped-def]
    url = f"/board/{menu.store.pk}/menu/{menu.tea.pk}/"
    assert _client(staff).get(url).status_code == 404
    data = {
        "category": menu.tea.category_id,
        "name_zh": "冻柠茶",
        "name_en": "Iced lemon tea",
        "description": "",
        "price_cents": 1000,
        "position": 1,
    }
    assert _client(manager).post(url, data).status_code == 302
    assert MenuItem.objects.get(pk=menu.tea.pk).name_zh == "冻柠茶"
    other = build_menu_store()
    assert _client(manager).get(f"/board/{menu.store.pk}/menu/{other.tea.pk}/").status_code == 404


def test_the_store_replies_to_a_review_once(menu, manager, diner) -> None:  # type: ignore[no-untyped-def]
    from delivery.models import Review

    order = place_paid_order(diner, menu)
    review = Review.objects.create(order=order, diner=diner, store=menu.store, store_stars=4, store_text="好吃")
    url = f"/board/{menu.store.pk}/reviews/{review.pk}/reply/"
    assert _client(manager).post(url, {"text": "谢谢惠顾"}).status_code == 302
    assert Review.objects.get(pk=review.pk).reply_text == "谢谢惠顾"
    page = _client(manager).get(f"/board/{menu.store.pk}/reviews/")
    assert "谢谢惠顾" in page.content.decode()
    outsider = StoreMembershipFactory(store=build_menu_store().store).user
    assert _client(outsider).post(url, {"text": "x"}).status_code == 404


def test_sold_out_page_form_marks_and_restores(menu, staff) -> None:  # type: ignore[no-untyped-def]
    client = _client(staff)
    url = f"/board/{menu.store.pk}/menu/option/{menu.mild.pk}/sold-out/"
    assert client.post(url, {"mode": "hours", "hours": "3"}).status_code == 302
    assert Option.objects.get(pk=menu.mild.pk).available is False
    assert client.post(url, {"mode": "available"}).status_code == 302
    assert Option.objects.get(pk=menu.mild.pk).available is True


def test_an_auto_pause_tells_the_owner_why(menu, manager, staff, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from core.realtime import group_for_user

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_for_user(manager.pk), channel)
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.store_auto_pause(store_id=menu.store.pk, reason=PauseReason.MISSED_ORDERS) is True
        assert svc.store_auto_pause(store_id=menu.store.pk, reason=PauseReason.MISSED_ORDERS) is False
    message = async_to_sync(layer.receive)(channel)
    event = message["event"]
    assert event["type"] == "notice" and event["reason"] == "missed_orders"
    assert "paused" in event["text"] or "暂停" in event["text"]
    async_to_sync(layer.group_discard)(group_for_user(manager.pk), channel)


def test_late_orders_are_flagged(menu, staff, diner) -> None:  # type: ignore[no-untyped-def]
    from delivery.selectors.board import order_is_late

    fresh = place_paid_order(diner, menu)
    assert not order_is_late(fresh, timezone.now())
    assert order_is_late(fresh, timezone.now() + svc.accept_deadline() * 0.7)  # close to auto-reject
    accepted = svc.order_accept(user=staff, store_id=menu.store.pk, number=fresh.number, prep_minutes=10)
    assert not order_is_late(accepted, timezone.now() + timedelta(minutes=9))
    assert order_is_late(accepted, timezone.now() + timedelta(minutes=11))  # past the pickup time
    late = board_orders(store=menu.store, now=timezone.now() + timedelta(minutes=11))
    assert late[0]["late"] is True
