"""Bare Django JSON view (/ping) under Daphne (ASGI) and under gunicorn (WSGI, one sync worker).

Each server runs on the server core; wrk runs on the client core. The view touches neither the
database nor the session, so the figure is the cost of the server plus Django's request path.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
from typing import Any

from bench.common import (
    CLIENT_CPU,
    HOST,
    ROOT,
    SERVER_CPU,
    core_busy_seconds,
    emit,
    free_port,
    group_cpu_seconds,
    http_get,
    log,
    pinned,
    running_server,
    setup_django,
    warn_if_core_shared,
)

PATH = "/ping"
CONNECTIONS = 32
WARMUP_SECONDS = 2
DURATION_SECONDS = 10
# wrk stops itself after its duration; this only catches a wrk that hangs.
WRK_TIMEOUT = DURATION_SECONDS + 30
APT_TIMEOUT = 600

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def ensure_wrk() -> str:
    """wrk's path, installed from Debian through the project's apt helper when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing it with apt (scripts/lib.sh apt_install)")
    # The helper reports progress on stdout; send it to stderr so stdout stays JSON lines only.
    subprocess.run(
        ["bash", "-c", ". scripts/lib.sh && apt_install wrk"],
        cwd=ROOT,
        stdout=sys.stderr,
        check=True,
        timeout=APT_TIMEOUT,
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still missing after apt_install")
    return found


def parse_wrk(output: str) -> dict[str, Any]:
    rps = _RPS.search(output)
    if rps is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    latency = {f"p{m.group(1)}": float(m.group(2)) * _TIME_UNITS_MS[m.group(3)] for m in _PERCENTILE.finditer(output)}
    total = _TOTAL.search(output)
    errors = _SOCKET_ERRORS.search(output)
    non_2xx = _NON_2XX.search(output)
    return {
        "rps": float(rps.group(1)),
        "latency_ms": {k: round(v, 3) for k, v in latency.items()},
        "requests": int(total.group(1)) if total else None,
        "socket_errors": (
            dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)) if errors else {}
        ),
        "non_2xx_3xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def run_wrk(wrk: str, url: str, seconds: int) -> tuple[str, float]:
    """wrk's report and the CPU seconds wrk used (taskset execs it, so it is our waited child)."""
    argv = pinned(CLIENT_CPU, [wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=WRK_TIMEOUT, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk exited with code {completed.returncode}: {completed.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return completed.stdout, cpu


def measure(name: str, server_argv: list[str], port: int, wrk: str) -> dict[str, Any]:
    url = f"http://{HOST}:{port}{PATH}"
    with running_server(name, pinned(SERVER_CPU, server_argv), port) as pgid:
        status, body = http_get(HOST, port, PATH)
        if status != 200 or b"pong" not in body:
            raise RuntimeError(f"{name} {PATH} answered {status}: {body[:200]!r}")
        log(f"{name}: warm-up {WARMUP_SECONDS} s")
        run_wrk(wrk, url, WARMUP_SECONDS)
        log(f"{name}: wrk -c{CONNECTIONS} for {DURATION_SECONDS} s")
        cpu_before, busy_before = group_cpu_seconds(pgid), core_busy_seconds(SERVER_CPU)
        output, wrk_cpu = run_wrk(wrk, url, DURATION_SECONDS)
        cpu_after, busy_after = group_cpu_seconds(pgid), core_busy_seconds(SERVER_CPU)
    result = parse_wrk(output)
    result["server_cpu_utilisation"] = round((cpu_after - cpu_before) / DURATION_SECONDS, 3)
    result["server_core_busy"] = round((busy_after - busy_before) / DURATION_SECONDS, 3)
    result["client_cpu_utilisation"] = round(wrk_cpu / DURATION_SECONDS, 3)
    warn_if_core_shared(name, result["server_cpu_utilisation"], result["server_core_busy"])
    if result["non_2xx_3xx"] or any(result["socket_errors"].values()):
        log(f"{name}: wrk saw errors: {result['socket_errors']}, non-2xx/3xx {result['non_2xx_3xx']}")
    return result


def run() -> list[dict[str, Any]]:
    setup_django()
    from django.conf import settings

    wrk = ensure_wrk()
    py = sys.executable
    daphne_port = free_port()
    daphne = measure(
        "daphne", [py, "-m", "daphne", "-b", HOST, "-p", str(daphne_port), "config.asgi:application"], daphne_port, wrk
    )
    gunicorn_port = free_port()
    gunicorn = measure(
        "gunicorn",
        # One sync worker: one process doing the work on the one server core, like Daphne.
        [py, "-m", "gunicorn", "-w", "1", "-b", f"{HOST}:{gunicorn_port}", "config.wsgi:application"],
        gunicorn_port,
        wrk,
    )

    common = {
        "path": PATH,
        "connections": CONNECTIONS,
        "window_s": DURATION_SECONDS,
        "warmup_s": WARMUP_SECONDS,
        "client": f"wrk -t1 -c{CONNECTIONS}",
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
        "debug": settings.DEBUG,
    }
    records = []
    for name, server, result in (
        ("daphne", "daphne config.asgi:application", daphne),
        ("gunicorn", "gunicorn -w 1 (sync) config.wsgi:application", gunicorn),
    ):
        detail = {
            "server": server,
            "p50_latency_ms": result["latency_ms"].get("p50"),
            "p99_latency_ms": result["latency_ms"].get("p99"),
            "latency_ms": result["latency_ms"],
            "requests": result["requests"],
            "socket_errors": result["socket_errors"],
            "non_2xx_3xx": result["non_2xx_3xx"],
            "server_cpu_utilisation": result["server_cpu_utilisation"],
            "server_core_busy": result["server_core_busy"],
            "client_cpu_utilisation": result["client_cpu_utilisation"],
            **common,
        }
        records.append(emit(f"http_ping_{name}", "requests_per_second", result["rps"], "req/s", detail))
    ratio = daphne["rps"] / gunicorn["rps"] if gunicorn["rps"] else float("nan")
    records.append(
        emit(
            "http_ping_ratio",
            "daphne_over_gunicorn",
            ratio,
            "ratio",
            {"daphne_rps": daphne["rps"], "gunicorn_rps": gunicorn["rps"], **common},
        )
    )
    return records
