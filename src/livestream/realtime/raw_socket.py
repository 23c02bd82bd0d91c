"""Direct writes of pre-framed WebSocket messages, bypassing the per-message ASGI send.

Fan-out to thousands of sockets through ``await websocket.send_text`` costs a coroutine, the middleware
chain and a framing per viewer. uvicorn's protocol is given to the app (``scope["extensions"]``) by
:class:`FastWebSocketProtocol`, and the hub writes the one encoded frame straight to each transport
(docs/decisions.md, D9). Under any other server the extension is absent and the gateway falls back to
ASGI sends through a bounded per-connection queue.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "livestream.raw_socket"


class RawSocket:
    """The transport of one accepted WebSocket, for writing whole pre-encoded frames.

    Control frames (pings, close) still go through the protocol object; each write is a whole frame, so the
    two never interleave inside a frame. Writers must stop once the app has sent its close frame.
    """

    __slots__ = ("transport",)

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport


class FastWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, handing its :class:`RawSocket` to the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None when the upgrade request itself was refused
            scope["extensions"][EXTENSION] = {"socket": RawSocket(self.transport)}
