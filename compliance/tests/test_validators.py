"""Identifier checks against published examples and broken ones."""

from __future__ import annotations

import pytest

from compliance.models import NumberCheck
from compliance.validators import (
    check_food_licence,
    check_licence_number,
    check_resident_id,
    check_uscc,
    mask_resident_id,
)

V, C, M = NumberCheck.VALID, NumberCheck.CHECK_FAILED, NumberCheck.MALFORMED


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        # python-stdnum's documented example (stdnum/cn/uscc.py doctest) and the format doc's.
        ("91110000600037341L", V),
        ("91310110666007217T", V),
        (" 9131 0110 6660 0721 7t ", V),  # spaces and case are forgiven
        ("91110000600037341M", C),  # right structure, wrong check character: review
        ("91310110666007217A", C),
        ("9111000060003734", M),  # too short
        ("91110000600037341LX", M),  # too long
        ("91110000600O37341L", M),  # letter O is not in the alphabet
        ("", M),
    ],
)
def test_credit_code(number: str, expected: NumberCheck) -> None:
    assert check_uscc(number).check == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("11010519491231002X", V),  # the example of GB 11643-1999 itself
        ("360426199101010071", V),  # python-stdnum's documented example (stdnum/cn/ric.py)
        ("11010519491231002x", V),
        ("110105194912310021", C),  # check digit wrong
        ("360426199101010072", C),
        ("36042619910101007", M),  # 17 digits
        ("3604261991010100711", M),
        ("3604261991010100A1", M),  # a letter inside
    ],
)
def test_resident_id(number: str, expected: NumberCheck) -> None:
    assert check_resident_id(number).check == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("JY23101060012345", V),  # the format doc's example: catering, Shanghai Jing'an
        ("JY11101050000019", V),  # food sales, Beijing
        ("JY35101020000017", V),  # unit canteen, Fujian
        ("jy23101060012345", V),
        ("JY93101069575012", M),  # business type 9
        ("JY40101060012345", M),  # business type 4
        ("JY29901060012345", M),  # province 99 is not in GB/T 2260
        ("JY21001060012345", M),  # province 10 neither
        ("JY2310106001234", M),  # 13 digits
        ("JY231010600123456", M),  # 15 digits
        ("SC23101060012345", M),  # a production licence prefix, not JY
        ("JY2310106001234A", M),
    ],
)
def test_food_licence(number: str, expected: NumberCheck) -> None:
    assert check_food_licence(number).check == expected


def test_a_food_licence_never_fails_a_check_character() -> None:
    # No check algorithm is published: any last digit of a well-formed number passes.
    assert {check_food_licence(f"JY2310106001234{d}").check for d in range(10)} == {V}


def test_licence_number_by_kind() -> None:
    assert check_licence_number("business", "91110000600037341L").ok
    assert not check_licence_number("business", "JY23101060012345").ok
    assert check_licence_number("food_business", "JY23101060012345").ok


def test_reasons_are_given() -> None:
    assert "check character" in check_uscc("91110000600037341M").reason
    assert "province" in check_food_licence("JY29901060012345").reason


def test_mask_resident_id() -> None:
    assert mask_resident_id("11010519491231002X") == "110***********002X"
