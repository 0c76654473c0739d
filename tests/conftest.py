"""Live fixtures: a real Daphne serving the project, real Celery workers, a real browser.

Servers run as processes of their own on the test database, in the run's own Redis namespace;
tests that use them take `transactional_db`, so that what they write is committed and visible.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connections
from django.test import Client

from accounts.models import User
from config.celery import app as celery_app
from delivery.tests.factories import MenuStore, StoreMembershipFactory, build_menu_store

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic is refused on a closed network: keep it quiet and fast.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _test_process_env() -> dict[str, str]:
    """The environment of a process that serves this run: its Redis namespace (root conftest)
    and the test database, in production mode."""
    database = connections["default"].settings_dict
    return {
        **os.environ,
        "DEBUG": "false",
        # Production's connection handling (core.asgi): persistent, one per pooled thread.
        "DB_CONN_MAX_AGE": "60",
        "ASGI_SYNC_THREADS": "4",
        "DATABASE_URL": f"postgis://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
    }


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def daphne_server(django_db_setup: None) -> Iterator[LiveServer]:
    """Daphne serving config.asgi (HTTP and WebSockets) on the test database, for the whole run.

    A real process started as the Procfile starts it, not a fork of this one: a fork inherits
    asgiref's executors without their threads, and then hangs on the first database call.
    """
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=_test_process_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = LiveServer(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/ping", timeout=1) as response:  # noqa: S310 - our own server
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError(f"Daphne did not start: {process.stderr.read() if process.stderr else ''}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(process)


def session_cookie(user: User) -> str:
    """A real session for `user`, as a Cookie header value."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return f"sessionid={client.cookies['sessionid'].value}"


def ws_headers(server: LiveServer, cookie: str | None) -> dict[str, str]:
    """What a browser sends with a WebSocket handshake to `server`: its Origin (the origin
    validator checks it) and, signed in, the session cookie."""
    return {"Origin": server.url, **({"Cookie": cookie} if cookie else {})}


async def ws_recv(ws: Any, wait: float = 5.0) -> dict[str, Any]:
    """The next JSON message of a `websockets` client, or TimeoutError after `wait` seconds."""
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=wait))
    return data


def in_thread(function: Any, **kwargs: Any) -> Any:
    """Run ORM writes that push over the channel layer from another thread: a browser test's
    own thread runs Playwright's event loop, beside which async_to_sync refuses to run. The
    thread's database connection is closed after, or the test database could not be dropped."""

    def run() -> Any:
        try:
            return function(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=20)


@pytest.fixture
def menu(transactional_db: None) -> MenuStore:
    """A store with a menu, open around the clock (modules that need it elsewhere override)."""
    return build_menu_store()


@pytest.fixture
def staff(menu: MenuStore) -> User:
    """A staff member of `menu`'s store."""
    user: User = StoreMembershipFactory(store=menu.store, role="staff").user
    return user


@pytest.fixture
def celery_worker(transactional_db: None) -> Iterator[Any]:
    """A real Celery worker (in a thread) consuming the run's own queue on the Redis broker."""
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[subprocess.Popen[str]]:
    """A Celery worker in its own process, as the Procfile runs it, on the test database.

    Remote-control tests (the /healthz ping) need this: an embedded worker thread shares the
    app's kombu connection pool with the pinging client in one process, which kombu does not
    support (replies are pushed but never read); production never runs them in one process.
    """
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"test-{os.getpid()}@%h",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=_test_process_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not celery_app.control.ping(timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker never answered a ping: {process.stderr}")
        yield process
    finally:
        _stop(process)


@pytest.fixture
def celery_beat(transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Celery beat in its own process, as the Procfile runs it, sending the accept-deadline
    sweep every half second to the run's own queue (a `celery_worker` runs what it sends)."""
    with (tmp_path / "beat.log").open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(tmp_path / "beat-schedule"),
            ],
            cwd=ROOT,
            env={**_test_process_env(), "ORDER_ACCEPT_SWEEP_SECONDS": "0.5"},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        yield process
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not session-wide: Playwright's sync API keeps an event
    loop running in the main thread while it lives, which would break asyncio.run elsewhere."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (scripts/browser.sh)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run
    # beside a loop unless told that this (test-only) use is safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def dispatcher(transactional_db: None) -> Iterator[subprocess.Popen[str]]:
    """The dispatcher process on the test database, ticking every half second."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_dispatcher", "--tick", "0.5"],
        cwd=ROOT,
        env={**_test_process_env(), "TRACKING_THROTTLE_SECONDS": "0.5"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        _stop(process)
