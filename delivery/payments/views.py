"""Payment pages and the webhook endpoint: each parses, checks access and calls one service."""

from __future__ import annotations

from typing import Literal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from delivery.models import Order, Payment
from delivery.payments.base import WebhookRejected
from delivery.payments.sandbox import PROVIDER_NAME, sandbox_outcome_deliver
from delivery.payments.selectors import payment_for_diner
from delivery.payments.services import payment_webhook_handle

_OUTCOMES: dict[str, Literal["pay", "decline"]] = {"pay": "pay", "decline": "decline"}


def order_page_url(order: Order) -> str:
    """Where the diner follows their order: the web app's order page."""
    return reverse("frontend:order", kwargs={"number": order.number})


def _yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_page(request: HttpRequest, provider_ref: str) -> HttpResponse:
    """The sandbox's hosted pay page. Only the order's diner sees it (anyone else: 404).

    POST `outcome=pay|decline` settles a pending payment through the sandbox's signed webhook
    and sends the diner to the order page; a payment already settled is left as it is.
    """
    payment = payment_for_diner(user=request.user, provider=PROVIDER_NAME, provider_ref=provider_ref)
    if payment is None:
        raise Http404
    status = 200
    if request.method == "POST":
        outcome = _OUTCOMES.get(request.POST.get("outcome", ""))
        if outcome is not None:
            if payment.status == Payment.Status.PENDING:
                try:
                    sandbox_outcome_deliver(payment=payment, outcome=outcome)
                except WebhookRejected as rejected:
                    message = _("The payment could not be confirmed (%(code)s).") % {"code": rejected.code}
                    messages.error(request, message)
            return redirect(order_page_url(payment.order))
        status = 400
    context = {
        "payment": payment,
        "order": payment.order,
        "amount": _yuan(payment.amount_cents),
        "pending": payment.status == Payment.Status.PENDING,
        "order_url": order_page_url(payment.order),
        "bad_request": status == 400,
    }
    return render(request, "delivery/payments/sandbox_page.html", context, status=status)


@csrf_exempt  # the provider's signature is the authentication; there is no session
@require_POST
def webhook_receive(request: HttpRequest, provider_name: str) -> JsonResponse:
    """A provider's webhook: 200 {"status"} once handled, 400 {"code","message","fields"} if
    refused (nothing changed), 404 for a provider we do not know. The body is read raw, as signed."""
    try:
        status = payment_webhook_handle(provider_name=provider_name, raw_body=request.body, headers=request.headers)
    except WebhookRejected as rejected:
        body = {"code": rejected.code, "message": rejected.message, "fields": {}}
        return JsonResponse(body, status=404 if rejected.code == "unknown_provider" else 400)
    return JsonResponse({"status": status})
