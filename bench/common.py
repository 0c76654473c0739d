"""Helpers shared by the benchmarks: ports, CPU pinning, server lifetimes, output, statistics."""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# The machine has two cores: the server under test gets one, the load generator the other, so
# neither steals cycles from the other and the figure is the server's one-core ceiling.
SERVER_CPU = 0
CLIENT_CPU = 1

# Bench subprocesses can take a while to import Django and GeoDjango on a cold cache.
SERVER_START_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 5.0
# Share of the server core that others may take before a figure is flagged as disturbed.
SHARED_CORE_TOLERANCE = 0.1


def log(message: str) -> None:
    """Human progress: stderr, so stdout stays one JSON line per figure."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def emit(bench: str, metric: str, value: float, unit: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Print one figure as one JSON line on stdout (flushed at once, in case a later bench dies)."""
    record = {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit, "detail": detail}
    print(json.dumps(record, ensure_ascii=False, sort_keys=False), flush=True)
    return record


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of unsorted values; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def free_port() -> int:
    """A port the OS says is free now. Binding port 0 draws from the ephemeral range (32768 and
    up on Linux), so it is never 8000, where `make run` may be serving."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def pinned(cpu: int, argv: Sequence[str]) -> list[str]:
    """argv run under `taskset`, which execs it: the child's pid is the program's own pid."""
    return ["taskset", "-c", str(cpu), *argv]


def subprocess_env() -> dict[str, str]:
    """Environment for bench subprocesses: the project importable and its settings selected."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # PYTHONUNBUFFERED stays as the caller has it: Daphne writes an access-log line per request
    # to stdout, and unbuffered that is one write(2) each, which `make run` does not pay.
    return env


def setup_django() -> None:
    """Make the project importable and configure Django in this process (idempotent)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def http_get(host: str, port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": f"{host}:{port}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_answers(proc: subprocess.Popen[bytes], port: int, path: str, timeout: float) -> None:
    """Poll GET path until it returns 200; fail early when the server process has died."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering")
        try:
            status, _ = http_get(HOST, port, path, timeout=1.0)
        except OSError as exc:
            last_error = repr(exc)
        else:
            if status == 200:
                return
            last_error = f"HTTP {status}"
        time.sleep(0.2)
    raise TimeoutError(f"server on port {port} did not answer {path} within {timeout:.0f} s ({last_error})")


def _stat_fields(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None once the process is gone.

    Index 2 is then the process group, 11 and 12 user and system time in clock ticks.
    """
    try:
        raw = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after its last ")".
    return raw[raw.rfind(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float | None:
    """User+system CPU seconds of one process, or None if it is not visible here."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """User+system CPU seconds of every live process in a process group.

    A gunicorn master does no request work; its worker (a child) does, and a parent's counters
    only include children once they are reaped. Summing the group counts both while they run.
    """
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is not None and int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def core_busy_seconds(cpu: int) -> float:
    """Seconds one core has spent busy (anything but idle and I/O wait) since boot.

    Against the server's own CPU time this shows how much of the server core other processes
    took (a `make run` stack, PostgreSQL, Redis): the usual reason for a figure to drop.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name == f"cpu{cpu}":
            # user nice system idle iowait irq softirq steal (guest time is already in user).
            counters = [int(v) for v in values[:8]]
            return (sum(counters) - counters[3] - counters[4]) / ticks
    raise ValueError(f"no cpu{cpu} in /proc/stat")


def warn_if_core_shared(name: str, server_utilisation: float | None, core_busy: float | None) -> None:
    """Say so when other processes took a noticeable share of the server core in the window."""
    if server_utilisation is None or core_busy is None:
        return
    if core_busy - server_utilisation > SHARED_CORE_TOLERANCE:
        log(
            f"{name}: core {SERVER_CPU} was busy {core_busy:.0%} but the server used {server_utilisation:.0%}: "
            "other processes shared its core, so this figure is likely low"
        )


def background_load(seconds: float = 1.0) -> dict[int, float]:
    """Busy fraction of each bench core over a short quiet interval, before anything starts."""
    cores = (SERVER_CPU, CLIENT_CPU)
    before = {cpu: core_busy_seconds(cpu) for cpu in cores}
    time.sleep(seconds)
    return {cpu: (core_busy_seconds(cpu) - before[cpu]) / seconds for cpu in cores}


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _first_traceback(path: Path, lines: int = 40) -> str:
    """The first traceback in a server log, without the access-log lines interleaved with it."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for index, line in enumerate(text):
        if line.startswith("Traceback"):
            # Access-log lines ("host:port - - [date] "GET ...") from other requests interleave.
            kept = [t for t in text[index:] if not re.match(r"^\S+:\d+ - - \[", t)]
            return "\n".join(kept[:lines])
    return ""


def _stop(proc: subprocess.Popen[bytes], name: str) -> None:
    """SIGTERM the server's process group (it has its own session), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        # Seen with Daphne after HTTP load: requests cancelled at shutdown leave threads parked in
        # WhiteNoise's (sync-only) async_to_sync, and interpreter exit joins them forever.
        log(f"{name} did not stop within {SERVER_STOP_TIMEOUT:.0f} s: killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=SERVER_STOP_TIMEOUT)
    # Workers of a pre-fork server may outlive their master by a moment; do not leave any behind.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def running_server(name: str, argv: Sequence[str], port: int, ready_path: str = "/ping") -> Iterator[int]:
    """Start a server, wait until it answers, yield its process-group id; always stop it.

    The server gets a new session so that stopping it reaches its workers too, and only them.
    Its output goes to a temporary file: a pipe nobody reads could fill and stall the server.
    """
    with tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False) as handle:
        log_path = Path(handle.name)
    log_file: TextIO = log_path.open("w")
    proc: subprocess.Popen[bytes] | None = None
    try:
        log(f"starting {name}: {' '.join(argv)}")
        proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=subprocess_env(),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_answers(proc, port, ready_path, SERVER_START_TIMEOUT)
        except (RuntimeError, TimeoutError):
            log(f"{name} log tail:\n{_tail(log_path)}")
            raise
        log(f"{name} answers on {HOST}:{port} (pid {proc.pid})")
        yield proc.pid
    finally:
        if proc is not None:
            _stop(proc, name)
        log_file.close()
        # A server that answered but failed requests under load would skew the figure silently.
        excerpt = _first_traceback(log_path)
        if excerpt:
            log(f"{name} logged a traceback:\n{excerpt}")
        log_path.unlink(missing_ok=True)
