"""The risk score: a pure function of a store's features (no Django), so the Chicago benchmark
(bench/chicago_risk.py) can evaluate the very weights the app ranks by."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RiskFeatures:
    store_id: int
    critical_3y: int  # critical violations cited in the last 3 years
    last_failed: bool  # the latest inspection's grade failed
    days_since_inspection: int | None  # None: never inspected
    complaints_1y: int
    food_safety_complaints_1y: int
    rating_mean: float | None  # the platform's reviews (delivery.Store aggregates)
    external_rating_mean_1y: float | None
    licence_age_days: int | None  # since the food-business licence's first valid_from
    licence_valid: bool  # a verified food-business licence valid today


# Weights on the raw features of a logistic score. Those Chicago's data also has are the refit
# of bench/chicago_risk.py (L2 logistic on Chicago's 2014 evaluation set, 1,637 inspections; rerun
# it to refresh them): more past critical violations, a licence younger than a year and a first
# inspection raise the odds of a critical finding; a longer time since the last inspection and a
# failed last inspection slightly lower them there (Chicago re-inspects failures soon, and long-
# quiet places are the calm ones). Out-of-fold, these five features alone find critical
# violations about 1 day sooner on that set; Chicago's full feature set (inspector cluster,
# weather, nearby sanitation complaints) 7.6: see the bench's note. The complaint, rating and
# licence-state weights are our own priors (Chicago's set has none of them): refit all of them
# on our own inspection history once it is large enough.
RISK_WEIGHTS: dict[str, float] = {
    "intercept": -1.46,
    "critical_3y": 0.51,  # per critical violation in 3 years, capped at 6 (Chicago refit)
    "last_failed": -0.18,  # (Chicago refit)
    "years_since_inspection": -0.35,  # per year, capped at 3 (Chicago refit)
    "new_licence": 0.37,  # food-business licence younger than one year (Chicago refit)
    "never_inspected": 0.48,  # (Chicago refit: firstRecord)
    "complaints_1y": 0.15,  # per complaint, capped at 10 (prior)
    "food_safety_complaints_1y": 0.5,  # per food-safety or hygiene complaint, capped at 5 (prior)
    "low_rating": 0.5,  # per star below 4.0, platform and external ratings averaged (prior)
    "no_valid_licence": 1.2,  # no verified food-business licence valid today (prior)
}


def risk_score(f: RiskFeatures) -> float:
    """Probability-like score in (0, 1): a logistic of the weighted features."""
    w = RISK_WEIGHTS
    never = f.days_since_inspection is None
    years = 0.0 if f.days_since_inspection is None else min(f.days_since_inspection / 365.0, 3.0)
    ratings = [r for r in (f.rating_mean, f.external_rating_mean_1y) if r is not None]
    low = max(0.0, 4.0 - sum(ratings) / len(ratings)) if ratings else 0.0
    z = (
        w["intercept"]
        + w["critical_3y"] * min(f.critical_3y, 6)
        + w["last_failed"] * f.last_failed
        + w["years_since_inspection"] * years
        + w["never_inspected"] * never
        + w["new_licence"] * (f.licence_age_days is not None and f.licence_age_days < 365)
        + w["complaints_1y"] * min(f.complaints_1y, 10)
        + w["food_safety_complaints_1y"] * min(f.food_safety_complaints_1y, 5)
        + w["low_rating"] * low
        + w["no_valid_licence"] * (not f.licence_valid)
    )
    return 1.0 / (1.0 + math.exp(-z))
