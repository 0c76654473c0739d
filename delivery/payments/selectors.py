"""Payment reads for pages: what a signed-in user may see."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from accounts.models import User
from delivery.models import Payment


def payment_for_diner(*, user: User | AnonymousUser, provider: str, provider_ref: str) -> Payment | None:
    """The payment with this reference, if `user` is its order's diner (and active); else None,
    so that pages answer 404 alike for a payment that does not exist and one that is not theirs."""
    if not (user.is_authenticated and user.is_active):
        return None
    return (
        Payment.objects.select_related("order", "order__store")
        .filter(provider=provider, provider_ref=provider_ref, order__diner_id=user.pk)
        .first()
    )
