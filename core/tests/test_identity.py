from __future__ import annotations

from core.identity import identity_hash, mask_phone


def test_mask_phone_keeps_prefix_and_last_four() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("021-6234-5678") == "021****5678"
    assert mask_phone("12345") == "*****"


def test_identity_hash_is_deterministic_normalised_and_separated_by_purpose() -> None:
    a = identity_hash("110101199003074578", purpose="resident_id")
    assert a == identity_hash("110101 1990 0307 4578", purpose="resident_id")
    assert a != identity_hash("110101199003074578", purpose="phone")
    assert len(a) == 64 and "199003" not in a


def test_identity_hash_depends_on_the_key(settings: object) -> None:
    before = identity_hash("13812345678", purpose="phone")
    settings.IDENTITY_HASH_KEY = "another-key"  # type: ignore[attr-defined]
    assert identity_hash("13812345678", purpose="phone") != before
