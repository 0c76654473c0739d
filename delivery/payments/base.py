"""The payment provider interface: what order code may ask of a PSP, and nothing more.

A provider creates a hosted payment (returns where to send the diner), verifies its own webhooks
into a `ProviderEvent`, and refunds. Order code only ever holds a `PaymentProvider` from
`get_provider`, so Alipay, WeChat Pay or Stripe are one module and one line in `PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

from django.utils.module_loading import import_string

from delivery.models import Payment

# The events order code acts on; a provider may report others (they are recorded and ignored).
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
REFUND_SUCCEEDED = "refund.succeeded"

# Provider name -> the dotted path of its class (imported on first use, so a provider's module
# may import the services that its hosted pages call without an import cycle).
PROVIDERS: dict[str, str] = {
    "sandbox": "delivery.payments.sandbox.SandboxProvider",
}


class PaymentRefused(Exception):
    """A payment or refund the rules do not allow; `code` is stable (API error shape)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WebhookRejected(Exception):
    """A webhook that must change nothing: bad signature, stale, malformed, replayed, or one
    that does not match what we asked for. `code` is stable (API error shape)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProviderDeclined(Exception):
    """The provider definitely refused (a refund it will not make). Any other exception from a
    provider call means "outcome unknown": the caller must not assume nothing happened."""


class ProviderUnknown(LookupError):
    """No provider is registered under this name."""


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook, in the provider-neutral form order code acts on.

    `provider_ref` names a Payment for payment.* events and a Refund for refund.* events.
    """

    event_id: str
    type: str
    provider_ref: str
    amount_cents: int


class PaymentProvider(Protocol):
    """One PSP. Implementations are stateless and read their settings when called."""

    # Stored in Payment.provider and WebhookReceipt.provider (at most 32 characters).
    name: str
    # Prefix of the merchant references we mint for this provider's payments.
    ref_prefix: str
    # True: `refund` returning means the money has moved (no refund webhook to wait for).
    refunds_settle_at_once: bool

    def create_payment(self, *, payment: Payment) -> str:
        """Open the hosted payment for `payment` (idempotent per provider_ref); return the URL
        the diner is sent to."""
        ...

    def verify_webhook(self, *, raw_body: bytes, headers: Mapping[str, str], now: datetime) -> ProviderEvent:
        """Authenticate and parse one delivery; raise WebhookRejected if it is not genuine, is
        outside the provider's time tolerance, or is malformed. Reads nothing from the database."""
        ...

    def refund(self, *, payment: Payment, amount_cents: int, refund_id: int) -> str:
        """Refund `amount_cents` of `payment`; return the provider's refund reference.

        `refund_id` is the idempotency key: asking again with the same id refunds once. Raise
        ProviderDeclined on a definite refusal; any other error leaves the outcome unknown.
        """
        ...


def get_provider(name: str) -> PaymentProvider:
    """The provider registered as `name`; ProviderUnknown if there is none."""
    try:
        path = PROVIDERS[name]
    except KeyError:
        raise ProviderUnknown(name) from None
    provider_class = import_string(path)
    return cast(PaymentProvider, provider_class())
