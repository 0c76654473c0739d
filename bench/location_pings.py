"""Location pings through Daphne: pings/s on one core against the echo ceiling, measured in the
same run on the same server, and how many couriers at one ping per 4 s one core holds.

A ping is the real path: `/ws/courier/` (origin check, session auth at connect), JSON decode,
validation, one Redis round trip (the Lua script: ordering, rate, HSET + SADD), and the
JSON acknowledgement. The echo is `/ws/me/` ping/pong on the same Daphne (bench.ws_echo's
client). Flood runs set COURIER_PING_MIN_INTERVAL=0 for that server, since the per-courier rate
limit is policy, not cost; the fleet runs keep the default limit.

Goals (issue 5): flood >= 0.9 x echo; 10 k couriers at 1 ping / 4 s with the server core <= 50 %.
`bench/run_all.py pings` (BENCH_FLEETS="2500,5000,10000" to choose the fleet sizes).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from datetime import timedelta
from typing import Any

from bench import ws_echo
from bench.common import (
    CLIENT_CPU,
    HOST,
    ROOT,
    SERVER_CPU,
    emit,
    free_port,
    log,
    pinned,
    running_server,
    setup_django,
    subprocess_env,
    warn_if_core_shared,
)

PREFIX = "bench-rider"
FLOOD_CONNECTIONS = 32
FLOOD_DEPTH = 4
DURATION = 10.0
FLEET_DURATION = 20.0
FLEET_INTERVAL = 4.0
CPU_GOAL = 0.5


def couriers_sessions(n: int) -> list[str]:
    """Cookies of `n` bench couriers (users with unusable passwords, created once), each with a
    fresh session written as django.contrib.auth.login would."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import connections
    from django.utils import timezone

    from accounts.models import User
    from dispatch.models import Courier

    names = [f"{PREFIX}-{i:05d}" for i in range(n)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create([User(username=u, password=unusable) for u in names if u not in existing], batch_size=2000)
    users = list(User.objects.filter(username__in=names).order_by("username"))
    have = set(Courier.objects.filter(user__in=users).values_list("user_id", flat=True))
    Courier.objects.bulk_create([Courier(user=u) for u in users if u.pk not in have], batch_size=2000)
    Session.objects.filter(session_key__startswith="benchrider").delete()
    store = SessionStore()
    expire = timezone.now() + timedelta(hours=2)
    rows = []
    for i, user in enumerate(users):
        key = f"benchrider{i:06d}{os.urandom(8).hex()}"
        data = {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
    Session.objects.bulk_create(rows, batch_size=2000)
    connections.close_all()
    return [f"{settings.SESSION_COOKIE_NAME}={r.session_key}" for r in rows]


def _client(port: int, pgid: int, cookies: list[str], mode: str, duration: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".cookies", delete=True) as f:
        f.write("\n".join(cookies))
        f.flush()
        argv = pinned(
            CLIENT_CPU,
            [
                sys.executable, "-m", "bench.ping_client", "--url", f"ws://{HOST}:{port}/ws/courier/",
                "--origin", f"http://{HOST}:{port}", "--server-pgid", str(pgid), "--mode", mode,
                "--depth", str(FLOOD_DEPTH), "--interval", str(FLEET_INTERVAL), "--duration", str(duration),
                "--warmup", "3" if mode == "fleet" else "2",
            ],
        )  # fmt: skip
        env = {**subprocess_env(), "BENCH_PING_COOKIES": f.name}
        done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, timeout=300, check=False, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ping client exited with {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def per_cpu(result: dict[str, Any], key: str = "acks_per_second") -> float:
    """Messages per CPU-second of the server (0 when it used none)."""
    cpu = result["server_cpu_utilisation"] or 0.0
    return float(result[key]) / cpu if cpu else 0.0


def _daphne(rate_limit: str) -> tuple[list[str], int]:
    port = free_port()
    os.environ["COURIER_PING_MIN_INTERVAL"] = rate_limit
    argv = pinned(SERVER_CPU, [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), "config.asgi:application"])
    return argv, port


def _raise_open_files() -> None:
    """Allow as many open files as the hard limit: 10,000 couriers are 10,000 sockets in the
    server and as many in the client, which inherit this limit (a soft limit of 1,024 is
    common)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < max(_fleets()) + 1000:
        log(f"pings: the open-file limit ({hard}) is below one socket per courier; large fleets will fail")


def _fleets() -> list[int]:
    return [int(x) for x in os.environ.get("BENCH_FLEETS", "2500,5000,10000").split(",")]


def run() -> list[dict[str, Any]]:
    setup_django()
    _raise_open_files()
    fleets = _fleets()
    cookies = couriers_sessions(max([FLOOD_CONNECTIONS, *fleets]))
    echo_name, echo_key = ws_echo.bench_session()
    records = []
    saved = os.environ.get("COURIER_PING_MIN_INTERVAL")
    try:
        argv, port = _daphne("0")
        with running_server("daphne", argv, port) as pgid:
            log(f"pings: echo then flood, {FLOOD_CONNECTIONS} connections x {FLOOD_DEPTH} in flight")
            echo = ws_echo.run_client(port, pgid, f"{echo_name}={echo_key}")
            flood = _client(port, pgid, cookies[:FLOOD_CONNECTIONS], "flood", DURATION)
        ratio = flood["acks_per_second"] / echo["messages_per_second"] if echo["messages_per_second"] else 0.0
        warn_if_core_shared("pings", flood["server_cpu_utilisation"], flood["server_core_busy"])
        records.append(
            emit(
                "location_pings",
                "pings_per_second",
                flood["acks_per_second"],
                "ping/s",
                {
                    "echo_messages_per_second": round(echo["messages_per_second"], 1),
                    "ratio_to_echo": round(ratio, 3),
                    "goal_ratio": 0.9,
                    "errors": flood["errors"],
                    "error_codes": flood["error_codes"],
                    "latency_ms": flood["latency_ms"],
                    "server_cpu_utilisation": flood["server_cpu_utilisation"],
                    "server_core_busy": flood["server_core_busy"],
                    "client_cpu_utilisation": flood["client_cpu_utilisation"],
                    "echo_server_cpu_utilisation": echo["server_cpu_utilisation"],
                    # On a shared machine the server may not get its whole core: per CPU-second
                    # of the server, pings against echoes is the figure that load distorts least.
                    "ratio_per_server_cpu_second": round(per_cpu(flood) / per_cpu(echo, "messages_per_second"), 3)
                    if per_cpu(echo, "messages_per_second")
                    else None,
                },
            )
        )
        fleet_results = []
        for n in fleets:
            argv, port = _daphne(saved or "1")
            with running_server("daphne", argv, port) as pgid:
                log(f"pings: fleet of {n} couriers at 1 ping / {FLEET_INTERVAL:.0f} s, {FLEET_DURATION:.0f} s window")
                result = _client(port, pgid, cookies[:n], "fleet", FLEET_DURATION)
            cpu = result["server_cpu_utilisation"] or 0.0
            fleet_results.append(
                {
                    "couriers": n,
                    "offered_per_second": n / FLEET_INTERVAL,
                    "cpu": round(cpu, 3),
                    "core_busy": round(result["server_core_busy"] or 0.0, 3),
                    "server_cpu_ms_per_ping": round(1000 / per_cpu(result), 3) if per_cpu(result) else None,
                    # One client process holds every socket: this shows it was not the limit.
                    "client_cpu": round(result["client_cpu_utilisation"] or 0.0, 3),
                    "acks_per_second": round(result["acks_per_second"], 1),
                    "errors": result["errors"],
                    "failures": result["failures"][:2],
                    "latency_ms": result["latency_ms"],
                }
            )
        # Holding means keeping up (>= 95 % of the offered pings acknowledged in the window) with
        # the server at <= 50 % of its core; a starved server (others on its core) keeps up with
        # nothing, whatever its own CPU share.
        held = [
            f
            for f in fleet_results
            if f["cpu"] <= CPU_GOAL and not f["failures"] and f["acks_per_second"] >= 0.95 * f["offered_per_second"]
        ]
        best = max(held, key=lambda f: f["couriers"]) if held else None
        # Pings cost the same each, so the CPU per courier of the largest fleet run gives how many
        # couriers fill half a core.
        per_courier = best["cpu"] / best["couriers"] if best else 0
        records.append(
            emit(
                "location_pings",
                "couriers_at_half_core",
                best["couriers"] if best else 0,
                "couriers",
                {
                    "interval_s": FLEET_INTERVAL,
                    "goal": 10_000,
                    "cpu_goal": CPU_GOAL,
                    "runs": fleet_results,
                    "extrapolated_couriers_at_half_core": int(CPU_GOAL / per_courier) if per_courier else None,
                },
            )
        )
    finally:
        ws_echo.delete_session(echo_key)
        if saved is None:
            os.environ.pop("COURIER_PING_MIN_INTERVAL", None)
        else:
            os.environ["COURIER_PING_MIN_INTERVAL"] = saved
    return records
