"""Direct writes of pre-framed WebSocket messages, bypassing the per-message ASGI send.

Fan-out to thousands of sockets through ``await websocket.send_text`` costs a coroutine, the middleware
chain and a framing per viewer. uvicorn's transport is given to the app (``scope["extensions"]``) by
:class:`FastWebSocketProtocol`, and the hub writes the one encoded frame straight to each transport
(docs/decisions.md, D9). Under any other server the extension is absent and the gateway falls back to
ASGI sends through a bounded per-connection queue.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "livestream.raw_socket"


class FastWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, handing its transport to the app.

    Control frames (pings, close) still go through this protocol object; the app writes whole frames, so the
    two never interleave inside a frame. The app must stop writing once it has sent its close frame.
    """

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None when the upgrade request itself was refused
            scope["extensions"][EXTENSION] = {"transport": self.transport}
