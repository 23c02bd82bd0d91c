"""One renderer for every error: the seed's body plus RFC 9457 members and the request id."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from livestream.errors import AppError
from livestream.logging import get_logger

log = get_logger("livestream.errors")

_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ErrorBody(BaseModel):
    """Every error response: ``error`` and ``code`` as the seed defines them, plus RFC 9457 members."""

    error: str
    code: str
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str | None = None
    fields: dict[str, str] | None = None
    retry_after: int | None = None


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "error": message,
        "code": code,
        "type": "about:blank",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": message,
        "request_id": request.scope.get("state", {}).get("request_id"),
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/json")


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _validation_message(exc: RequestValidationError) -> tuple[str, str, dict[str, str]]:
    errors = exc.errors()
    fields: dict[str, str] = {}
    for err in errors:
        if err.get("type") == "json_invalid":
            return "INVALID_JSON", "The request body is not valid JSON", {}
        loc = tuple(err.get("loc", ()))
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        fields.setdefault(_field_name(loc), message)
    first_field, first_message = next(iter(fields.items()), ("request", "invalid"))
    return "VALIDATION_ERROR", f"{first_field}: {first_message}", fields


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return error_response(request, exc.status_code, exc.code, exc.detail, headers=exc.headers, extra=exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        code, message, fields = _validation_message(exc)
        return error_response(request, 400, code, message, extra={"fields": fields} if fields else None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError | ValueError):
            # FastAPI's "error parsing the body": JSON nested deeper than the parser goes, or undecodable bytes.
            return error_response(request, 400, "INVALID_JSON", "The request body is not valid JSON")
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
        return error_response(
            request, exc.status_code, code, message, headers=dict(exc.headers) if exc.headers else None
        )

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _dependency_down(request: Request, exc: Exception) -> JSONResponse:
        # Redis holds the rate-limit counters and the realtime engine: without it the request cannot be
        # judged, which is the server's temporary state, not a bug (503, try again), and no connection detail.
        log.warning("dependency_unavailable", dependency="redis", error=type(exc).__name__, path=request.url.path)
        return error_response(
            request,
            503,
            "SERVICE_UNAVAILABLE",
            "A backing service is unavailable; try again shortly",
            headers={"Retry-After": "5"},
            extra={"retry_after": 5},
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_exception", exc_info=exc, path=request.url.path)
        return error_response(request, 500, "INTERNAL_ERROR", "Internal server error")
