"""Test helpers for inspections."""

from __future__ import annotations

import importlib

from django.apps import apps

# The code lists come from a data migration; a transactional test (browser, live server) flushes
# every table after it runs, migration rows included, so tests that need them re-create them.
_SEED = importlib.import_module("compliance.inspections.migrations.0003_violation_codes_seed")


def violation_codes_ensure() -> None:
    """The seeded code lists, present again (idempotent)."""
    _SEED.seed(apps, None)
