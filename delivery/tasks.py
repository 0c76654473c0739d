"""Marketplace housekeeping tasks (scheduled by Celery beat)."""

from __future__ import annotations

from celery import shared_task

from delivery.services.aftersales import refund_requests_expire as _refund_requests_expire
from delivery.services.board import order_auto_reject as _order_auto_reject
from delivery.services.board import orders_auto_reject_due as _orders_auto_reject_due
from delivery.services.board import sold_out_restore_due as _sold_out_restore_due
from delivery.services.board import store_pauses_expire as _store_pauses_expire
from delivery.services.board import stores_auto_pause_unattended as _stores_auto_pause_unattended
from delivery.services.reviews import store_ratings_refresh as _store_ratings_refresh


@shared_task(name="delivery.tasks.store_ratings_refresh", acks_late=True)
def store_ratings_refresh() -> int:
    """Recount rating aggregates so the 30-day window slides; idempotent, hence acks_late."""
    return _store_ratings_refresh()


@shared_task(name="delivery.tasks.refund_requests_expire")
def refund_requests_expire() -> int:
    """Approve and refund the requests their store left unanswered past the deadline. Each
    request is claimed by a compare-and-swap on its status, so overlapping runs refund once."""
    return _refund_requests_expire()


@shared_task(name="delivery.tasks.order_auto_reject", acks_late=True)
def order_auto_reject(order_id: int) -> bool:
    """Reject and refund an order its store left unanswered past the deadline. No longer
    scheduled (the sweep below enforces every deadline); kept for tasks already queued. Selects
    by state and time: a rerun or a late run does nothing."""
    return _order_auto_reject(order_id=order_id)


@shared_task(name="delivery.tasks.orders_auto_reject_due", acks_late=True)
def orders_auto_reject_due() -> int:
    """The accept deadline of every paid order, every ORDER_ACCEPT_SWEEP_SECONDS (beat): selects
    by state and time, so an overlapping or repeated run changes nothing."""
    return _orders_auto_reject_due()


@shared_task(name="delivery.tasks.board_housekeeping", acks_late=True)
def board_housekeeping() -> dict[str, int]:
    """Each minute: sold-out dishes whose time is up come back, timed pauses end, and stores
    open without a connected board are paused. Each part selects by state: reruns do nothing."""
    return {
        "restored": _sold_out_restore_due(),
        "unpaused": _store_pauses_expire(),
        "auto_paused": _stores_auto_pause_unattended(),
    }
