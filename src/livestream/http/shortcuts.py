"""Shortcuts for the hottest public reads: a validated GET, remembered by its exact target, answered again without
routing, parameter validation or dependency resolution.

Routing a request through FastAPI and validating its parameters cost more than the rest of a cached read (see
docs/benchmarks.md, api_reads). When a creator goes live, thousands of signed-out page loads ask for the very same
URLs. So a handler that has validated a request and answers JSON that anyone may see registers ``remember(scope,
answer)``: ``answer`` is a function of what it validated, returning the JSON bytes. The request middleware then
answers a later request for the same path and query string with ``answer()``, inside the request id, security
headers and access log as any other.

What it may hold and when it is used:

* Only what the handler calls public: the same for every caller. A shortcut is only remembered from, and only taken
  by, requests without credentials (``Authorization``, ``Cookie``) and without a body.
* It remembers the *question*, not the data: ``answer()`` reads the data each time (the public views, with their own
  age limit and invalidation), so a shortcut never serves older data than the handler would.
* Any error from ``answer()`` (a stream gone, Redis down) takes the full path, which renders it as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from livestream.http.deps import lookup

Answer = Callable[[], Awaitable[bytes]]
# Requests carrying these are never answered from, nor remembered as, a shortcut.
_NOT_SHAREABLE = frozenset({b"authorization", b"cookie", b"content-length", b"transfer-encoding"})


def shareable(scope: Scope) -> bool:
    """A GET without credentials and without a body."""
    if scope["method"] != "GET":
        return False
    return not any(name in _NOT_SHAREABLE for name, _ in scope["headers"])


class ReadShortcuts:
    """The app's shortcuts; one per app, provided by type (``livestream.http.deps.lookup``)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._answers: dict[tuple[str, str, bytes], Answer] = {}

    def remember(self, scope: Scope, answer: Answer) -> None:
        """Called by a handler that validated this request and answers public JSON (200) with ``answer()``."""
        if not shareable(scope):
            return
        if len(self._answers) >= self.max_entries:
            self._answers.clear()  # a burst of distinct URLs (cursors, random ids) starts over
        self._answers[_key(scope)] = answer

    def find(self, scope: Scope) -> Answer | None:
        if not self._answers:
            return None
        answer = self._answers.get(_key(scope))
        return answer if answer is not None and shareable(scope) else None

    def __len__(self) -> int:
        return len(self._answers)


def _key(scope: Scope) -> tuple[str, str, bytes]:
    return scope.get("root_path", ""), scope["path"], scope.get("query_string", b"")


async def public_json(request: Request, answer: Answer) -> Response:
    """Answer ``answer()`` (JSON anyone may see), and remember it as this request's shortcut.

    For handlers whose route keeps its ``response_model`` for the docs: FastAPI sends a Response as it is.
    """
    body = await answer()
    lookup(request, ReadShortcuts).remember(request.scope, answer)
    return Response(content=body, media_type="application/json")
