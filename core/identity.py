"""Personal numbers (phone, resident ID) are never stored in clear: a keyed hash to match on,
and a masked form to show."""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings


def identity_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of a normalised value under IDENTITY_HASH_KEY, separated by purpose, so a
    phone hash can never be matched against an ID hash. Deterministic: equal inputs match."""
    normalised = re.sub(r"[\s-]", "", value).upper()
    key = settings.IDENTITY_HASH_KEY.encode()
    return hmac.new(key, f"{purpose}:{normalised}".encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678`: the carrier prefix and last four digits stay."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 13 and digits.startswith("86"):  # +86 country code on a mainland mobile
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
