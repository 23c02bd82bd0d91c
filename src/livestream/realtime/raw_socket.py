"""Direct writes of pre-framed WebSocket messages, bypassing the per-message ASGI send.

Fan-out to thousands of sockets through ``await websocket.send_text`` costs a coroutine, the middleware
chain and a framing per viewer. uvicorn's protocol is given to the app (``scope["extensions"]``) by
:class:`FastWebSocketProtocol`, and the hub writes the one encoded frame straight to each transport
(docs/decisions.md, D9). Under any other server the extension is absent and the gateway falls back to
ASGI sends through a bounded per-connection queue.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

EXTENSION = "livestream.raw_socket"


class RawSocket:
    """The write side of one accepted WebSocket."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @property
    def open(self) -> bool:
        p = self._protocol
        return p.handshake_complete and not p.close_sent and not p.disconnected and not p.transport.is_closing()

    def buffered(self) -> int:
        return self._protocol.transport.get_write_buffer_size()

    def write(self, frame: bytes) -> None:
        self._protocol.transport.write(frame)

    def abort(self) -> None:
        """Drop a peer that stopped reading: a close frame would only queue behind what it did not read."""
        self._protocol.transport.abort()


class FastWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, handing its :class:`RawSocket` to the app."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None when the upgrade request itself was refused
            scope["extensions"][EXTENSION] = {"socket": RawSocket(self)}
