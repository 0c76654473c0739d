"""The "days sooner" routine of bench/chicago_risk.py: a hand-made case and Chicago's check."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from bench.chicago_risk import days_sooner, load

D = datetime.date


def test_days_sooner_by_hand() -> None:
    dates = [D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)]
    found = [0, 0, 0, 1]
    # Ranked first, the last day's critical finding moves to day one: 3 days sooner.
    assert days_sooner(dates, found, [0.1, 0.2, 0.3, 0.9]) == 3
    # The worst ranking pushes an early finding later: negative.
    assert days_sooner(dates, [1, 0, 0, 0], [0.1, 0.2, 0.3, 0.9]) == -3
    # Same-day slots: two inspections a day keep two a day.
    two_a_day = [D(2024, 1, 1), D(2024, 1, 1), D(2024, 1, 2), D(2024, 1, 2)]
    assert days_sooner(two_a_day, [0, 0, 1, 1], [0, 0, 1, 1]) == 1


def test_chicago_score_reproduces_the_readme_check(shared_dir: Path) -> None:
    """The fixture's README: ordering by Chicago's xgboost score gives 7.8 days sooner."""
    rows = load(shared_dir / "fixtures" / "inspections" / "chicago-cdph" / "model_eval_2014_test_set.csv")
    dates = [D.fromisoformat(r["Inspection_Date"]) for r in rows]
    found = [int(r["criticalFound"]) for r in rows]
    assert sum(found) == 258
    assert days_sooner(dates, found, [float(r["score"]) for r in rows]) == pytest.approx(7.8, abs=0.05)
