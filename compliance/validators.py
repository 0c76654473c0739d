"""Identifier checks: credit codes, resident IDs and food-business licence numbers.

Each check answers a `NumberCheck` (valid / check character fails / malformed) instead of raising,
so callers decide: an import keeps and flags a CHECK_FAILED credit code (a few early pilot codes
are legal yet fail GB 32100-2015's check), a form refuses a malformed one.

- Unified Social Credit Code: `stdnum.cn.uscc` (GB 32100-2015, 18 characters, MOD 31 check).
- Resident ID: `stdnum.cn.ric` (GB 11643-1999, ISO 7064 MOD 11-2 check digit, birth date).
- Food-business licence (食品经营许可证): `JY` + 14 digits = business type (1 food sales,
  2 catering, 3 unit canteen), six-digit administrative division (province, city, county, GB/T
  2260), a six-digit sequence and a check digit (食品经营许可管理办法, CFDA Order 17 (2015),
  art. 23). No check algorithm is published, so only the structure and the province are checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

from compliance.models import NumberCheck

# Province-level divisions of GB/T 2260 (the first two digits of an administrative code):
# 11-15 north, 21-23 north-east, 31-37 east, 41-46 south-central, 50-54 south-west,
# 61-65 north-west, 71 Taiwan, 81 Hong Kong, 82 Macao (GB/T 2260-2007 and its updates).
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
    }
)  # fmt: skip

# The business type digit of a food-business licence (CFDA Order 17, art. 23).
FOOD_LICENCE_BUSINESS_TYPES = {"1": "food sales", "2": "catering", "3": "unit canteen"}

_FOOD_LICENCE = re.compile(
    r"^JY(?P<type>\d)(?P<province>\d{2})(?P<city>\d{2})(?P<county>\d{2})(?P<seq>\d{6})(?P<check>\d)$"
)


@dataclass(frozen=True, slots=True)
class Checked:
    """A number in its compact form with the outcome of its check and, if not valid, why."""

    number: str
    check: NumberCheck
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.check == NumberCheck.VALID


def _compact(value: str) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def check_uscc(value: str) -> Checked:
    """A Unified Social Credit Code: VALID, CHECK_FAILED (structure right, check character
    wrong: an operator reviews it) or MALFORMED."""
    number = _compact(value)
    try:
        uscc.validate(number)
    except InvalidChecksum:
        return Checked(number, NumberCheck.CHECK_FAILED, "The check character does not match (GB 32100-2015).")
    except ValidationError as error:
        return Checked(number, NumberCheck.MALFORMED, f"Not a credit code: {error}")
    return Checked(number, NumberCheck.VALID)


def check_resident_id(value: str) -> Checked:
    """An 18-digit resident ID (GB 11643): VALID, CHECK_FAILED or MALFORMED (length, characters,
    birth date)."""
    number = _compact(value)
    try:
        ric.validate(number)
    except InvalidChecksum:
        return Checked(number, NumberCheck.CHECK_FAILED, "The check digit does not match (GB 11643).")
    except ValidationError as error:
        return Checked(number, NumberCheck.MALFORMED, f"Not a resident ID: {error}")
    return Checked(number, NumberCheck.VALID)


def check_food_licence(value: str) -> Checked:
    """A food-business licence number: structure and province only (no public check algorithm),
    so it is VALID or MALFORMED, never CHECK_FAILED."""
    number = _compact(value)
    match = _FOOD_LICENCE.match(number)
    if not match:
        return Checked(number, NumberCheck.MALFORMED, "A food-business licence number is JY and 14 digits.")
    if match["type"] not in FOOD_LICENCE_BUSINESS_TYPES:
        return Checked(number, NumberCheck.MALFORMED, f"Unknown business type {match['type']} (1, 2 or 3).")
    if match["province"] not in PROVINCE_CODES:
        return Checked(number, NumberCheck.MALFORMED, f"Unknown province code {match['province']} (GB/T 2260).")
    if match["city"] == "00" and match["county"] != "00":
        return Checked(number, NumberCheck.MALFORMED, "A county code needs a city code.")
    return Checked(number, NumberCheck.VALID)


def check_licence_number(kind: str, value: str) -> Checked:
    """A licence number by its kind: a business licence carries the entity's credit code."""
    return check_uscc(value) if kind == "business" else check_food_licence(value)


def mask_resident_id(number: str) -> str:
    """`110105194912310029` -> `110***********0029`: the province/city prefix and last four stay."""
    compact = _compact(number)
    if len(compact) < 8:
        return "*" * len(compact)
    return f"{compact[:3]}{'*' * (len(compact) - 7)}{compact[-4:]}"
