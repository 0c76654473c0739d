"""WebSocket echo ceiling: ping/pong round trips per second through Daphne on one core.

Daphne serves config.asgi:application on the server core with the channel layer as configured
(Redis); the load client (bench/ws_client.py) runs in its own process on the client core. The
echo is the real `/ws/me/` consumer, so the path includes the origin check and session
authentication at connect time, then JSON decode and encode per message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

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

BENCH_USERNAME = "bench-echo"
CONNECTIONS = 32
DEPTH = 4
WARMUP_SECONDS = 2.0
DURATION_SECONDS = 10.0
# Connect, warm-up, window and drain, with room to spare; past this the client is killed.
CLIENT_TIMEOUT = 60.0


def bench_session() -> tuple[str, str]:
    """(cookie name, session key) of a fresh session for the bench-only user.

    The user has an unusable password, so the account cannot be signed into; the session is
    written as django.contrib.auth.login would write it, which is what AuthMiddlewareStack reads.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections

    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=BENCH_USERNAME, defaults={"email": "", "is_active": True})
    if created or user.has_usable_password():
        # Only when needed: a new unusable password changes the auth hash of existing sessions.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    # The parent holds no connection while servers run: it would only sit idle in the database.
    connections.close_all()
    return settings.SESSION_COOKIE_NAME, session.session_key


def delete_session(session_key: str) -> None:
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections

    SessionStore(session_key=session_key).delete()
    connections.close_all()


def run_client(port: int, server_pgid: int, cookie: str) -> dict[str, Any]:
    argv = pinned(
        CLIENT_CPU,
        [
            sys.executable,
            "-m",
            "bench.ws_client",
            "--url",
            f"ws://{HOST}:{port}/ws/me/",
            "--origin",
            f"http://{HOST}:{port}",
            "--server-pgid",
            str(server_pgid),
            "--connections",
            str(CONNECTIONS),
            "--depth",
            str(DEPTH),
            "--warmup",
            str(WARMUP_SECONDS),
            "--duration",
            str(DURATION_SECONDS),
        ],
    )
    env = subprocess_env()
    env["BENCH_WS_COOKIE"] = cookie
    completed = subprocess.run(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, timeout=CLIENT_TIMEOUT, check=False, text=True
    )
    if completed.returncode != 0:
        raise RuntimeError(f"ws client exited with code {completed.returncode}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def run() -> list[dict[str, Any]]:
    setup_django()
    from django.conf import settings

    cookie_name, session_key = bench_session()
    try:
        port = free_port()
        argv = pinned(
            SERVER_CPU, [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), "config.asgi:application"]
        )
        with running_server("daphne", argv, port) as pgid:
            log(f"ws_echo: {CONNECTIONS} connections x {DEPTH} in flight, {DURATION_SECONDS:.0f} s window")
            result = run_client(port, pgid, f"{cookie_name}={session_key}")
    finally:
        delete_session(session_key)

    if result["messages_in_window"] == 0:
        raise RuntimeError(f"no pong arrived inside the window: {result}")
    if result["connections_with_errors"] or result["unexpected_messages"]:
        log(f"ws_echo: some connections misbehaved: {result['connection_errors']}")
    warn_if_core_shared("ws_echo", result["server_cpu_utilisation"], result["server_core_busy"])
    latency = {k: round(v, 3) for k, v in result["latency_ms"].items()}
    detail = {
        "p50_latency_ms": latency["p50"],
        "latency_ms": latency,
        "messages_in_window": result["messages_in_window"],
        "window_s": DURATION_SECONDS,
        "warmup_s": WARMUP_SECONDS,
        "connections": CONNECTIONS,
        "in_flight_per_connection": DEPTH,
        "server": "daphne config.asgi:application",
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
        "server_cpu_utilisation": _round(result["server_cpu_utilisation"]),
        "server_core_busy": _round(result["server_core_busy"]),
        "client_cpu_utilisation": _round(result["client_cpu_utilisation"]),
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "debug": settings.DEBUG,
        "connections_with_errors": result["connections_with_errors"],
        "unexpected_messages": result["unexpected_messages"],
    }
    return [emit("ws_echo", "messages_per_second", result["messages_per_second"], "msg/s", detail)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
