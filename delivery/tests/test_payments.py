"""Payments through the provider interface: the sandbox PSP, signed webhooks, refunds."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from delivery.models import LedgerEntry, Order, OrderEvent, OrderLine, Payment, Refund, Store, WebhookReceipt
from delivery.payments.base import (
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    REFUND_SUCCEEDED,
    PaymentRefused,
    ProviderDeclined,
    WebhookRejected,
    get_provider,
)
from delivery.payments.sandbox import SIGNATURE_HEADER, SandboxProvider, signature_header
from delivery.payments.services import payment_start, payment_webhook_handle, refund_issue
from delivery.services.ledger import ledger_post_delivered
from delivery.transitions import order_transition

pytestmark = pytest.mark.django_db

S = Order.Status
_numbers = itertools.count(1)


# --- Given ---------------------------------------------------------------------------------


def order_make(
    *, diner: User, store: Store, status: str = S.PLACED, lines: tuple[tuple[int, int], ...] = ((1200, 2), (800, 1))
) -> Order:
    """An order as placement leaves it: lines at unit price, a total that adds up."""
    subtotal = sum(price * quantity for price, quantity in lines)
    packaging, fee = 100, 500
    order = Order.objects.create(
        number=f"MC{next(_numbers):08d}",
        diner=diner,
        store=store,
        status=status,
        subtotal_cents=subtotal,
        packaging_cents=packaging,
        delivery_fee_cents=fee,
        total_cents=subtotal + packaging + fee,
        delivery_address="上海市静安区南京西路100号",
        delivery_point=Point(121.46, 31.22, srid=4326),
        eta_at=timezone.now() + timedelta(minutes=40),
    )
    for n, (price, quantity) in enumerate(lines):
        OrderLine.objects.create(
            order=order,
            name_zh=f"菜{n}",
            name_en=f"Dish {n}",
            unit_price_cents=price,
            quantity=quantity,
            line_total_cents=price * quantity,
        )
    return order


def order_paid(*, diner: User, store: Store, status: str = S.DELIVERED) -> tuple[Order, Payment]:
    """An order in `status` with a succeeded sandbox payment of its total."""
    order = order_make(diner=diner, store=store, status=status)
    payment = Payment.objects.create(
        order=order,
        provider="sandbox",
        provider_ref=f"sbx_test_{order.number}",
        amount_cents=order.total_cents,
        status=Payment.Status.SUCCEEDED,
    )
    return order, payment


def event_body(
    *, provider_ref: str, amount_cents: int, event_type: str = PAYMENT_SUCCEEDED, event_id: str | None = None
) -> bytes:
    event = {
        "id": event_id or f"evt_{next(_numbers)}",
        "type": event_type,
        "data": {"provider_ref": provider_ref, "amount_cents": amount_cents},
        "created": int(time.time()),
    }
    return json.dumps(event).encode()


def signed(raw_body: bytes, *, at: int | None = None, secret: str | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    key = settings.PAYMENT_SANDBOX_SECRET if secret is None else secret
    return {SIGNATURE_HEADER: signature_header(raw_body=raw_body, timestamp=timestamp, secret=key)}


def deliver(raw_body: bytes, headers: dict[str, str] | None = None) -> str:
    return payment_webhook_handle(
        provider_name="sandbox", raw_body=raw_body, headers=signed(raw_body) if headers is None else headers
    )


def rejected_code(call: Callable[[], object]) -> str:
    with pytest.raises(WebhookRejected) as caught:
        call()
    return caught.value.code


def refused_code(call: Callable[[], object]) -> str:
    with pytest.raises(PaymentRefused) as caught:
        call()
    return caught.value.code


def run_together(*calls: Callable[[], object]) -> list[object]:
    """Run each call in its own thread (own database connection), released at once; return
    each one's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the caller inspects what each call raised
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# --- Signatures ----------------------------------------------------------------------------


def test_valid_signature_yields_the_event() -> None:
    now = timezone.now()
    t = int(now.timestamp())
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500, event_id="evt_1")
    # The scheme, spelled out: hex HMAC-SHA256 of b"<t>." + raw body under the sandbox secret.
    mac = hmac.new(settings.PAYMENT_SANDBOX_SECRET.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()

    event = SandboxProvider().verify_webhook(raw_body=raw, headers={"mingchu-signature": f"t={t},v1={mac}"}, now=now)

    assert (event.event_id, event.type, event.provider_ref, event.amount_cents) == (
        "evt_1",
        PAYMENT_SUCCEEDED,
        "sbx_abc",
        3500,
    )


def test_any_one_matching_signature_is_enough() -> None:
    now = timezone.now()
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500)
    good = signed(raw, at=int(now.timestamp()))[SIGNATURE_HEADER]
    rotated = f"{good},v1={'0' * 64}"

    event = SandboxProvider().verify_webhook(raw_body=raw, headers={SIGNATURE_HEADER: rotated}, now=now)

    assert event.provider_ref == "sbx_abc"


@pytest.mark.parametrize("tamper", ["wrong secret", "changed body"])
def test_invalid_signature_is_refused(tamper: str) -> None:
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500)
    headers = signed(raw, secret="not-the-secret") if tamper == "wrong secret" else signed(raw)
    body = raw if tamper == "wrong secret" else raw.replace(b"3500", b"1")

    code = rejected_code(lambda: SandboxProvider().verify_webhook(raw_body=body, headers=headers, now=timezone.now()))

    assert code == "signature_invalid"


@pytest.mark.parametrize("headers", [{}, {SIGNATURE_HEADER: ""}, {"Other-Header": "t=1,v1=00"}])
def test_missing_signature_is_refused(headers: dict[str, str]) -> None:
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500)

    code = rejected_code(lambda: SandboxProvider().verify_webhook(raw_body=raw, headers=headers, now=timezone.now()))

    assert code == "signature_missing"


@pytest.mark.parametrize(
    "value",
    [
        "nonsense",
        "t=abc,v1=" + "0" * 64,
        "t=1700000000",
        "v1=" + "0" * 64,
        "t=1700000000,v1=xyz",
        "t=1,t=2,v1=" + "0" * 64,
        "t=1700000000,v1=" + "é" * 64,
    ],
)
def test_garbled_signature_is_refused(value: str) -> None:
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500)

    code = rejected_code(
        lambda: SandboxProvider().verify_webhook(raw_body=raw, headers={SIGNATURE_HEADER: value}, now=timezone.now())
    )

    assert code == "signature_invalid"


@pytest.mark.parametrize("offset", [-1, +1], ids=["stale", "future"])
def test_signature_outside_the_window_is_refused(offset: int) -> None:
    now = timezone.now()
    tolerance = settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500)
    headers = signed(raw, at=int(now.timestamp()) + offset * (tolerance + 1))

    code = rejected_code(lambda: SandboxProvider().verify_webhook(raw_body=raw, headers=headers, now=now))

    assert code == "signature_stale"


def test_signature_at_the_edge_of_the_window_is_accepted() -> None:
    now = timezone.now().replace(microsecond=0)
    raw = event_body(provider_ref="sbx_abc", amount_cents=3500)
    headers = signed(raw, at=int(now.timestamp()) - settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS)

    assert SandboxProvider().verify_webhook(raw_body=raw, headers=headers, now=now).amount_cents == 3500


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"id": "evt_1", "type": "payment.succeeded"}',
        b'{"id": "evt_1", "type": "payment.succeeded", "data": {"provider_ref": "sbx_a", "amount_cents": "35"}}',
        b'{"id": "evt_1", "type": "payment.succeeded", "data": {"provider_ref": "sbx_a", "amount_cents": true}}',
        b'{"id": "evt_1", "type": "payment.succeeded", "data": {"provider_ref": "sbx_a", "amount_cents": -1}}',
        b'{"id": "", "type": "payment.succeeded", "data": {"provider_ref": "sbx_a", "amount_cents": 1}}',
        b'{"id": 7, "type": "payment.succeeded", "data": {"provider_ref": "sbx_a", "amount_cents": 1}}',
    ],
)
def test_malformed_body_is_refused(raw: bytes) -> None:
    code = rejected_code(
        lambda: SandboxProvider().verify_webhook(raw_body=raw, headers=signed(raw), now=timezone.now())
    )

    assert code == "malformed"


def test_registry_names_the_sandbox() -> None:
    assert get_provider("sandbox").name == "sandbox"


# --- Starting a payment --------------------------------------------------------------------


def test_payment_start_opens_the_hosted_page_for_the_order_total(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)

    payment, url = payment_start(order=order)

    assert payment.amount_cents == order.total_cents
    assert payment.status == Payment.Status.PENDING
    assert payment.provider == "sandbox"
    assert payment.provider_ref.startswith("sbx_")
    assert url == f"/payments/sandbox/{payment.provider_ref}/"


def test_payment_start_is_idempotent(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)

    first, first_url = payment_start(order=order)
    again, again_url = payment_start(order=order)

    assert again.pk == first.pk
    assert again_url == first_url
    assert Payment.objects.filter(order=order).count() == 1


def test_payment_start_after_a_failed_attempt_opens_a_new_payment(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    failed, _url = payment_start(order=order)
    deliver(event_body(provider_ref=failed.provider_ref, amount_cents=failed.amount_cents, event_type=PAYMENT_FAILED))

    retry, _url = payment_start(order=order)

    assert retry.pk != failed.pk
    assert retry.provider_ref != failed.provider_ref


@pytest.mark.parametrize("status", [S.PAID, S.CANCELLED, S.DELIVERED])
def test_payment_start_is_refused_unless_the_order_is_placed(diner: User, store: Store, status: str) -> None:
    order = order_make(diner=diner, store=store, status=status)

    assert refused_code(lambda: payment_start(order=order)) == "order_not_payable"
    assert not Payment.objects.filter(order=order).exists()


def test_payment_start_with_an_unknown_provider_is_refused(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)

    assert refused_code(lambda: payment_start(order=order, provider_name="cowrie-shells")) == "unknown_provider"


# --- Webhooks ------------------------------------------------------------------------------


def test_success_moves_placed_to_paid_and_writes_an_event(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    status = deliver(event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents, event_id="evt_ok"))

    assert status == "paid"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert order.status == S.PAID
    assert order.paid_at is not None
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status, event.actor, event.actor_role, event.reason) == (
        S.PLACED,
        S.PAID,
        None,
        "system",
        "payment succeeded",
    )
    assert WebhookReceipt.objects.filter(provider="sandbox", event_id="evt_ok").exists()


def test_replayed_event_is_refused_and_changes_nothing(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    raw = event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents)
    headers = signed(raw)
    deliver(raw, headers)
    order.refresh_from_db()
    version = order.version

    assert rejected_code(lambda: deliver(raw, headers)) == "replayed"

    order.refresh_from_db()
    assert order.version == version
    assert OrderEvent.objects.filter(order=order).count() == 1
    assert WebhookReceipt.objects.count() == 1


def test_a_new_event_for_a_settled_payment_is_a_no_op(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    deliver(event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents))

    again = deliver(event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents))
    late_failure = deliver(
        event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents, event_type=PAYMENT_FAILED)
    )

    assert (again, late_failure) == ("already_handled", "already_handled")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert OrderEvent.objects.filter(order=order).count() == 1


def test_amount_mismatch_is_refused_and_changes_nothing(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    code = rejected_code(lambda: deliver(event_body(provider_ref=payment.provider_ref, amount_cents=1)))

    assert code == "amount_mismatch"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.PENDING, S.PLACED)
    assert not WebhookReceipt.objects.exists()


def test_a_payment_that_disagrees_with_the_order_total_is_refused(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    Payment.objects.filter(pk=payment.pk).update(amount_cents=1)

    code = rejected_code(lambda: deliver(event_body(provider_ref=payment.provider_ref, amount_cents=1)))

    assert code == "amount_mismatch"
    order.refresh_from_db()
    assert order.status == S.PLACED


def test_unknown_payment_is_refused(diner: User, store: Store) -> None:
    code = rejected_code(lambda: deliver(event_body(provider_ref="sbx_nobody", amount_cents=100)))

    assert code == "unknown_payment"
    assert not WebhookReceipt.objects.exists()


def test_unknown_provider_is_refused() -> None:
    raw = event_body(provider_ref="sbx_nobody", amount_cents=100)

    code = rejected_code(lambda: payment_webhook_handle(provider_name="nope", raw_body=raw, headers=signed(raw)))

    assert code == "unknown_provider"


def test_failure_marks_the_payment_failed_and_leaves_the_order_placed(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    status = deliver(
        event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents, event_type=PAYMENT_FAILED)
    )

    assert status == "failed"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.FAILED, S.PLACED)
    assert not OrderEvent.objects.filter(order=order).exists()


def test_success_after_cancellation_keeps_the_order_cancelled(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    Order.objects.filter(pk=order.pk).update(status=S.CANCELLED)

    status = deliver(event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents))

    assert status == "paid_after_cancel"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (Payment.Status.SUCCEEDED, S.CANCELLED)


def test_unhandled_event_types_are_recorded_and_ignored(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    status = deliver(
        event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents, event_type="payment.created")
    )

    assert status == "ignored"
    order.refresh_from_db()
    assert order.status == S.PLACED
    assert WebhookReceipt.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_take_effect_once(
    diner: User, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    raw = event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents)
    headers = signed(raw)
    real_transition = order_transition

    def slow_transition(**kwargs: Any) -> Any:
        # Hold the first delivery's receipt uncommitted while the second tries to insert its own.
        time.sleep(0.3)
        return real_transition(**kwargs)

    monkeypatch.setattr("delivery.payments.services.order_transition", slow_transition)

    results = run_together(lambda: deliver(raw, headers), lambda: deliver(raw, headers))

    assert "paid" in results
    refusals = [r for r in results if isinstance(r, WebhookRejected)]
    assert [r.code for r in refusals] == ["replayed"]
    assert OrderEvent.objects.filter(order=order, to_status=S.PAID).count() == 1
    assert WebhookReceipt.objects.count() == 1
    order.refresh_from_db()
    assert order.status == S.PAID


# --- The hosted page -----------------------------------------------------------------------


def page_url(payment: Payment) -> str:
    return f"/payments/sandbox/{payment.provider_ref}/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_diner_sees_the_hosted_page(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    response = signed_in(diner).get(page_url(payment))

    assert response.status_code == 200
    html = response.content.decode()
    assert order.number in html
    assert f"¥{order.total_cents // 100}.{order.total_cents % 100:02d}" in html
    assert 'data-testid="sandbox-pay-button"' in html
    assert 'data-testid="sandbox-decline-button"' in html


def test_others_get_404_on_the_hosted_page(diner: User, store: Store, owner: User, outsider: User) -> None:
    payment, _url = payment_start(order=order_make(diner=diner, store=store))

    for user in (outsider, owner):
        client = signed_in(user)
        assert client.get(page_url(payment)).status_code == 404
        assert client.post(page_url(payment), {"outcome": "pay"}).status_code == 404
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_anonymous_visitors_are_sent_to_log_in(diner: User, store: Store) -> None:
    payment, _url = payment_start(order=order_make(diner=diner, store=store))

    response = Client().get(page_url(payment))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_paying_on_the_hosted_page_marks_the_order_paid(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    response = signed_in(diner).post(page_url(payment), {"outcome": "pay"})

    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/"
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (S.PAID, Payment.Status.SUCCEEDED)
    assert WebhookReceipt.objects.filter(provider="sandbox").count() == 1


def test_declining_on_the_hosted_page_fails_the_payment(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)

    response = signed_in(diner).post(page_url(payment), {"outcome": "decline"})

    assert response["Location"] == f"/orders/{order.number}/"
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (S.PLACED, Payment.Status.FAILED)


def test_a_settled_payment_page_shows_its_outcome_and_ignores_more_posts(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    client = signed_in(diner)
    client.post(page_url(payment), {"outcome": "pay"})

    again = client.post(page_url(payment), {"outcome": "decline"})
    page = client.get(page_url(payment))

    assert again["Location"] == f"/orders/{order.number}/"
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert WebhookReceipt.objects.count() == 1
    assert 'data-testid="payment-status"' in page.content.decode()
    assert 'data-testid="sandbox-pay-button"' not in page.content.decode()


def test_a_post_without_an_outcome_is_a_bad_request(diner: User, store: Store) -> None:
    payment, _url = payment_start(order=order_make(diner=diner, store=store))

    response = signed_in(diner).post(page_url(payment), {"outcome": "maybe"})

    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


# --- The webhook endpoint ------------------------------------------------------------------

WEBHOOK_URL = "/payments/webhooks/sandbox/"


def post_webhook(raw: bytes, headers: dict[str, str], url: str = WEBHOOK_URL) -> Any:
    # A PSP has no session or CSRF token: enforce CSRF checks to prove the endpoint needs none.
    return Client(enforce_csrf_checks=True).post(url, data=raw, content_type="application/json", headers=headers)


def test_webhook_endpoint_applies_a_signed_event(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    raw = event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents)

    response = post_webhook(raw, signed(raw))

    assert response.status_code == 200
    assert response.json() == {"status": "paid"}
    order.refresh_from_db()
    assert order.status == S.PAID


def test_webhook_endpoint_refuses_a_replay_with_the_error_shape(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    raw = event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents)
    headers = signed(raw)
    post_webhook(raw, headers)

    response = post_webhook(raw, headers)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "replayed"
    assert body["message"]
    assert body["fields"] == {}


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "signature_missing"), ({SIGNATURE_HEADER: "t=1,v1=" + "0" * 64}, "signature_invalid")],
)
def test_webhook_endpoint_refuses_unsigned_requests(
    diner: User, store: Store, headers: dict[str, str], code: str
) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    raw = event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents)

    response = post_webhook(raw, headers)

    assert response.status_code == 400
    assert response.json()["code"] == code
    order.refresh_from_db()
    assert order.status == S.PLACED


def test_webhook_endpoint_checks_the_raw_bytes(diner: User, store: Store) -> None:
    order = order_make(diner=diner, store=store)
    payment, _url = payment_start(order=order)
    raw = event_body(provider_ref=payment.provider_ref, amount_cents=order.total_cents)
    # The same JSON re-serialised differently is not what was signed.
    reformatted = json.dumps(json.loads(raw), indent=2).encode()

    response = post_webhook(reformatted, signed(raw))

    assert response.json()["code"] == "signature_invalid"


def test_webhook_endpoint_answers_404_for_an_unknown_provider_and_405_for_get() -> None:
    raw = event_body(provider_ref="sbx_x", amount_cents=1)

    assert post_webhook(raw, signed(raw), url="/payments/webhooks/nope/").status_code == 404
    assert Client().get(WEBHOOK_URL).status_code == 405


# --- Refunds -------------------------------------------------------------------------------


def test_full_refund_of_a_delivered_order(diner: User, store: Store, operator: User) -> None:
    order, payment = order_paid(diner=diner, store=store)

    refund = refund_issue(
        order=order, amount_cents=None, lines=None, reason="cold food", actor=operator, actor_role="operator"
    )

    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.amount_cents == order.total_cents
    assert refund.provider_ref == f"sbxrf_{refund.pk}"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_cents == payment.amount_cents
    assert order.status == S.REFUNDED
    assert order.refunded_at is not None
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status, event.actor, event.actor_role, event.reason) == (
        S.DELIVERED,
        S.REFUNDED,
        operator,
        "operator",
        "cold food",
    )


def test_per_line_refunds_go_partially_refunded_then_refunded(diner: User, store: Store, operator: User) -> None:
    order, payment = order_paid(diner=diner, store=store)
    first, second = OrderLine.objects.filter(order=order).order_by("id")

    refund = refund_issue(
        order=order,
        amount_cents=None,
        lines=[{"line": first.pk, "quantity": 1}],
        reason="one bowl spilled",
        actor=operator,
        actor_role="operator",
    )

    assert refund.amount_cents == first.unit_price_cents
    assert refund.lines == [{"line": first.pk, "quantity": 1}]
    first.refresh_from_db()
    order.refresh_from_db()
    assert first.refunded_quantity == 1
    assert order.status == S.PARTIALLY_REFUNDED

    refund_issue(
        order=order,
        amount_cents=None,
        lines=[{"line": second.pk, "quantity": 1}],
        reason="wrong dish",
        actor=operator,
        actor_role="operator",
    )
    order.refresh_from_db()
    assert order.status == S.PARTIALLY_REFUNDED  # the delivery fee and the other bowl are still paid

    refund_issue(order=order, amount_cents=None, lines=None, reason="goodwill", actor=operator, actor_role="operator")

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == S.REFUNDED
    assert payment.refunded_cents == payment.amount_cents
    assert list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True)) == [
        S.PARTIALLY_REFUNDED,
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
    ]


def test_refunding_more_of_a_line_than_was_bought_is_refused(diner: User, store: Store) -> None:
    order, payment = order_paid(diner=diner, store=store)
    line = OrderLine.objects.filter(order=order, quantity=2).get()
    refund_issue(
        order=order,
        amount_cents=None,
        lines=[{"line": line.pk, "quantity": 2}],
        reason="r",
        actor=None,
        actor_role="system",
    )

    code = refused_code(
        lambda: refund_issue(
            order=order,
            amount_cents=None,
            lines=[{"line": line.pk, "quantity": 1}],
            reason="again",
            actor=None,
            actor_role="system",
        )
    )

    assert code == "refund_exceeds_quantity"
    line.refresh_from_db()
    payment.refresh_from_db()
    assert line.refunded_quantity == 2
    assert payment.refunded_cents == 2 * line.unit_price_cents
    assert Refund.objects.count() == 1


def test_over_refund_is_refused(diner: User, store: Store) -> None:
    order, payment = order_paid(diner=diner, store=store)

    too_much = refused_code(
        lambda: refund_issue(
            order=order, amount_cents=payment.amount_cents + 1, lines=None, reason="r", actor=None, actor_role="system"
        )
    )
    refund_issue(order=order, amount_cents=None, lines=None, reason="all", actor=None, actor_role="system")
    nothing_left = refused_code(
        lambda: refund_issue(order=order, amount_cents=None, lines=None, reason="r", actor=None, actor_role="system")
    )

    assert (too_much, nothing_left) == ("refund_exceeds_paid", "refund_exceeds_paid")
    payment.refresh_from_db()
    assert payment.refunded_cents == payment.amount_cents
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("status", [S.REJECTED, S.CANCELLED])
def test_refunding_a_rejected_or_cancelled_order_is_only_money(diner: User, store: Store, status: str) -> None:
    order, payment = order_paid(diner=diner, store=store, status=status)

    refund = refund_issue(
        order=order, amount_cents=None, lines=None, reason="store rejected", actor=None, actor_role="system"
    )

    assert refund.status == Refund.Status.SUCCEEDED
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == status
    assert payment.refunded_cents == payment.amount_cents
    assert not OrderEvent.objects.filter(order=order).exists()


def test_refund_requests_that_make_no_sense_are_refused(diner: User, store: Store) -> None:
    order, payment = order_paid(diner=diner, store=store)
    other_order, _other = order_paid(diner=diner, store=store)
    line = OrderLine.objects.filter(order=order).first()
    foreign_line = OrderLine.objects.filter(order=other_order).first()
    assert line is not None and foreign_line is not None
    unpaid = order_make(diner=diner, store=store)

    def attempt(**kwargs: Any) -> str:
        args: dict[str, Any] = {"order": order, "amount_cents": None, "lines": None, "reason": "r"}
        return refused_code(lambda: refund_issue(**{**args, **kwargs}, actor=None, actor_role="system"))

    assert attempt(order=unpaid) == "not_paid"
    assert attempt(amount_cents=100, lines=[{"line": line.pk, "quantity": 1}]) == "refund_invalid"
    assert attempt(amount_cents=0) == "refund_invalid"
    assert attempt(reason="  ") == "refund_invalid"
    assert attempt(lines=[{"line": line.pk, "quantity": 0}]) == "refund_invalid"
    assert attempt(lines=[{"line": line.pk, "quantity": True}]) == "refund_invalid"
    assert attempt(lines=[{"line": foreign_line.pk, "quantity": 1}]) == "refund_line_unknown"
    payment.refresh_from_db()
    assert payment.refunded_cents == 0
    assert not Refund.objects.exists()


def test_a_declined_refund_gives_back_what_it_reserved(
    diner: User, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, payment = order_paid(diner=diner, store=store)
    line = OrderLine.objects.filter(order=order).first()
    assert line is not None

    def decline(self: SandboxProvider, **kwargs: Any) -> str:
        raise ProviderDeclined("insufficient merchant balance")

    monkeypatch.setattr(SandboxProvider, "refund", decline)

    code = refused_code(
        lambda: refund_issue(
            order=order,
            amount_cents=None,
            lines=[{"line": line.pk, "quantity": 1}],
            reason="r",
            actor=None,
            actor_role="system",
        )
    )

    assert code == "refund_declined"
    payment.refresh_from_db()
    line.refresh_from_db()
    order.refresh_from_db()
    assert (payment.refunded_cents, line.refunded_quantity, order.status) == (0, 0, S.DELIVERED)
    assert Refund.objects.get().status == Refund.Status.FAILED


def test_a_provider_error_leaves_the_refund_pending_and_reserved(
    diner: User, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, payment = order_paid(diner=diner, store=store)

    def time_out(self: SandboxProvider, **kwargs: Any) -> str:
        raise TimeoutError("no answer")

    monkeypatch.setattr(SandboxProvider, "refund", time_out)

    with pytest.raises(TimeoutError):
        refund_issue(order=order, amount_cents=500, lines=None, reason="r", actor=None, actor_role="system")

    # The money may have moved: keep it reserved so a retry cannot refund past the payment.
    payment.refresh_from_db()
    assert payment.refunded_cents == 500
    assert Refund.objects.get().status == Refund.Status.PENDING


def test_a_refund_that_settles_later_completes_on_its_webhook(
    diner: User, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    order, _payment = order_paid(diner=diner, store=store)
    monkeypatch.setattr(SandboxProvider, "refunds_settle_at_once", False)
    refund = refund_issue(order=order, amount_cents=None, lines=None, reason="late", actor=None, actor_role="system")
    assert refund.status == Refund.Status.PENDING
    order.refresh_from_db()
    assert order.status == S.DELIVERED

    wrong = rejected_code(
        lambda: deliver(event_body(provider_ref=refund.provider_ref, amount_cents=1, event_type=REFUND_SUCCEEDED))
    )
    status = deliver(
        event_body(provider_ref=refund.provider_ref, amount_cents=refund.amount_cents, event_type=REFUND_SUCCEEDED)
    )
    again = deliver(
        event_body(provider_ref=refund.provider_ref, amount_cents=refund.amount_cents, event_type=REFUND_SUCCEEDED)
    )

    assert (wrong, status, again) == ("amount_mismatch", "refunded", "already_handled")
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.status == S.REFUNDED
    assert OrderEvent.objects.get(order=order).actor_role == "system"
    assert (
        rejected_code(lambda: deliver(event_body(provider_ref="sbxrf_0", amount_cents=1, event_type=REFUND_SUCCEEDED)))
        == "unknown_refund"
    )


def test_a_refund_of_a_delivered_order_is_booked_in_the_store_ledger(diner: User, store: Store) -> None:
    order, _payment = order_paid(diner=diner, store=store)
    Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now())
    order.refresh_from_db()
    ledger_post_delivered(order=order)

    refund = refund_issue(order=order, amount_cents=None, lines=None, reason="r", actor=None, actor_role="system")

    entry = LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.REFUND)
    assert entry.dedupe_key == f"refund:{refund.pk}"
    assert entry.amount_cents < 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_cannot_exceed_the_payment(diner: User, store: Store) -> None:
    order, payment = order_paid(diner=diner, store=store)
    share = payment.amount_cents * 2 // 3

    def refund_share() -> object:
        return refund_issue(order=order, amount_cents=share, lines=None, reason="r", actor=None, actor_role="system")

    results = run_together(refund_share, refund_share, refund_share)

    refunds = [r for r in results if isinstance(r, Refund)]
    refusals = [r.code for r in results if isinstance(r, PaymentRefused)]
    assert len(refunds) == 1
    assert refusals == ["refund_exceeds_paid", "refund_exceeds_paid"]
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_cents == share
    assert order.status == S.PARTIALLY_REFUNDED


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_that_together_empty_the_payment_leave_it_refunded(diner: User, store: Store) -> None:
    order, payment = order_paid(diner=diner, store=store)
    half = payment.amount_cents // 2
    rest = payment.amount_cents - half

    results = run_together(
        lambda: refund_issue(order=order, amount_cents=half, lines=None, reason="a", actor=None, actor_role="system"),
        lambda: refund_issue(order=order, amount_cents=rest, lines=None, reason="b", actor=None, actor_role="system"),
    )

    assert all(isinstance(r, Refund) for r in results), results
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.refunded_cents == payment.amount_cents
    assert order.status == S.REFUNDED


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_open_one_payment(diner: User, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    order = order_make(diner=diner, store=store)
    real_token = secrets.token_urlsafe

    def slow_token(n: int) -> str:
        # The first start holds the order's lock, its payment not yet committed, while the
        # second waits for the lock.
        time.sleep(0.3)
        return real_token(n)

    monkeypatch.setattr("delivery.payments.services.secrets.token_urlsafe", slow_token)

    first, second = run_together(
        lambda: payment_start(number=order.number, diner_id=diner.pk),
        lambda: payment_start(number=order.number, diner_id=diner.pk),
    )

    assert isinstance(first, tuple) and isinstance(second, tuple)
    assert first[0].pk == second[0].pk
    assert Payment.objects.filter(order=order).count() == 1
