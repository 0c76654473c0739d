"""What one order costs the server, deterministically: SQL statements and Python CPU per order.

Wall-clock throughput (bench/order_placement.py) depends on what else the machine runs; these
two figures do not (much): the same flow as the load bench (POST /api/v1/orders/ with an
Idempotency-Key, POST /api/v1/orders/<n>/payments/, the sandbox's signed webhook), run in this
process through config.asgi's application (the pooled-thread handler Daphne serves, called
directly: its thread hop and the on-commit pushes included, sockets and HTTP parsing not),
against the development database with the load bench's fixture (removed afterwards).

- statements/order: every SQL statement of one order on every thread's connection, COMMITs
  included, and the statements themselves printed to stderr with --sql.
- CPU ms/order: time.process_time() over ORDERS orders after WARMUP, with no statement capture;
  the median of ROUNDS rounds. process_time counts this process only (all its threads), so
  PostgreSQL's and Redis's own time is not in it. ORDER_COST_ORDERS in the environment sets
  ORDERS (60); more orders per round give steadier figures on a busy machine.

Run: `.venv/bin/python bench/order_cost.py [--sql]` or `.venv/bin/python bench/run_all.py order_cost`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emit, log, setup_django

BENCH = "order_cost"
WARMUP = 20
ORDERS = int(os.environ.get("ORDER_COST_ORDERS", "60"))
ROUNDS = 3


class AsgiClient:
    """Calls the ASGI application Daphne serves (config.asgi: the pooled-thread Django handler)
    directly, without sockets or HTTP parsing: the server's own work for each request, thread
    hops and on-commit pushes included, in this process."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def post(self, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, Any]:
        raw_headers = [(b"host", b"localhost"), (b"content-length", str(len(body)).encode())]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 40000),
            "server": ("localhost", 80),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects mid-request
            return {"type": "http.disconnect"}

        status = 0
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, json.loads(b"".join(chunks) or b"null")


async def _one_order(client: AsgiClient, token: str, order: dict[str, Any], key: str, secret: str) -> str:
    from delivery.payments.sandbox import SIGNATURE_HEADER, sandbox_event_body, signature_header

    auth = {"Authorization": f"Token {token}"}
    body = json.dumps(order).encode()
    status, placed = await client.post(
        "/api/v1/orders/", body, {**auth, "Content-Type": "application/json", "Idempotency-Key": key}
    )
    if status != 201:
        raise RuntimeError(f"place: {status} {placed!r}")
    number = placed["number"]
    status, payment = await client.post(f"/api/v1/orders/{number}/payments/", b"", auth)
    if status != 201:
        raise RuntimeError(f"pay: {status} {payment!r}")
    created = int(time.time())
    raw = sandbox_event_body(
        event_type="payment.succeeded",
        provider_ref=payment["provider_ref"],
        amount_cents=payment["amount_cents"],
        created=created,
    )
    header = signature_header(raw_body=raw, timestamp=created, secret=secret)
    status, hooked = await client.post(
        "/payments/webhooks/sandbox/", raw, {"Content-Type": "application/json", SIGNATURE_HEADER: header}
    )
    if status != 200 or hooked.get("status") != "paid":
        raise RuntimeError(f"webhook: {status} {hooked!r}")
    return str(number)


class _StatementCount:
    """Counts SQL statements on every connection of every thread (the requests run on the
    handler's pooled threads, each with its own connection), and COMMITs; keeps their text."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.commits = 0
        self._patched: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> _StatementCount:
        from django.db.backends.base.base import BaseDatabaseWrapper
        from django.db.backends.utils import CursorWrapper

        def wrap(owner: Any, name: str, record: Any) -> None:
            original = getattr(owner, name)

            def wrapper(this: Any, *args: Any, **kwargs: Any) -> Any:
                record(args)
                return original(this, *args, **kwargs)

            self._patched.append((owner, name, original))
            setattr(owner, name, wrapper)

        wrap(CursorWrapper, "execute", lambda args: self.statements.append(str(args[0])))
        wrap(CursorWrapper, "executemany", lambda args: self.statements.append(str(args[0])))
        wrap(BaseDatabaseWrapper, "commit", lambda args: self.statements.append("COMMIT"))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)


def run(show_sql: bool = False) -> list[dict[str, Any]]:
    # As the load bench's server runs: DEBUG off (DEBUG on logs every query and costs CPU).
    os.environ["DEBUG"] = "false"
    setup_django()
    from django.conf import settings
    from django.db import connections

    from bench.order_placement import fixture_create, fixture_remove
    from config.asgi import application
    from delivery.models import Order

    fixture_remove()
    try:
        fixture = fixture_create()
        connections.close_all()
        client = AsgiClient(application)
        secret = settings.PAYMENT_SANDBOX_SECRET
        run_id = uuid.uuid4().hex[:8]

        async def measure() -> tuple[list[str], list[float]]:
            seq = 0

            async def order_once(i: int) -> str:
                nonlocal seq
                seq += 1
                token = fixture.tokens[i % len(fixture.tokens)]
                return await _one_order(client, token, fixture.order, f"bench-orders-cost-{run_id}-{seq}", secret)

            for i in range(WARMUP):
                await order_once(i)
            with _StatementCount() as counted:
                await order_once(0)
            rounds = []
            for _ in range(ROUNDS):
                before = time.process_time()
                for i in range(ORDERS):
                    await order_once(i)
                rounds.append((time.process_time() - before) / ORDERS * 1000)
            return counted.statements, rounds

        statements, rounds = asyncio.run(measure())
        if show_sql:
            for sql in statements:
                print(sql[:200], file=sys.stderr)
        paid = Order.objects.filter(store_id=fixture.store_id, status=Order.Status.PAID).count()
    finally:
        removed = fixture_remove()
        connections.close_all()
        log(f"order_cost: cleaned up {removed}")
    total = WARMUP + 1 + ROUNDS * ORDERS
    detail = {
        "flow": "place + start payment + signed webhook through config.asgi's application, in process",
        "orders_paid": paid,
        "orders_total": total,
        "rounds_ms": [round(r, 2) for r in rounds],
        "note": "statements = SQL sent through Django cursors plus COMMITs (BEGIN and the token "
        "lookup included, HTTP parsing excluded); CPU = this process only (PostgreSQL excluded)",
    }
    return [
        emit(BENCH, "sql_statements_per_order", len(statements), "statements", detail),
        emit(BENCH, "python_cpu_ms_per_order", statistics.median(rounds), "ms", detail),
    ]


if __name__ == "__main__":
    run(show_sql="--sql" in sys.argv[1:])
