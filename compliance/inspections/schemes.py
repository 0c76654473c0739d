"""Grading schemes: pure functions from an inspection's violations to a score and a grade.

Each jurisdiction picks one by name (`SCHEMES`). `nyc` is New York City's letter grading: the
score is the sum of violation points; A 0-13, B 14-27, C 28+ (NYC DOHMH, "How We Score and Grade",
also the registry format's `nyc` scheme).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ViolationInput:
    code: str
    points: int = 0
    critical: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    score: int | None
    grade: str
    # A grade that counts as failing under its scheme (the INSPECTION_FAILED flag).
    failed: bool


def nyc(violations: Sequence[ViolationInput]) -> Result:
    score = sum(v.points for v in violations)
    grade = "A" if score <= 13 else "B" if score <= 27 else "C"
    return Result(score=score, grade=grade, failed=grade == "C")


SCHEMES: dict[str, Callable[[Sequence[ViolationInput]], Result]] = {"nyc": nyc}


def grade_for(scheme: str, violations: Sequence[ViolationInput]) -> Result:
    try:
        return SCHEMES[scheme](violations)
    except KeyError:
        raise ValueError(f"unknown grading scheme {scheme!r}") from None
