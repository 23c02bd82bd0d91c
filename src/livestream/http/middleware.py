"""Pure ASGI middleware: request ids, one access-log line per request, security headers, body limits, and the
shortcuts of public reads (``livestream.http.shortcuts``) inside them."""

from __future__ import annotations

import logging
import re
import time
from random import getrandbits
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from livestream.http.errors import error_response
from livestream.http.shortcuts import ReadShortcuts
from livestream.logging import bound_logger

ACCESS_LOGGER = "livestream.access"

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# With Stripe, Stripe.js and its Payment Element (Stripe's published CSP list for them).
STRIPE_SCRIPTS = " https://js.stripe.com https://*.js.stripe.com"
STRIPE_FRAMES = " https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com"
STRIPE_CONNECT = " https://api.stripe.com"


# A strict policy for the web app's pages: nothing inline, nothing from elsewhere but the media origins (the
# S3 bucket or CDN archives play from, when there is one) and, with Stripe, Stripe.js.
def app_csp(media_origins: tuple[str, ...] = (), *, stripe: bool = False) -> str:
    media = "".join(f" {origin}" for origin in media_origins)
    scripts = STRIPE_SCRIPTS if stripe else ""
    connect = STRIPE_CONNECT if stripe else ""
    frames = f"frame-src{STRIPE_FRAMES}; " if stripe else ""
    return (
        f"default-src 'self'; script-src 'self'{scripts}; style-src 'self'; img-src 'self' data: blob:{media}; "
        f"media-src 'self' blob:{media}; connect-src 'self'{media}{connect}; font-src 'self'; "
        f"worker-src 'self' blob:; {frames}"
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )


APP_CSP = app_csp()
# Swagger UI and ReDoc load their bundles from a CDN and start with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
_BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# Encoded once: every response carries them.
_APP_HEADERS = [*_BASE_HEADERS, (b"content-security-policy", APP_CSP.encode())]
_DOCS_HEADERS = [*_BASE_HEADERS, (b"content-security-policy", DOCS_CSP.encode())]


def new_request_id() -> str:
    """32 hex digits, like a uuid4's, from the random module (reseeded in forked children): an id to find a
    request's lines by, not a secret, so no system call per request (``uuid4`` reads the OS's random source)."""
    return f"{getrandbits(128):032x}"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, media_origins: tuple[str, ...] = (), *, stripe: bool = False) -> None:
        self.app = app
        self._app_headers = (
            [*_BASE_HEADERS, (b"content-security-policy", app_csp(media_origins, stripe=stripe).encode())]
            if media_origins or stripe
            else _APP_HEADERS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_request_id()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        # Reset (not cleared) afterwards: a caller running the app in its own task keeps its context.
        tokens = bind_contextvars(request_id=request_id)
        path: str = scope["path"]
        extra_headers = _DOCS_HEADERS if path in ("/docs", "/redoc") else self._app_headers
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(extra_headers)
                message["headers"] = headers
            await send(message)

        try:
            if not await _answer_from_shortcut(scope, send_wrapper):
                await self.app(scope, receive, send_wrapper)
        finally:
            access = bound_logger(ACCESS_LOGGER)
            level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
            if access.is_enabled_for(level):
                fields = {
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    "user_id": state.get("user_id"),
                    "client": (scope.get("client") or ("", 0))[0],
                }
                if level == logging.ERROR:
                    access.error("request", **fields)
                elif level == logging.WARNING:
                    access.warning("request", **fields)
                else:
                    access.info("request", **fields)
            reset_contextvars(**tokens)


async def _answer_from_shortcut(scope: Scope, send: Send) -> bool:
    """Answer a public read the app has validated before (``livestream.http.shortcuts``); False: not one."""
    provided = getattr(getattr(scope.get("app"), "state", None), "provided", None)  # None before start-up
    shortcuts: ReadShortcuts | None = provided.get(ReadShortcuts) if provided else None
    answer = shortcuts.find(scope) if shortcuts is not None else None
    if answer is None:
        return False
    try:
        body = await answer()
    except Exception:
        return False  # nothing sent yet: the full path answers, and renders the error as usual
    # What Response(content=body, media_type="application/json") sends.
    headers = [(b"content-length", b"%d" % len(body)), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            # Honour the caller's id only when it is safe to echo into logs and headers.
            return candidate if _REQUEST_ID_RE.match(candidate) else None
    return None


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413: a declared length at once, before any byte is read;
    a chunked body as soon as what arrived passes the limit (the handler reading it gets the 413)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _body_framing(scope)
        if declared is not None and declared > self.max_bytes:
            # Connection: close, so the server drops the unread body instead of draining it for keep-alive.
            response = error_response(
                Request(scope),
                413,
                "PAYLOAD_TOO_LARGE",
                f"The request body is larger than {self.max_bytes} bytes",
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        if not chunked:
            # No body (no length, not chunked) or a declared length within the limit: the server delivers no
            # more than that length, so nothing to count (every GET takes this way).
            await self.app(scope, receive, send)
            return
        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(
                        413, f"The request body is larger than {limit} bytes", headers={"Connection": "close"}
                    )
            return message

        await self.app(scope, limited_receive, send)


def _body_framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None without one) and whether the body is sent in chunks (any
    Transfer-Encoding: the server refuses codings other than chunked before we see them)."""
    declared: int | None = None
    chunked = False
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None  # the HTTP parser refuses these before we see them
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked
