"""The sandbox PSP: a provider that behaves like a real one, without the money.

Its hosted page (views.sandbox_page) lets the diner pay or decline; the sandbox then signs a
webhook exactly as a PSP would and hands the raw bytes and headers to the same service the HTTP
webhook endpoint calls, so the path from "PSP says paid" to "order paid" is one path.

Signature scheme: header `Mingchu-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
MAC is over the bytes `<t>.<raw body>` under settings.PAYMENT_SANDBOX_SECRET. Several v1 values
may be sent (secret rotation); any one matching is enough. Unknown keys are ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, TypeGuard

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from delivery.models import Payment
from delivery.payments.base import (
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    ProviderDeclined,
    ProviderEvent,
    WebhookRejected,
)
from delivery.payments.services import payment_webhook_handle

SIGNATURE_HEADER = "Mingchu-Signature"
PROVIDER_NAME = "sandbox"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,12}")
# Payment.provider_ref and WebhookReceipt.event_id are at most this long.
_MAX_REF = 128


def signature_compute(*, raw_body: bytes, timestamp: int, secret: str) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<raw body>`."""
    signed = str(timestamp).encode("ascii") + b"." + raw_body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(*, raw_body: bytes, timestamp: int, secret: str) -> str:
    """The Mingchu-Signature header value for this body at this time."""
    return f"t={timestamp},v1={signature_compute(raw_body=raw_body, timestamp=timestamp, secret=secret)}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive; callers may pass request.headers or a plain dict.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _signature_parse(value: str) -> tuple[int, list[str]]:
    timestamps: list[str] = []
    macs: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise WebhookRejected("signature_invalid", "The signature header is garbled.")
        if key == "t":
            timestamps.append(item)
        elif key == "v1":
            macs.append(item)
    if len(timestamps) != 1 or not _DIGITS.fullmatch(timestamps[0]) or not macs:
        raise WebhookRejected("signature_invalid", "The signature header is garbled.")
    if not all(_HEX_SHA256.fullmatch(mac) for mac in macs):
        raise WebhookRejected("signature_invalid", "The signature header is garbled.")
    return int(timestamps[0]), macs


def _short_text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= _MAX_REF


def _event_parse(raw_body: bytes) -> ProviderEvent:
    malformed = WebhookRejected("malformed", "The webhook body is not a well-formed event.")
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise malformed from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise malformed
    event_id, event_type = body.get("id"), body.get("type")
    provider_ref, amount = body["data"].get("provider_ref"), body["data"].get("amount_cents")
    if not (_short_text(event_id) and _short_text(event_type) and _short_text(provider_ref)):
        raise malformed
    # bool is an int in Python; an amount of `true` is still malformed.
    if not (type(amount) is int and amount >= 0):
        raise malformed
    return ProviderEvent(event_id=event_id, type=event_type, provider_ref=provider_ref, amount_cents=amount)


class SandboxProvider:
    """The sandbox PSP. Payments are settled on its hosted page; refunds succeed at once."""

    name = PROVIDER_NAME
    ref_prefix = "sbx_"
    refunds_settle_at_once = True

    def create_payment(self, *, payment: Payment) -> str:
        return reverse("payments:sandbox_page", kwargs={"provider_ref": payment.provider_ref})

    def verify_webhook(self, *, raw_body: bytes, headers: Mapping[str, str], now: datetime) -> ProviderEvent:
        """Signature first (constant-time), then the time window, then the body's shape."""
        value = _header(headers, SIGNATURE_HEADER)
        if not value or not value.strip():
            raise WebhookRejected("signature_missing", f"The {SIGNATURE_HEADER} header is missing.")
        timestamp, macs = _signature_parse(value)
        expected = signature_compute(raw_body=raw_body, timestamp=timestamp, secret=settings.PAYMENT_SANDBOX_SECRET)
        # Check every candidate so the time taken does not depend on which one matched.
        matches = [hmac.compare_digest(expected, mac) for mac in macs]
        if not any(matches):
            raise WebhookRejected("signature_invalid", "The signature does not match the body.")
        if abs(now.timestamp() - timestamp) > settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS:
            raise WebhookRejected("signature_stale", "The signature timestamp is outside the allowed window.")
        return _event_parse(raw_body)

    def refund(self, *, payment: Payment, amount_cents: int, refund_id: int) -> str:
        # Deterministic per refund id: asking twice refunds once, as with a PSP idempotency key.
        if payment.provider != self.name or amount_cents <= 0:
            raise ProviderDeclined(f"The sandbox cannot refund {amount_cents} of {payment}.")
        return f"sbxrf_{refund_id}"


def sandbox_event_body(*, event_type: str, provider_ref: str, amount_cents: int, created: int) -> bytes:
    """A webhook body as the sandbox sends it (a fresh event id each call)."""
    event = {
        "id": f"evt_{secrets.token_urlsafe(18)}",
        "type": event_type,
        "data": {"provider_ref": provider_ref, "amount_cents": amount_cents},
        "created": created,
    }
    return json.dumps(event, separators=(",", ":")).encode("utf-8")


def sandbox_outcome_deliver(*, payment: Payment, outcome: Literal["pay", "decline"]) -> str:
    """The diner paid or declined on the hosted page: deliver the signed webhook in-process,
    through the same service as the HTTP endpoint. Returns that service's status string;
    raises WebhookRejected as the endpoint would answer 400."""
    created = int(timezone.now().timestamp())
    raw_body = sandbox_event_body(
        event_type=PAYMENT_SUCCEEDED if outcome == "pay" else PAYMENT_FAILED,
        provider_ref=payment.provider_ref,
        amount_cents=payment.amount_cents,
        created=created,
    )
    header = signature_header(raw_body=raw_body, timestamp=created, secret=settings.PAYMENT_SANDBOX_SECRET)
    return payment_webhook_handle(provider_name=PROVIDER_NAME, raw_body=raw_body, headers={SIGNATURE_HEADER: header})
