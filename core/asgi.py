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

And a request makes one hop to its thread, not twenty: the middleware chain is loaded for sync
mode and runs, with the view, in one call on the request's thread (see `handle`). An async view
(core.views.healthz) still runs on the event loop, through async_to_sync from that thread.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from core.realtime import server_gc_once


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self, *, threads: int) -> None:
        # Not ASGIHandler.__init__: it loads the middleware for async mode, where every sync-only
        # hook (MiddlewareMixin's process_request/process_response, sync views, the
        # request_started/finished receivers) is a separate hop from the event loop to the
        # request's thread and back: about twenty per request with our middleware, each costing
        # more Python than most of the hooks themselves. Loaded for sync mode, the whole chain
        # and the view run straight through on the request's thread, as under WSGI.
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
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

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGIHandler.handle with one thread hop: the body is read on the event loop, then the
        request is built and answered (request_started, middleware, view) in one call on the
        request's pooled thread; the answer is sent from the event loop. A response whose body
        is in memory is closed in that same call (request_finished, which releases the
        connection as close_old_connections decides, and the response's resource closers):
        nothing of it is read after. A streaming response is closed after it is sent, in a second
        hop, as Django does. Unlike Django's, a sync view is not abandoned when the client
        disconnects mid-request: a thread cannot be cancelled, so Django's sync views ran to the
        end anyway."""
        server_gc_once()
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            # Thread-sensitive: on the request's pooled thread (ThreadSensitiveContext above).
            response = await sync_to_async(self._respond, thread_sensitive=True)(scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await sync_to_async(response.close, thread_sensitive=True)()

    def _respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response: HttpResponseBase
        if request is None:
            assert error_response is not None  # noqa: S101 - create_request returns one or the other
            response = error_response
        else:
            response = self.get_response(request)
            response._handler_class = self.__class__  # type: ignore[attr-defined]
            # ASGI servers chunk the body themselves (as ASGIHandler.run_get_response does).
            if isinstance(response, FileResponse):
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response


def get_pooled_asgi_application() -> PooledThreadASGIHandler:
    """django.core.asgi.get_asgi_application(), with the pooled handler (ASGI_SYNC_THREADS)."""
    import django
    from django.conf import settings

    django.setup(set_prefix=False)
    return PooledThreadASGIHandler(threads=settings.ASGI_SYNC_THREADS)
