"""Writes on accounts."""

from __future__ import annotations

from django.db import transaction

from accounts.models import DinerProfile, User
from core.identity import identity_hash, mask_phone


@transaction.atomic
def diner_register(*, username: str, password: str, display_name: str = "", phone: str = "") -> User:
    """Create a diner account: the user and its diner profile, in one transaction.

    The password is hashed with the first configured hasher (argon2); a phone number is kept
    only as a keyed hash and a masked form. The caller validates uniqueness and password
    strength (the registration form does); the unique username constraint is the last word.
    """
    user = User(username=username, display_name=display_name)
    if phone:
        user.phone_hash = identity_hash(phone, purpose="phone")
        user.phone_masked = mask_phone(phone)
    user.set_password(password)
    user.save()
    DinerProfile.objects.create(user=user)
    return user
