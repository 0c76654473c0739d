"""Each grading scheme against hand-made cases and against the published fixtures."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from compliance.inspections.schemes import (
    CN_EXCELLENT,
    CN_FAIR,
    CN_GOOD,
    CN_UNGRADED,
    FAILING_GRADES,
    ViolationInput,
    fhrs_rating,
    grade_for,
    nyc_grade_for_score,
)

FIXTURES = Path("fixtures") / "inspections"


def v(code: str, points: int, critical: bool = False) -> ViolationInput:
    return ViolationInput(code=code, points=points, critical=critical)


# --- nyc --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("points", "grade"), [(0, "A"), (13, "A"), (14, "B"), (27, "B"), (28, "C"), (60, "C")])
def test_nyc_bands(points: int, grade: str) -> None:
    result = grade_for("nyc", [v("02B", points)] if points else [])
    assert (result.score, result.grade, result.failed) == (points, grade, grade == "C")


def test_nyc_sums_points() -> None:
    assert grade_for("nyc", [v("02B", 7, True), v("10F", 2), v("04M", 5, True)]).score == 14


def test_nyc_fixture_score_grade_rows(shared_dir: Path) -> None:
    """The 0-13/14-27/28+ bands give every A/B/C row's grade, except a few C grades with an
    A-range score: the fixture's README explains them (a grade carried from an earlier
    re-inspection or changed by adjudication), so the test allows them and only them."""
    with (shared_dir / FIXTURES / "nyc-dohmh" / "score_grade_subset.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["GRADE"] in {"A", "B", "C"} and r["SCORE"]]
    assert len(rows) > 350
    mismatches = [r for r in rows if nyc_grade_for_score(int(r["SCORE"])) != r["GRADE"]]
    assert len(mismatches) <= 0.01 * len(rows)
    assert all(r["GRADE"] == "C" and int(r["SCORE"]) <= 13 for r in mismatches)


def test_nyc_full_schema_sample_grades_and_ungraded_initial_inspections(shared_dir: Path) -> None:
    """In the current-schema sample, every A/B/C grade is its score's band, and a cycle
    inspection's initial visit scoring 14+ carries no grade (awaiting re-inspection)."""
    with (shared_dir / FIXTURES / "nyc-dohmh" / "inspection_results_sample.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["SCORE"]]
    graded = [r for r in rows if r["GRADE"] in {"A", "B", "C"}]
    initial = [
        r for r in rows if r["INSPECTION TYPE"] == "Cycle Inspection / Initial Inspection" and int(r["SCORE"]) >= 14
    ]
    assert graded and initial
    for r in graded:
        is_initial = r["INSPECTION TYPE"].endswith("Initial Inspection")
        assert nyc_grade_for_score(int(r["SCORE"]), initial=is_initial) == r["GRADE"]
    for r in initial:
        assert nyc_grade_for_score(int(r["SCORE"]), initial=True) == r["GRADE"], r


# --- fhrs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hygiene", "structural", "management", "rating"),
    [
        (0, 0, 0, 5),
        (5, 5, 5, 5),  # total 15, highest 5
        (10, 0, 0, 4),  # total low but one component 10: capped at 4
        (10, 5, 5, 4),  # total 20
        (10, 10, 5, 3),  # total 25
        (10, 10, 10, 3),  # total 30
        (15, 0, 0, 2),  # highest 15 caps at 2
        (15, 15, 10, 2),  # total 40
        (20, 15, 10, 1),  # total 45, highest 20
        (25, 0, 0, 0),  # one component above 20
        (20, 20, 20, 0),  # total 60
    ],
)
def test_fhrs_lower_of_the_two_bands(hygiene: int, structural: int, management: int, rating: int) -> None:
    assert fhrs_rating(hygiene=hygiene, structural=structural, management=management) == rating
    result = grade_for("fhrs", [v("hygiene", hygiene), v("structural", structural), v("management-x", management)])
    assert result.grade == str(rating)
    assert result.score == hygiene + structural + management
    assert result.failed is (rating <= 2)


def test_fhrs_component_points_add_up_and_are_capped() -> None:
    result = grade_for("fhrs", [v("hygiene-5", 5), v("hygiene-10", 10), v("structural-25", 25), v("structural-5", 5)])
    assert result.score == 15 + 25
    assert result.grade == "0"


def test_fhrs_refuses_a_code_without_component() -> None:
    with pytest.raises(ValueError, match="component"):
        grade_for("fhrs", [v("02B", 5)])


def _establishments(path: Path) -> list[ET.Element]:
    # The FSA's own published files from ../shared, not input from users.
    return list(ET.parse(path).getroot().iter("EstablishmentDetail"))  # noqa: S314


def test_fhrs_reproduces_every_rating_with_published_scores(shared_dir: Path) -> None:
    """Every 0-5 rating in the FHRS file that carries its component scores is reproduced; the
    ones without scores (not published, exempt, awaiting inspection) cannot be recomputed."""
    checked = 0
    for path in sorted((shared_dir / FIXTURES / "uk-fhrs").glob("*.xml")):
        for e in _establishments(path):
            scores = e.find("Scores")
            rating = e.findtext("RatingValue") or ""
            if scores is None or len(scores) == 0:
                continue
            assert rating.isdigit(), f"{e.findtext('FHRSID')} has scores but rating {rating!r}"
            components = {
                "hygiene": int(scores.findtext("Hygiene") or 0),
                "structural": int(scores.findtext("Structural") or 0),
                "management": int(scores.findtext("ConfidenceInManagement") or 0),
            }
            result = grade_for("fhrs", [v(name, points) for name, points in components.items()])
            assert result.grade == rating, (e.findtext("FHRSID"), components, rating)
            checked += 1
    assert checked == 260  # 300 City of London establishments minus 40 without scores


def test_fhis_file_publishes_no_scores_to_reproduce(shared_dir: Path) -> None:
    """Scotland's FHIS (Pass / Improvement Required) publishes no component scores: nothing in it
    is a 0-5 rating, so the fhrs scheme has nothing to reproduce there."""
    path = shared_dir / FIXTURES / "uk-fhrs" / "FHRS785_orkney_islands_fhis_sample.xml"
    establishments = _establishments(path)
    assert len(establishments) == 120
    assert all(len(e.findall("Scores/*")) == 0 for e in establishments)
    ratings = {e.findtext("RatingValue") for e in establishments}
    assert ratings == {"Pass", "Improvement Required", "Awaiting Inspection"}


# --- cn ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deductions", "grade", "failed"),
    [
        ([], CN_EXCELLENT, False),
        ([10], CN_EXCELLENT, False),  # 90
        ([11], CN_GOOD, False),  # 89
        ([25], CN_GOOD, False),  # 75
        ([26], CN_FAIR, False),  # 74
        ([40], CN_FAIR, False),  # 60
        ([41], CN_UNGRADED, True),  # 59
        ([100, 50], CN_UNGRADED, True),  # floors at 0
    ],
)
def test_cn_cut_offs(deductions: list[int], grade: str, failed: bool) -> None:
    result = grade_for("cn", [v(f"CN-{i}", p) for i, p in enumerate(deductions)])
    assert (result.grade, result.failed) == (grade, failed)
    assert result.score == max(0, 100 - sum(deductions))


def test_cn_two_key_items_failed_means_no_grade() -> None:
    one = grade_for("cn", [v("CN-03", 3, critical=True)])
    two = grade_for("cn", [v("CN-03", 3, critical=True), v("CN-05", 3, critical=True)])
    assert (one.grade, one.failed) == (CN_EXCELLENT, False)
    assert (two.score, two.grade, two.failed) == (94, CN_UNGRADED, True)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown grading scheme"):
        grade_for("xx", [])


def test_failing_grades_agree_with_the_schemes() -> None:
    cases = {
        "nyc": [[v("02B", p)] for p in range(0, 60, 3)],
        "cn": [[v("CN-1", p)] for p in range(0, 100, 5)] + [[v("a", 1, True), v("b", 1, True)]],
        "fhrs": [
            [v("hygiene", h), v("structural", s), v("management", m)]
            for h in (0, 10, 20)
            for s in (5, 15, 25)
            for m in (0, 20, 30)
        ],
    }
    for scheme, violation_sets in cases.items():
        for violations in violation_sets:
            result = grade_for(scheme, violations)
            assert result.failed == (result.grade in FAILING_GRADES[scheme]), (scheme, result)
