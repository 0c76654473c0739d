"""Settings come from the environment; secrets have no default outside development."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import django; django.setup(); from django.conf import settings; print(settings.TIME_ZONE, settings.USE_TZ)"


def _settings_run(**env: str) -> subprocess.CompletedProcess[str]:
    secrets = {"SECRET_KEY", "IDENTITY_HASH_KEY", "PAYMENT_SANDBOX_SECRET", "DEBUG"}
    clean = {k: v for k, v in os.environ.items() if k not in secrets}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, "ENV_FILE": os.devnull, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_secret_key_refuses_to_start() -> None:
    result = _settings_run(DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_with_secrets_starts_in_shanghai_time() -> None:
    result = _settings_run(
        DEBUG="false", SECRET_KEY="x" * 50, IDENTITY_HASH_KEY="y" * 50, PAYMENT_SANDBOX_SECRET="z" * 50
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Asia/Shanghai", "True"]


def test_development_has_defaults() -> None:
    assert _settings_run(DEBUG="true").returncode == 0
