from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from core.health import health_report


async def healthz(request: HttpRequest) -> JsonResponse:
    """Every part of the system, `ok` or its error with latency; 503 when any part is down."""
    results = await health_report()
    healthy = all(r.ok for r in results)
    body = {
        "status": "ok" if healthy else "error",
        "failed": [r.name for r in results if not r.ok],
        "checks": {r.name: r.as_json() for r in results},
    }
    return JsonResponse(body, status=200 if healthy else 503, json_dumps_params={"ensure_ascii": False})


def ping(request: HttpRequest) -> JsonResponse:
    """The bare JSON view: no database, no session. Liveness probe and the bench baseline
    (a plain sync view, like most of the project's views)."""
    return JsonResponse({"pong": True})
