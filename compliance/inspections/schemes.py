"""Grading schemes: pure functions from an inspection's violations to a score and a grade.

Each jurisdiction picks one by name (`SCHEMES`):

- `nyc`: New York City's letter grading. The score is the sum of violation points; A 0-13,
  B 14-27, C 28+ (NYC DOHMH, "How We Score and Grade Restaurants"; also the registry format's
  `nyc` scheme). C is failing.
- `fhrs`: the UK Food Hygiene Rating Scheme, 0-5. Inspectors score three components (hygiene
  0-25, structural 0-25, confidence in management 0-30; lower is better); the rating is the LOWER
  of the band by total score and the band by the highest single component (FSA, "Food Hygiene
  Rating Scheme: Brand Standard", Annex "Scores and ratings"; the same table is in the Food Law
  Code of Practice (England) guidance):
      total 0-15 -> 5, 20 -> 4, 25-30 -> 3, 35-40 -> 2, 45-50 -> 1, over 50 -> 0;
      highest component <= 5 -> 5, <= 10 -> 4 (or 3), <= 15 -> 2, <= 20 -> 1, over 20 -> 0.
  A violation's code names its component (`hygiene`, `structural`, `management`, optionally with
  a suffix after "-" or "."); its points add to that component's score, capped at the maximum.
  Ratings 0-2 ("improvement necessary" in the FSA's descriptors) count as failing.
- `cn`: 餐饮服务食品安全监督量化分级 (CFDA 国食药监食[2012]5号, 《关于实施餐饮服务食品安全监督
  量化分级管理工作的指导意见》): the dynamic grade 优秀 / 良好 / 一般 (big smile, smile, flat face).
  The guidance leaves the score sheet to provinces; we use the cut-offs its provincial rules
  publish, on a 100-point sheet from which violation points are deducted: >= 90 优秀, 75-89 良好,
  60-74 一般; below 60, or 2 or more key (critical) items failed, no grade is given (不予评级)
  and the store must rectify (Hainan FDA's implementation, reported by 海南日报 2012-05-30:
  "9.0分以上为优秀 ... 8.9分至7.5分为良好 ... 7.4分至6.0分为一般 ... 6.0分以下的，或2项以上
  关键项不符合要求的，不评定等级"; SFDA's 2011 draft used the same 90/75/60 cut-offs).
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


# --- nyc --------------------------------------------------------------------------------------


def nyc_grade_for_score(score: int, *, initial: bool = False) -> str:
    """The letter for a score. On an initial inspection only an A is given; 14 or more leaves
    it ungraded ("") until the re-inspection (NYC DOHMH, "How We Score and Grade")."""
    if initial and score > 13:
        return ""
    return "A" if score <= 13 else "B" if score <= 27 else "C"


def nyc(violations: Sequence[ViolationInput]) -> Result:
    score = sum(v.points for v in violations)
    grade = nyc_grade_for_score(score)
    return Result(score=score, grade=grade, failed=grade == "C")


# --- fhrs -------------------------------------------------------------------------------------

FHRS_COMPONENT_MAX = {"hygiene": 25, "structural": 25, "management": 30}


def _fhrs_band_by_total(total: int) -> int:
    for limit, rating in ((15, 5), (20, 4), (30, 3), (40, 2), (50, 1)):
        if total <= limit:
            return rating
    return 0


def _fhrs_band_by_highest(highest: int) -> int:
    # <= 10 allows 4 (and so 3): the total band decides between them.
    for limit, rating in ((5, 5), (10, 4), (15, 2), (20, 1)):
        if highest <= limit:
            return rating
    return 0


def fhrs_rating(*, hygiene: int, structural: int, management: int) -> int:
    """The FHRS rating (0-5) from the three published component scores."""
    total = hygiene + structural + management
    return min(_fhrs_band_by_total(total), _fhrs_band_by_highest(max(hygiene, structural, management)))


def fhrs_component(code: str) -> str:
    head = code.replace(".", "-").split("-", 1)[0].strip().lower()
    if head not in FHRS_COMPONENT_MAX:
        raise ValueError(f"fhrs violation code {code!r} names no component ({', '.join(FHRS_COMPONENT_MAX)})")
    return head


def fhrs(violations: Sequence[ViolationInput]) -> Result:
    scores = dict.fromkeys(FHRS_COMPONENT_MAX, 0)
    for v in violations:
        scores[fhrs_component(v.code)] += v.points
    capped = {name: min(points, FHRS_COMPONENT_MAX[name]) for name, points in scores.items()}
    rating = fhrs_rating(**capped)
    return Result(score=sum(capped.values()), grade=str(rating), failed=rating <= 2)


# --- cn ---------------------------------------------------------------------------------------

CN_EXCELLENT = "优秀"
CN_GOOD = "良好"
CN_FAIR = "一般"
CN_UNGRADED = "不予评级"


def cn(violations: Sequence[ViolationInput]) -> Result:
    score = max(0, 100 - sum(v.points for v in violations))
    criticals = sum(1 for v in violations if v.critical)
    if score < 60 or criticals >= 2:
        return Result(score=score, grade=CN_UNGRADED, failed=True)
    grade = CN_EXCELLENT if score >= 90 else CN_GOOD if score >= 75 else CN_FAIR
    return Result(score=score, grade=grade, failed=False)


# The failing grades of each scheme, for readers of stored grades (an importer that writes rows
# in bulk may leave Inspection.failed unset): the same verdicts as the functions above.
FAILING_GRADES: dict[str, tuple[str, ...]] = {"nyc": ("C",), "fhrs": ("0", "1", "2"), "cn": (CN_UNGRADED,)}

SCHEMES: dict[str, Callable[[Sequence[ViolationInput]], Result]] = {"nyc": nyc, "fhrs": fhrs, "cn": cn}


def grade_for(scheme: str, violations: Sequence[ViolationInput]) -> Result:
    try:
        function = SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown grading scheme {scheme!r}") from None
    return function(violations)
