"""Order events to the live boards: 200 boards connected to one store, orders flowing.

Daphne serves config.asgi:application on the server core; the boards (200 WebSocket clients
of /ws/stores/<id>/board/, signed in as the store's staff) run in a client process, and the
publisher in this process, both on the client core.

Three phases, in one run, against the same consumer (the ceiling last, so its backlog cannot
delay the others):
1. saturation: the board's real event path, flat out: a transaction bumps a real order's
   version and, on commit, pushes `order.updated` through core.realtime (as
   delivery.transitions does): events per second that reach every board;
   The saturation rate counts until every board has drained (a probe event), since the
   publisher alone can outrun the boards;
2. latency: the same path paced at 50 % of the saturation rate: from the commit (stamped in
   the on-commit hook) to the board's receipt, p50/p99 in ms over every delivery;
3. ceiling: raw `group_send` of a minimal event to the store's group, as fast as this process
   can send: deliveries per second, and per second of server CPU (the ceiling per core).

Goals (issue 4): p99 <= 150 ms at 50 % of saturation; >= 3.5 k deliveries per second per core.
`python bench/run_all.py board` or `python -m bench.board_events`; one JSON line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.common import (
    CLIENT_CPU,
    HOST,
    ROOT,
    SERVER_CPU,
    core_busy_seconds,
    emit,
    free_port,
    group_cpu_seconds,
    log,
    percentile,
    pinned,
    running_server,
    setup_django,
    subprocess_env,
    warn_if_core_shared,
)

BOARDS = int(os.environ.get("BENCH_BOARDS", "200"))
PHASE_SECONDS = float(os.environ.get("BENCH_PHASE_SECONDS", "6"))
CLIENT_TIMEOUT = 180.0
BENCH_USERNAME = "bench-board"
# A board that hears nothing for this long stops (the publisher has finished or died).
IDLE_SECONDS = 20.0


# --- The boards (client process) -----------------------------------------------------------------


async def _board(
    url: str, headers: dict[str, str], stats: dict[str, Any], ready: asyncio.Event, gate: asyncio.Semaphore
) -> None:
    from websockets.asyncio.client import connect

    for attempt in range(5):
        try:
            # A few handshakes at a time: 200 at once would be a connect storm, not the steady state.
            async with gate:
                ws = await connect(url, additional_headers=headers, max_queue=None, ping_interval=None, open_timeout=30)
            break
        except Exception:  # noqa: BLE001 - retried, then given up on below
            await asyncio.sleep(0.5 * (attempt + 1))
    else:
        raise RuntimeError("board could not connect")
    async with ws:
        stats["connected"] += 1
        if stats["connected"] == stats["boards"]:
            ready.set()
        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=IDLE_SECONDS)
            except TimeoutError:
                return  # the publisher is gone: report what arrived
            now = time.time()
            event = json.loads(raw)
            phase = event.get("phase")
            if phase == "stop":
                return
            if phase == "probe":
                # Every socket's messages arrive in order: once a probe is in, this board has
                # drained the phase before it. The publisher waits for all of them.
                stats["probes"][event["id"]] = stats["probes"].get(event["id"], 0) + 1
                if stats["probes"][event["id"]] == stats["boards"]:
                    print(f"PROBE {event['id']}", flush=True)
                continue
            counts = stats["count"]
            counts[phase] = counts.get(phase, 0) + 1
            if phase == "latency":
                stats["latency"].append((now - event["t"]) * 1000)


async def _boards_main(url: str, origin: str, boards: int) -> None:
    headers = {"Origin": origin, "Cookie": os.environ["BENCH_BOARD_COOKIE"]}
    stats: dict[str, Any] = {"connected": 0, "boards": boards, "count": {}, "latency": [], "probes": {}}
    ready = asyncio.Event()
    gate = asyncio.Semaphore(10)
    tasks = [asyncio.create_task(_board(url, headers, stats, ready, gate)) for _ in range(boards)]
    await asyncio.wait_for(ready.wait(), timeout=120)
    print("READY", flush=True)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    latency = stats["latency"]
    out = {
        "count": stats["count"],
        "errors": errors[:5],
        "error_count": len(errors),
        "latency_ms": {
            "p50": percentile(latency, 50),
            "p90": percentile(latency, 90),
            "p99": percentile(latency, 99),
            "max": max(latency),
        }
        if latency
        else None,
    }
    print(json.dumps(out), flush=True)


# --- The publisher (this process) ----------------------------------------------------------------


def _bench_fixtures() -> tuple[int, int, str]:
    """(store id, order id, cookie) of a bench-only draft store, its staff user and one order."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.gis.geos import Point
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections
    from django.utils import timezone

    from delivery.models import Order, Store, StoreMembership

    user, _ = get_user_model().objects.get_or_create(username=BENCH_USERNAME, defaults={"is_active": True})
    if user.has_usable_password():
        user.set_unusable_password()
        user.save(update_fields=["password"])
    point = Point(121.45, 31.23, srid=4326)
    store, _ = Store.objects.get_or_create(
        name_zh="基准测试店", defaults={"address": "bench", "location": point, "status": Store.Status.DRAFT}
    )
    StoreMembership.objects.get_or_create(user=user, store=store, defaults={"role": StoreMembership.Role.STAFF})
    order = Order.objects.filter(store=store).first() or Order.objects.create(
        number=f"bench-{store.pk}",
        diner=user,
        store=store,
        subtotal_cents=100,
        total_cents=100,
        delivery_address="bench",
        delivery_point=point,
        eta_at=timezone.now(),
    )
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    connections.close_all()
    return store.pk, order.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def _cpu_window(pgid: int) -> tuple[float, float, float]:
    return time.monotonic(), group_cpu_seconds(pgid), core_busy_seconds(SERVER_CPU)


def _cpu_used(pgid: int, start: tuple[float, float, float]) -> dict[str, float]:
    wall = time.monotonic() - start[0]
    return {
        "wall_s": wall,
        "server_cpu_s": group_cpu_seconds(pgid) - start[1],
        "server_core_busy": (core_busy_seconds(SERVER_CPU) - start[2]) / wall,
    }


async def _raw_flood(group: str, seconds: float) -> int:
    from channels.layers import get_channel_layer

    from core.realtime import event_message

    layer = get_channel_layer()
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.gather(
            *(layer.group_send(group, event_message("bench.raw", {"phase": "ceiling"})) for _ in range(8))
        )
        sent += 8
    return sent


def _commit_event(order_id: int, group: str, phase: str) -> None:
    """One real commit and its on-commit push, as delivery.transitions does it."""
    from django.db import transaction
    from django.db.models import F

    from core.realtime import event_push
    from delivery.models import Order

    with transaction.atomic():
        Order.objects.filter(pk=order_id).update(version=F("version") + 1)
        version = Order.objects.values_list("version", flat=True).get(pk=order_id)
        transaction.on_commit(
            lambda: event_push(
                group,
                "order.updated",
                {
                    "order": order_id,
                    "number": "bench",
                    "status": "paid",
                    "version": version,
                    "phase": phase,
                    "t": time.time(),
                },
            )
        )


def _drained(lines: queue.Queue[str], group: str, probe: int, timeout: float = 60.0) -> float | None:
    """Send a probe after the phase and wait until every board has it: the phase is drained.
    Returns the seconds it took (how far behind the boards were), None if not all boards had
    it in `timeout` (a board missed messages: the run goes on and reports the shortfall)."""
    from core.realtime import event_push

    started = time.monotonic()
    event_push(group, "bench.probe", {"phase": "probe", "id": probe})
    while (left := timeout - (time.monotonic() - started)) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line == f"PROBE {probe}":
            return time.monotonic() - started
        log(f"board_events: boards said {line[:200]!r}")
    log(f"board_events: not every board had probe {probe} within {timeout:.0f} s")
    return None


def _paced(order_id: int, group: str, phase: str, rate: float | None, seconds: float) -> int:
    sent = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        if rate is not None and sent > elapsed * rate:
            time.sleep(min(0.005, sent / rate - elapsed))
            continue
        _commit_event(order_id, group, phase)
        sent += 1
    return sent


@contextlib.contextmanager
def _own_database() -> Iterator[None]:
    """A database of this run's own, migrated from scratch and dropped after: the bench writes
    a store, a user and an order, and the shared development database may be on another
    branch's migrations."""
    import psycopg2  # type: ignore[import-untyped]
    from psycopg2 import sql

    base = urlsplit(
        os.environ.get("DATABASE_URL") or _dotenv("DATABASE_URL") or "postgis://postgres@127.0.0.1:5432/mingchu"
    )
    name = f"mingchu_bench_board_{os.getpid()}"
    admin = psycopg2.connect(
        host=base.hostname, port=base.port or 5432, user=base.username, password=base.password, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = urlunsplit(base._replace(path=f"/{name}"))
    try:
        log(f"board_events: migrating the bench database {name}")
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=subprocess_env(), check=True
        )
        yield
    finally:
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def _dotenv(key: str) -> str | None:
    path = ROOT / ".env"
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip()
    return None


def run() -> list[dict[str, Any]]:
    with _own_database():
        return _run()


def _run() -> list[dict[str, Any]]:
    setup_django()
    from asgiref.sync import async_to_sync
    from django.conf import settings

    from core.realtime import event_push, group_for_store

    os.sched_setaffinity(0, {CLIENT_CPU})
    store_id, order_id, cookie = _bench_fixtures()
    group = group_for_store(store_id)
    port = free_port()
    argv = pinned(SERVER_CPU, [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), "config.asgi:application"])
    with running_server("daphne", argv, port) as pgid:
        env = subprocess_env()
        env["BENCH_BOARD_COOKIE"] = cookie
        client = subprocess.Popen(
            pinned(
                CLIENT_CPU,
                [
                    sys.executable,
                    "-m",
                    "bench.board_events",
                    "--boards-client",
                    f"ws://{HOST}:{port}/ws/stores/{store_id}/board/",
                    f"http://{HOST}:{port}",
                    str(BOARDS),
                ],
            ),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stdout is not None
            lines: queue.Queue[str] = queue.Queue()
            stdout = client.stdout

            def pump() -> None:
                for raw in stdout:
                    lines.put(raw.strip())

            reader = threading.Thread(target=pump, daemon=True, name="boards-stdout")
            reader.start()
            line = lines.get(timeout=180)
            if line != "READY":
                raise RuntimeError(f"boards did not connect: {line!r}")
            log(f"board_events: {BOARDS} boards connected")
            time.sleep(1.0)

            start = _cpu_window(pgid)
            sat_sent = _paced(order_id, group, "saturation", None, PHASE_SECONDS)
            sat_drain = _drained(lines, group, 1)
            sat_cpu = _cpu_used(pgid, start)
            # Saturation of the whole path: events every board received per second, the time
            # the boards took to drain included (the publisher alone can outrun them).
            sat_rate = sat_sent / (PHASE_SECONDS + (sat_drain if sat_drain is not None else 60.0))
            log(f"board_events: saturation {sat_rate:.0f} events/s")

            # Half of the saturation rate just measured, in this run (never a remembered figure).
            lat_target = sat_rate / 2
            start = _cpu_window(pgid)
            lat_sent = _paced(order_id, group, "latency", lat_target, PHASE_SECONDS)
            lat_drain = _drained(lines, group, 2)
            lat_cpu = _cpu_used(pgid, start)

            start = _cpu_window(pgid)
            raw_sent = async_to_sync(_raw_flood)(group, PHASE_SECONDS)
            raw_drain = _drained(lines, group, 3)
            raw_cpu = _cpu_used(pgid, start)
            log(f"board_events: ceiling phase sent {raw_sent} group messages")

            event_push(group, "bench.stop", {"phase": "stop"})
            client.wait(timeout=CLIENT_TIMEOUT)
            reader.join(timeout=5)
            out = ""
            while not lines.empty():
                out = lines.get() or out
        finally:
            if client.poll() is None:
                client.kill()
    result = json.loads(out.strip().splitlines()[-1])
    counts = result["count"]
    raw_deliveries = counts.get("ceiling", 0)
    sat_deliveries = counts.get("saturation", 0)
    raw_per_core = raw_deliveries / raw_cpu["server_cpu_s"] if raw_cpu["server_cpu_s"] else 0.0
    sat_per_core = sat_deliveries / sat_cpu["server_cpu_s"] if sat_cpu["server_cpu_s"] else 0.0
    warn_if_core_shared("board_events", sat_cpu["server_cpu_s"] / sat_cpu["wall_s"], sat_cpu["server_core_busy"])
    common = {
        "boards": BOARDS,
        "phase_s": PHASE_SECONDS,
        "server_cpu": SERVER_CPU,
        "client_cpu": CLIENT_CPU,
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
        "board_errors": result["error_count"],
    }
    latency = result["latency_ms"] or {}
    return [
        emit(
            "board_events",
            "latency_p99_ms",
            round(latency.get("p99", float("nan")), 2),
            "ms",
            {
                **common,
                "p50_ms": round(latency.get("p50", float("nan")), 2),
                "latency_ms": {k: round(v, 2) for k, v in latency.items()},
                "rate_events_per_s": round(lat_sent / PHASE_SECONDS, 1),
                "target_rate_events_per_s": round(lat_target, 1),
                "saturation_events_per_s": round(sat_rate, 1),
                "deliveries": counts.get("latency", 0),
                "expected_deliveries": lat_sent * BOARDS,
                "server_cpu_utilisation": round(lat_cpu["server_cpu_s"] / lat_cpu["wall_s"], 3),
                "goal_p99_ms": 150,
                "drain_after_s": _round(lat_drain),
            },
        ),
        emit(
            "board_events",
            "deliveries_per_second_per_core",
            round(sat_per_core, 1),
            "deliveries/cpu-s",
            {
                **common,
                "raw_group_send_per_core": round(raw_per_core, 1),
                "ratio_to_raw": round(sat_per_core / raw_per_core, 3) if raw_per_core else None,
                "deliveries": sat_deliveries,
                "expected_deliveries": sat_sent * BOARDS,
                "raw_deliveries": raw_deliveries,
                "raw_expected": raw_sent * BOARDS,
                "deliveries_per_s": round(sat_deliveries / sat_cpu["wall_s"], 1),
                "raw_deliveries_per_s": round(raw_deliveries / raw_cpu["wall_s"], 1),
                "server_cpu_utilisation": round(sat_cpu["server_cpu_s"] / sat_cpu["wall_s"], 3),
                "server_core_busy": round(sat_cpu["server_core_busy"], 3),
                "goal_per_core": 3500,
                "drain_after_s": _round(sat_drain),
                "raw_drain_after_s": _round(raw_drain),
            },
        ),
    ]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boards-client", nargs=3, metavar=("URL", "ORIGIN", "BOARDS"))
    args = parser.parse_args(argv)
    if args.boards_client:
        url, origin, boards = args.boards_client
        asyncio.run(_boards_main(url, origin, int(boards)))
        return 0
    run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
