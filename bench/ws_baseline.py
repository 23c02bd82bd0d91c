"""The baseline for the realtime benchmarks: a bare ``websockets`` server on uvloop that speaks just enough of
``/ws/streams/{stream_id}`` (docs/realtime.md) for the load generator's code path to be the one it runs against
our server.

- On connect it sends the same ``hello`` (empty history).
- ``auth`` with any token answers ``auth.ok``; ``ping`` answers ``pong``.
- ``chat.send`` from a signed-in socket builds the same shape of ``chat.message`` (id, user, text, sent_at) once,
  sends it with ``websockets.broadcast`` to every connection on that stream (the sender included), then answers
  the sender ``chat.ack``.
- No permessage-deflate (``compression=None``), 4 KiB frames at most, and ``GET /healthz`` answers 200 for the
  harness.

It is the floor of fanning a chat message out from Python: no database, no engine, no rate limits.

    python -m bench.ws_baseline --port 8124
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

PREFIX = "/ws/streams/"
MAX_FRAME = 4096
# uvicorn's default accept backlog, so both servers queue the same number of pending connections.
BACKLOG = 2048
MAX_LIFETIME_S = 4 * 3600.0

_streams: dict[str, set[ServerConnection]] = {}


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _process_request(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    if not request.path.startswith(PREFIX):
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
    return None


def _hello(stream_id: str, viewers: int) -> str:
    return _dumps(
        {
            "type": "hello",
            "stream_id": stream_id,
            "viewer_count": viewers,
            "history": [],
            "stream": {"status": "live", "media_state": "waiting", "title": "baseline", "description": None},
            "chat": {"slow_mode_seconds": 0},
        }
    )


def _error(code: str, message: str, nonce: Any = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "error": message}
    if nonce is not None:
        frame["nonce"] = nonce
    return _dumps(frame)


async def _handler(ws: ServerConnection) -> None:
    stream_id = ws.request.path[len(PREFIX) :] if ws.request else ""
    peers = _streams.setdefault(stream_id, set())
    peers.add(ws)
    user: dict[str, str] | None = None
    try:
        await ws.send(_hello(stream_id, len(peers)))
        async for raw in ws:
            try:
                frame = json.loads(raw)
                kind = frame.get("type") if isinstance(frame, dict) else None
            except ValueError:
                kind = None
            if kind == "chat.send":
                nonce = frame.get("nonce")
                text = frame.get("text")
                if user is None:
                    await ws.send(_error("UNAUTHENTICATED", "sign in to chat", nonce))
                    continue
                if not isinstance(text, str) or not text.strip():
                    await ws.send(_error("EMPTY_MESSAGE", "empty message", nonce))
                    continue
                message_id = str(uuid.uuid4())
                message = {
                    "type": "chat.message",
                    "id": message_id,
                    "user": user,
                    "text": text.strip(),
                    "sent_at": datetime.now(UTC).isoformat(),
                }
                broadcast(peers, _dumps(message))
                await ws.send(_dumps({"type": "chat.ack", "nonce": nonce, "id": message_id}))
            elif kind == "auth":
                user = {"user_id": str(uuid.uuid4()), "username": f"baseline_{len(peers)}"}
                await ws.send(_dumps({"type": "auth.ok", "user": user, "role": "viewer"}))
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            else:
                await ws.send(_error("BAD_FRAME", "unknown frame"))
    except ConnectionClosed:
        pass
    finally:
        peers.discard(ws)


async def _serve(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.call_later(MAX_LIFETIME_S, lambda: stop.done() or stop.set_result(None))
    async with serve(
        _handler,
        host,
        port,
        compression=None,
        max_size=MAX_FRAME,
        process_request=_process_request,
        backlog=BACKLOG,
    ):
        await stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("the baseline only listens on a loopback address")
    logging.basicConfig(level=logging.WARNING)

    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
