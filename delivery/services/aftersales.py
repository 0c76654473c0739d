"""After-sales refund requests: the diner asks, the store accepts or contests before a deadline,
else the platform decides (and a store that lets the deadline pass is taken to agree: the
sweep refunds the diner, as the big platforms do for merchants who do not answer in time).

Compliance adds complaints beside these; food-safety cases go to regulators from there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.access import access_operator, access_store
from accounts.models import User
from core.uploads import photo_extension_or_none
from delivery.models import Order, OrderLine, RefundRequest, RefundRequestPhoto
from delivery.payments.base import PaymentRefused
from delivery.payments.services import refund_issue

R = RefundRequest.Status
logger = logging.getLogger(__name__)

PHOTOS_MAX = 3


class AftersalesRefused(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def photo_format(photo: UploadedFile[bytes]) -> str:
    """The photo's extension by what its bytes are (core.uploads): a JPEG, PNG or WebP image of
    at most 5 MB; anything else is refused, whatever its name or declared type."""
    extension = photo_extension_or_none(photo)
    if extension is None:
        raise AftersalesRefused(
            "invalid_photo", "Photos must be JPEG, PNG or WebP images of at most 5 MB each.", field="photos"
        )
    return extension


def refund_request_create(
    *,
    diner: User,
    order: Order,
    reason: str,
    lines: list[dict[str, Any]],
    photos: Sequence[UploadedFile[bytes]] = (),
) -> RefundRequest:
    """A diner asks for money back on items of a delivered order, within the request window.

    `lines` = [{"line": OrderLine id, "quantity": n}]; the amount is their unit prices. One open
    request per order at a time; items already refunded cannot be asked for again.

    Up to PHOTOS_MAX `photos`, each checked by content (JPEG, PNG or WebP, at most 5 MB), are
    stored under random names through the default storage, their rows written in the request's
    transaction; if that transaction fails, the files it stored are deleted again.
    """
    if order.diner_id != diner.pk:
        raise AftersalesRefused("not_found", "No such order.", status=404)
    if order.delivered_at is None:
        raise AftersalesRefused("not_delivered", "Refunds can be asked for once the order has been delivered.")
    window = timedelta(hours=settings.REFUND_REQUEST_WINDOW_HOURS)
    if timezone.now() - order.delivered_at > window:
        raise AftersalesRefused("window_closed", "The time to ask for a refund on this order has passed.")
    reason = reason.strip()
    if not reason:
        raise AftersalesRefused("reason_required", "Say what went wrong.", field="reason")
    if not lines:
        raise AftersalesRefused("lines_required", "Choose the items to refund.", field="lines")
    by_id = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    amount, clean = 0, []
    for entry in lines:
        line = by_id.get(int(entry.get("line", 0)))
        quantity = int(entry.get("quantity", 0))
        if line is None or not 1 <= quantity <= line.quantity - line.refunded_quantity:
            raise AftersalesRefused("invalid_lines", "Those items cannot be refunded.", field="lines")
        amount += line.unit_price_cents * quantity
        clean.append({"line": line.pk, "quantity": quantity})
    if len(photos) > PHOTOS_MAX:
        raise AftersalesRefused("too_many_photos", f"Add at most {PHOTOS_MAX} photos.", field="photos")
    extensions = [photo_format(photo) for photo in photos]
    stored: list[RefundRequestPhoto] = []
    try:
        with transaction.atomic():
            if (
                RefundRequest.objects.select_for_update()
                .filter(order=order, status__in=[R.REQUESTED, R.CONTESTED])
                .exists()
            ):
                raise AftersalesRefused("request_open", "There is already an open request on this order.", status=409)
            request = RefundRequest.objects.create(
                order=order,
                diner=diner,
                reason=reason,
                lines=clean,
                amount_cents=amount,
                respond_by=timezone.now() + timedelta(hours=settings.REFUND_RESPONSE_HOURS),
            )
            for photo, extension in zip(photos, extensions, strict=True):
                row = RefundRequestPhoto(request=request)
                # A random name: the diner's file name says nothing the store needs to see.
                row.image.save(f"{uuid.uuid4().hex}.{extension}", photo, save=False)
                stored.append(row)
                row.save()
    except BaseException:
        for row in stored:
            row.image.delete(save=False)
        raise
    return request


def _move(request: RefundRequest, *, from_: set[str], to: str, by: User | None, response: str = "") -> bool:
    """Compare-and-swap the request's status; False when another actor moved it first."""
    fields: dict[str, Any] = {"status": to, "decided_at": timezone.now(), "decided_by": by}
    if response:
        fields["store_response"] = response
    return bool(RefundRequest.objects.filter(pk=request.pk, status__in=from_).update(**fields))


def _refund(request: RefundRequest, *, actor: User | None, role: str, claimed_from: str) -> None:
    """Refund the request's items; if the payment side refuses, hand the claim back (the status
    returns to `claimed_from`) so the request can be decided again, and say why."""
    try:
        refund_issue(
            order=request.order,
            amount_cents=None,
            lines=request.lines,
            reason=request.reason,
            actor=actor,
            actor_role=role,
        )
    except PaymentRefused as refused:
        RefundRequest.objects.filter(pk=request.pk).update(status=claimed_from, decided_at=None, decided_by=None)
        raise AftersalesRefused(refused.code, refused.message, status=409) from refused


def refund_request_accept(*, user: User, request: RefundRequest) -> RefundRequest:
    """The store agrees: the items are refunded at once."""
    if not access_store(user, request.order.store):
        raise AftersalesRefused("not_found", "No such request.", status=404)
    if not _move(request, from_={R.REQUESTED}, to=R.ACCEPTED, by=user):
        raise AftersalesRefused("already_decided", "This request has been answered already.", status=409)
    _refund(request, actor=user, role="store", claimed_from=R.REQUESTED)
    request.refresh_from_db()
    return request


def refund_request_contest(*, user: User, request: RefundRequest, response: str) -> RefundRequest:
    """The store disagrees, saying why; the platform decides."""
    if not access_store(user, request.order.store):
        raise AftersalesRefused("not_found", "No such request.", status=404)
    if not response.strip():
        raise AftersalesRefused("response_required", "Say why you contest the request.", field="response")
    if request.respond_by < timezone.now():
        raise AftersalesRefused("deadline_passed", "The time to answer this request has passed.", status=409)
    if not _move(request, from_={R.REQUESTED}, to=R.CONTESTED, by=user, response=response.strip()):
        raise AftersalesRefused("already_decided", "This request has been answered already.", status=409)
    request.refresh_from_db()
    return request


def refund_request_decide(*, user: User, request: RefundRequest, approve: bool) -> RefundRequest:
    """An operator decides a contested (or unanswered) request."""
    if not access_operator(user):
        raise AftersalesRefused("not_found", "No such request.", status=404)
    target = R.APPROVED if approve else R.DECLINED
    before = request.status
    if not _move(request, from_={R.REQUESTED, R.CONTESTED}, to=target, by=user):
        raise AftersalesRefused("already_decided", "This request has been decided already.", status=409)
    if approve:
        _refund(request, actor=user, role="operator", claimed_from=before)
    request.refresh_from_db()
    return request


def refund_requests_expire(*, now: Any = None) -> int:
    """Approve every request the store left unanswered past its deadline, and refund it.
    Selects by status, so a rerun finds nothing left to do. Returns how many were approved."""
    now = now or timezone.now()
    approved = 0
    for request in RefundRequest.objects.filter(status=R.REQUESTED, respond_by__lt=now).select_related("order"):
        if _move(request, from_={R.REQUESTED}, to=R.APPROVED, by=None):
            try:
                _refund(request, actor=None, role="system", claimed_from=R.REQUESTED)
            except AftersalesRefused:
                logger.exception("refund request %s could not be refunded; left for the platform", request.pk)
                continue
            approved += 1
    return approved
