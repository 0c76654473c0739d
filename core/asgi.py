"""Django's ASGI handler with a fixed pool of sync threads instead of a new thread per request.

The stock ASGIHandler enters a fresh asgiref ThreadSensitiveContext for every request, so each
request's sync code (sync middleware hooks, sync views, signal receivers) runs on a brand-new
thread. Django keeps database connections per thread: every request opened a new PostgreSQL
connection, whose backend then loaded PostGIS on first use (about 20 ms of PostgreSQL CPU per
request, measured with bench/order_placement.py), and CONN_MAX_AGE could not help: the
connection was left in a dead thread until the garbage collector closed it.

Here a request borrows one of a few long-lived single-thread executors for its whole life
(ThreadSensitiveContext(executor=...), asgiref >= 3.13). All sync code of one request still runs
on one thread, as Django requires; with CONN_MAX_AGE > 0 each thread keeps its connection, so a
process holds at most `threads` request connections. When every thread is busy a request waits
for one, as on a threaded WSGI server; WebSockets and async code are not limited by the pool.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.core.handlers.asgi import ASGIHandler


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int) -> None:
        super().__init__()
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{i}") for i in range(threads)
        ]
        # Made on first use, on the server's own event loop. LIFO: the thread used last (its
        # connection alive, its caches warm) is lent first.
        self._idle: asyncio.LifoQueue[ThreadPoolExecutor] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self._idle is None:
            self._idle = asyncio.LifoQueue()
            for executor in self.executors:
                self._idle.put_nowait(executor)
        executor = await self._idle.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self._idle.put_nowait(executor)


def get_pooled_asgi_application() -> PooledThreadASGIHandler:
    """django.core.asgi.get_asgi_application(), with the pooled handler (ASGI_SYNC_THREADS)."""
    import django
    from django.conf import settings

    django.setup(set_prefix=False)
    return PooledThreadASGIHandler(threads=settings.ASGI_SYNC_THREADS)
