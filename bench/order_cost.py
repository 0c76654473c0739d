"""What one order costs the server, deterministically: SQL queries and Python CPU per order.

Wall-clock throughput (bench/order_placement.py) depends on what else the machine runs; these
two figures do not (much): the same flow as the load bench (POST /api/v1/orders/ with an
Idempotency-Key, POST /api/v1/orders/<n>/payments/, the sandbox's signed webhook), run in this
process through Django's test Client (the WSGI handler: no ASGI thread hops, which the load bench
adds), against the development database with the load bench's fixture (removed afterwards).

- queries/order: every SQL statement of one order, counted with CaptureQueriesContext, and the
  statements themselves printed to stderr with --sql.
- CPU ms/order: time.process_time() over ORDERS orders after WARMUP, with no query capture (the
  capture itself costs CPU); the median of ROUNDS rounds. process_time counts this process only,
  so PostgreSQL's own time is not in it.

Run: `.venv/bin/python bench/order_cost.py [--sql]` or `.venv/bin/python bench/run_all.py order_cost`.
"""

from __future__ import annotations

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
ORDERS = 60
ROUNDS = 3


def _one_order(client: Any, token: str, order: dict[str, Any], key: str, secret: str) -> str:
    from delivery.payments.sandbox import SIGNATURE_HEADER, sandbox_event_body, signature_header

    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    placed = client.post(
        "/api/v1/orders/", data=json.dumps(order), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **auth
    )
    if placed.status_code != 201:
        raise RuntimeError(f"place: {placed.status_code} {placed.content[:300]!r}")
    number = placed.json()["number"]
    started = client.post(f"/api/v1/orders/{number}/payments/", **auth)
    if started.status_code != 201:
        raise RuntimeError(f"pay: {started.status_code} {started.content[:300]!r}")
    payment = started.json()
    created = int(time.time())
    raw = sandbox_event_body(
        event_type="payment.succeeded",
        provider_ref=payment["provider_ref"],
        amount_cents=payment["amount_cents"],
        created=created,
    )
    header = signature_header(raw_body=raw, timestamp=created, secret=secret)
    hooked = client.post(
        "/payments/webhooks/sandbox/",
        data=raw,
        content_type="application/json",
        headers={SIGNATURE_HEADER: header},
    )
    if hooked.status_code != 200 or hooked.json().get("status") != "paid":
        raise RuntimeError(f"webhook: {hooked.status_code} {hooked.content[:300]!r}")
    return str(number)


def run(show_sql: bool = False) -> list[dict[str, Any]]:
    # As the load bench's server runs: DEBUG off (DEBUG on logs every query and costs CPU).
    os.environ["DEBUG"] = "false"
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.order_placement import fixture_create, fixture_remove
    from delivery.models import Order

    fixture_remove()
    try:
        fixture = fixture_create()
        client = Client(SERVER_NAME="localhost")
        secret = settings.PAYMENT_SANDBOX_SECRET
        run_id = uuid.uuid4().hex[:8]
        seq = 0

        def order_once(i: int) -> str:
            nonlocal seq
            seq += 1
            token = fixture.tokens[i % len(fixture.tokens)]
            return _one_order(client, token, fixture.order, f"bench-orders-cost-{run_id}-{seq}", secret)

        for i in range(WARMUP):
            order_once(i)
        with CaptureQueriesContext(connection) as captured:
            order_once(0)
        queries = len(captured.captured_queries)
        if show_sql:
            for q in captured.captured_queries:
                print(q["sql"][:300], file=sys.stderr)
        rounds = []
        for _ in range(ROUNDS):
            before = time.process_time()
            for i in range(ORDERS):
                order_once(i)
            rounds.append((time.process_time() - before) / ORDERS * 1000)
        paid = Order.objects.filter(store_id=fixture.store_id, status=Order.Status.PAID).count()
    finally:
        removed = fixture_remove()
        connection.close()
        log(f"order_cost: cleaned up {removed}")
    total = WARMUP + 1 + ROUNDS * ORDERS
    detail = {
        "flow": "place + start payment + signed webhook, Django test Client (WSGI), in process",
        "orders_paid": paid,
        "orders_total": total,
        "rounds_ms": [round(r, 2) for r in rounds],
        "note": "process CPU only (PostgreSQL's time excluded); no ASGI thread hops",
    }
    return [
        emit(BENCH, "queries_per_order", queries, "queries", detail),
        emit(BENCH, "python_cpu_ms_per_order", statistics.median(rounds), "ms", detail),
    ]


if __name__ == "__main__":
    run(show_sql="--sql" in sys.argv[1:])
