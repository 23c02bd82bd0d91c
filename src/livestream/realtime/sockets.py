"""What every WebSocket of ours shares: the Origin rule, frame limits and parsing, per-socket flood windows, error
frames, and the handshake and close helpers (docs/realtime.md). The chat socket (``chat/gateway.py``) and the
per-user notification socket (``notifications/live.py``) both use them, so both refuse the same frames the same way.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from livestream.realtime.raw_socket import FIRST_FRAME
from livestream.validation import UNSTORABLE_MESSAGE, is_storable, unstorable_in

MAX_FRAME_BYTES = 4096
# Our frames nest one or two levels; deeper ones are refused before they are decoded, so no recursion (the decoder's,
# or a walk of the decoded value) can ever reach the interpreter's limit on a client's say-so.
MAX_FRAME_DEPTH = 16
# Per socket, in memory (no engine round trip): frames that are cheap to send and not free to answer. `auth`
# costs a token check and a database read; the web app sends it once per connection and once per token refresh.
# `ping` is a keepalive every 20 s. Over the limit a frame is answered RATE_LIMITED; a socket that goes on to
# send as many again within the same window is closed (CLOSE_POLICY).
AUTH_LIMIT = (5, 10.0)  # frames, seconds
PING_LIMIT = (5, 1.0)
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOO_SLOW = 4000

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(frame: dict[str, Any]) -> str:
    return _encoder.encode(frame)


def error(code: str, message: str, *, nonce: str | None = None, **extra: Any) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "error": message}
    if nonce is not None:
        frame["nonce"] = nonce
    frame.update(extra)
    return encode(frame)


PONG = encode({"type": "pong"})
BAD_JSON = error("BAD_FRAME", f"Frames are JSON objects with a type, nested at most {MAX_FRAME_DEPTH} deep")
NOT_TEXT = error("BAD_FRAME", "Frames are JSON text")


def too_deep(text: str, limit: int = MAX_FRAME_DEPTH) -> bool:
    """Whether the JSON ``text`` may nest deeper than ``limit``; certainly true past ``2 * limit``.

    Frames with few brackets (all of ours) cost two counts. Otherwise the strings and everything but brackets
    are removed and innermost pairs are peeled, one level or more per pass, for at most ``limit`` passes: each
    pass is a scan in C, never a recursion. Unbalanced brackets count as too deep (the frame is not JSON).
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace("[]", "").replace("{}", "")
    return bool(brackets)


def parse_frame(text: str) -> dict[str, Any] | None:
    """A client frame: a JSON object with a string ``type``, or None."""
    if too_deep(text):
        return None
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    return frame


def too_big(text: str) -> bool:
    """Over MAX_FRAME_BYTES of UTF-8. surrogatepass: a lone surrogate (possible from an in-process ASGI client,
    never off the wire) is measured, then refused as unstorable text, instead of raising here."""
    return len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES


def unstorable_refusal(raw: str, frame: dict[str, Any]) -> str | None:
    """The ``VALIDATION_ERROR`` frame answering a client frame that holds a string no store or encoder takes (NUL,
    a lone surrogate: as in every HTTP body, see ``livestream.validation``), or None for a frame without one.

    ``json`` refuses raw control characters, so in ASCII text only a ``\\u`` escape can put either into a decoded
    frame: most frames cost two scans of their text, and only the others are walked."""
    if raw.isascii() and "\\u" not in raw:
        return None
    if not unstorable_in(frame):
        return None
    fields = {key: UNSTORABLE_MESSAGE for key, value in frame.items() if is_storable(key) and unstorable_in(value)}
    nonce = frame.get("nonce")
    return error(
        "VALIDATION_ERROR",
        f"{', '.join(fields) or 'frame'}: {UNSTORABLE_MESSAGE}",
        nonce=nonce if isinstance(nonce, str) and is_storable(nonce) else None,
        fields=fields,
    )


class Window:
    """A fixed-window counter for one kind of frame on one socket."""

    __slots__ = ("count", "ends")

    def __init__(self) -> None:
        self.count = 0
        self.ends = 0.0

    def hit(self, limit: int, seconds: float, now: float) -> int:
        """How many frames of this window are over ``limit``, this one included (0: within the limit)."""
        if now >= self.ends:
            self.count, self.ends = 0, now + seconds
        self.count += 1
        return max(0, self.count - limit)

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.ends - now))


def flood_refusal(kind: str, over: int, retry_after: int) -> str | None:
    """The answer to an ``auth`` or ``ping`` frame ``over`` its limit: a RATE_LIMITED error frame, or None when
    the socket went on sending as many again after being told, and is to be closed with CLOSE_POLICY."""
    limit, seconds = AUTH_LIMIT if kind == "auth" else PING_LIMIT
    if over > limit:
        return None
    return error("RATE_LIMITED", f"At most {limit} {kind} frames per {seconds:g} s", retry_after=retry_after)


def origin_allowed(websocket: WebSocket, allowed: frozenset[str]) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: nothing to protect from cross-site use
    origin = origin.rstrip("/").lower()
    if origin in allowed:
        return True
    host = websocket.headers.get("host", "").lower()
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return bool(host) and origin == f"{scheme}://{host}"


async def accept(websocket: WebSocket, headers: list[tuple[bytes, bytes]], first_frame: bytes | None = None) -> bool:
    """Answer the handshake (with the first frame, under our protocol); False when the peer has already gone."""
    message: dict[str, Any] = {"type": "websocket.accept", "subprotocol": None, "headers": headers}
    if first_frame is not None:
        message[FIRST_FRAME] = first_frame
    try:
        if websocket.client_state == WebSocketState.CONNECTING:
            await websocket.receive()  # the connect event, as Starlette's accept() reads it first
        await websocket.send(message)
    except (WebSocketDisconnect, RuntimeError):
        return False
    return True


async def close_quietly(websocket: WebSocket, code: int, reason: str = "") -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state != WebSocketState.DISCONNECTED:
            await websocket.close(code, reason)


def client_of(websocket: WebSocket) -> str | None:
    return f"{websocket.client.host}:{websocket.client.port}" if websocket.client else None
