"""WhiteNoise, made async-capable for Daphne.

WhiteNoiseMiddleware (6.x) is sync-only. Under ASGI one sync-only middleware makes Django run
the whole chain in a worker thread and hop back to the event loop for the inner handler, then
to a thread again for a sync view: two thread hops and a new thread per request, which capped a
bare JSON view at about a sixth of the same view under gunicorn (bench/http_ping.py), and left
Daphne threads that could hang its shutdown. This subclass keeps WhiteNoise's file table,
headers and responses, and only changes how it is called: in async mode, a request outside
STATIC_URL goes straight to the next middleware; a static file is looked up and opened in a
thread (it touches the disk) and served by WhiteNoise as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):  # type: ignore[misc]
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(get_response, *args, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        response: HttpResponseBase = super().__call__(request)
        return response

    def _serve_static(self, path: str, request: HttpRequest) -> HttpResponseBase | None:
        static_file = self.find_file(path) if self.autorefresh else self.files.get(path)
        if static_file is None:
            return None
        response: HttpResponseBase = self.serve(static_file, request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(self.static_prefix):
            response = await sync_to_async(self._serve_static, thread_sensitive=False)(request.path_info, request)
            if response is not None:
                return response
        result: HttpResponseBase = await self.get_response(request)
        return result
