"""API conventions shared by every app: one error shape with stable codes.

Every error is `{"code": ..., "message": ..., "fields": {...}}`; `code` is stable and meant for
programs, `message` is for people, `fields` maps a field name to its messages (validation only).
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ApiError(exceptions.APIException):
    """A domain refusal with a stable code, raised by API views (HTTP 400 unless told)."""

    def __init__(
        self, code: str, message: str, *, status_code: int = status.HTTP_400_BAD_REQUEST, field: str | None = None
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.field = field  # the request field at fault, reported under `fields`


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
}


def _message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _message(detail[0])
    if isinstance(detail, dict) and detail:
        return _message(next(iter(detail.values())))
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    fields: dict[str, Any] = {}
    if isinstance(exc, ApiError):
        code = str(exc.get_codes())
        if exc.field:
            fields = {exc.field: [str(exc.detail)]}
    elif isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        if isinstance(exc.detail, dict):
            fields = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.detail.items()}
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
    response.data = {"code": code, "message": _message(exc.detail), "fields": fields}
    return response
