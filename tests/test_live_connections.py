"""Daphne keeps a few database connections for good, instead of one per request (core.asgi)."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.conftest import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

THREADS = 4  # ASGI_SYNC_THREADS of the test server (tests/conftest.py)


def _server_backends() -> set[int]:
    """Backend pids connected to the test database, other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own test server
        status: int = response.status
        return status


def test_requests_reuse_a_bounded_set_of_connections(daphne_server: LiveServer) -> None:
    url = f"{daphne_server.url}/api/v1/stores/?lat=31.23&lng=121.45"  # one spatial query each
    before = _server_backends()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(_get, [url] * 40))
    during = _server_backends()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(_get, [url] * 40))
    after = _server_backends()

    assert statuses == [200] * 40
    # At most one connection per pooled thread (and none left behind per request)...
    assert len(during - before) <= THREADS
    # ...and the second wave reuses the first wave's connections instead of opening new ones.
    assert after - during == set()
