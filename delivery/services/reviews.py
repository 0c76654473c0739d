"""Reviews: after delivery, one per order, for the store and separately the courier."""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from accounts.access import access_store
from accounts.models import User
from delivery.models import Order, Review, Store

RATING_WINDOW = timedelta(days=30)


class ReviewRefused(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def _stars(value: int | None, field: str) -> None:
    if value is not None and not 1 <= value <= 5:
        raise ReviewRefused("invalid_stars", "Give 1 to 5 stars.", field=field)


def review_create(
    *,
    diner: User,
    order: Order,
    store_stars: int,
    store_text: str = "",
    courier_stars: int | None = None,
    courier_text: str = "",
) -> Review:
    """Rate a delivered order: its diner only, once (the unique order link is the last word).

    The store's aggregates (all time and last 30 days) move by F() in the same transaction, so
    concurrent reviews of one store never lose a count. The courier is the one who carried the
    order; with no courier known, courier stars are refused rather than kept unattached.
    """
    if order.diner_id != diner.pk:
        raise ReviewRefused("not_found", "No such order.", status=404)
    if order.delivered_at is None:
        raise ReviewRefused("not_delivered", "You can rate an order once it has been delivered.")
    _stars(store_stars, "store_stars")
    _stars(courier_stars, "courier_stars")
    if courier_stars is not None and order.courier_id is None:
        raise ReviewRefused("no_courier", "This order had no courier to rate.", field="courier_stars")
    try:
        with transaction.atomic():
            review = Review.objects.create(
                order=order,
                diner=diner,
                store_id=order.store_id,
                store_stars=store_stars,
                store_text=store_text.strip(),
                courier_id=order.courier_id if courier_stars is not None else None,
                courier_stars=courier_stars,
                courier_text=courier_text.strip() if courier_stars is not None else "",
            )
            Store.objects.filter(pk=order.store_id).update(
                rating_count=F("rating_count") + 1,
                rating_sum=F("rating_sum") + store_stars,
                rating_30d_count=F("rating_30d_count") + 1,
                rating_30d_sum=F("rating_30d_sum") + store_stars,
            )
    except IntegrityError as error:
        raise ReviewRefused("already_reviewed", "This order has been rated already.", status=409) from error
    return review


def review_reply(*, user: User, review: Review, text: str) -> Review:
    """The store answers a review, once; only its staff may (others: not found)."""
    if not access_store(user, review.store):
        raise ReviewRefused("not_found", "No such review.", status=404)
    text = text.strip()
    if not text:
        raise ReviewRefused("empty_reply", "Write a reply.", field="text")
    # Compare-and-swap on replied_at: two staff replying at once, one reply wins.
    if not Review.objects.filter(pk=review.pk, replied_at__isnull=True).update(
        reply_text=text, replied_at=timezone.now()
    ):
        raise ReviewRefused("already_replied", "This review has a reply already.", status=409)
    review.refresh_from_db()
    return review


def store_ratings_refresh(*, store_id: int | None = None) -> int:
    """Recount every store's (or one store's) aggregates from its reviews; the nightly task runs
    it so that the 30-day window slides. Idempotent. Returns how many stores were updated."""
    since = timezone.now() - RATING_WINDOW
    stores = Store.objects.all() if store_id is None else Store.objects.filter(pk=store_id)
    updated = 0
    for store in stores.only("pk"):
        all_time = Review.objects.filter(store=store).aggregate(n=Count("pk"), s=Sum("store_stars", default=0))
        recent = Review.objects.filter(store=store, created_at__gte=since).aggregate(
            n=Count("pk"), s=Sum("store_stars", default=0)
        )
        updated += Store.objects.filter(pk=store.pk).update(
            rating_count=all_time["n"],
            rating_sum=all_time["s"],
            rating_30d_count=recent["n"],
            rating_30d_sum=recent["s"],
        )
    return updated
