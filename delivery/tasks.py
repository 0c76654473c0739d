"""Marketplace housekeeping tasks (scheduled by Celery beat)."""

from __future__ import annotations

from celery import shared_task

from delivery.services.aftersales import refund_requests_expire as _refund_requests_expire
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
