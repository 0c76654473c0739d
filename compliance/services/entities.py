"""Legal entities and the people behind them: numbers checked, IDs kept only hashed and masked."""

from __future__ import annotations

from dataclasses import dataclass

from compliance.validators import check_resident_id, mask_resident_id
from core.identity import identity_hash

RESIDENT_ID_PURPOSE = "resident-id"


@dataclass(frozen=True, slots=True)
class Identity:
    """A resident ID as we keep it: a keyed hash to match on, a masked form to show, its check."""

    hash: str
    masked: str
    check: str
    reason: str


def resident_identity(id_number: str) -> Identity:
    """The keyed hash (HMAC under IDENTITY_HASH_KEY, purpose "resident-id"), the masked form and
    the GB 11643 check of a resident ID. The clear number goes no further than this function."""
    checked = check_resident_id(id_number)
    return Identity(
        hash=identity_hash(checked.number, purpose=RESIDENT_ID_PURPOSE) if checked.number else "",
        masked=mask_resident_id(checked.number),
        check=str(checked.check),
        reason=checked.reason,
    )
