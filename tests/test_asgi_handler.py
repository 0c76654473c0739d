"""The pooled-thread handler (core.asgi) answers as Django's own ASGIHandler does: static files
through WhiteNoise, errors as responses, the API's authentication, all with one thread hop."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import LiveServer

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent


def _fetch(url: str, *, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own test server
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def test_a_static_file_is_served_whole(daphne_server: LiveServer) -> None:
    expected = (ROOT / "frontend/static/frontend/css/app.css").read_bytes()

    status, body = _fetch(f"{daphne_server.url}/static/frontend/css/app.css")

    assert (status, body) == (200, expected)


def test_an_unknown_path_is_a_404_and_the_server_keeps_serving(daphne_server: LiveServer) -> None:
    status, _body = _fetch(f"{daphne_server.url}/no-such-page/")
    assert status == 404

    assert _fetch(f"{daphne_server.url}/ping")[0] == 200


def test_the_api_refuses_a_request_without_credentials(daphne_server: LiveServer) -> None:
    status, _body = _fetch(f"{daphne_server.url}/api/v1/orders/", data=b"{}")

    assert status in (401, 403)
