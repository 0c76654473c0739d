"""The dispatcher process: starts, beats into Redis, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.heartbeat import heartbeat_get

pytestmark = [pytest.mark.live]

ROOT = Path(__file__).resolve().parent.parent


def test_dispatcher_beats_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_dispatcher", "--tick", "0.2"],
        cwd=ROOT,
        env={**os.environ},  # REDIS_PREFIX is the run's own (root conftest)
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        beat = None
        while time.monotonic() < deadline and process.poll() is None:
            beat = heartbeat_get(name="dispatcher")
            if beat is not None and beat.pid == process.pid:
                break
            time.sleep(0.1)
        assert beat is not None and beat.pid == process.pid, "no heartbeat from the dispatcher"
        assert beat.age_seconds < 5

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0, output
    assert "dispatcher stopped cleanly" in output
