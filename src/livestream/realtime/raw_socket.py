"""Direct writes of pre-framed WebSocket messages, bypassing the per-message ASGI send; and sockets that live on
without their ASGI call once the app has detached them.

Fan-out to thousands of sockets through ``await websocket.send_text`` costs a coroutine, the middleware
chain and a framing per viewer. uvicorn's transport is given to the app (``scope["extensions"]``) by
:class:`FastWebSocketProtocol`, and the hub writes the one encoded frame straight to each transport
(docs/decisions.md, D9). Under any other server the extension is absent and the gateway falls back to
ASGI sends through a bounded per-connection queue.

An idle viewer's socket would otherwise keep its whole ASGI call alive for hours: a task, some twenty coroutine
frames of middleware and routing, their closures and the receive queue, about half of its memory and most of the
objects the garbage collector walks. Once the app has sent its first frames it may :meth:`~FastWebSocketProtocol.
detach` the socket: its ASGI call returns, the socket stays open, and the protocol hands each inbound message and
the end of the connection to a :class:`Receiver` instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import Protocol as FrameProtocol
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

EXTENSION = "livestream.raw_socket"
#: A ``websocket.accept`` message may carry the socket's first frame (already framed bytes) under this key: the
#: handshake's response and that frame then leave in one write, one packet instead of two (a join's hello).
FIRST_FRAME = "livestream.first_frame"


class Receiver(Protocol):
    """What a detached socket's protocol calls, on the event loop; neither call may block or raise."""

    def on_message(self, text: str | None) -> None:
        """A whole inbound message: its text, or None for a binary one."""
        ...

    def on_close(self) -> None:
        """The connection is gone (closed by either side, timed out, or the server is shutting down). Once."""
        ...


class _Collect:
    """Stands in for the transport while uvicorn writes the handshake's response, to send it with more."""

    __slots__ = ("data", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.data: list[bytes] = []

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def write(self, data: bytes) -> None:
        self.data.append(data)


class _Discard:
    """Stands in for the ASGI receive queue of a detached socket, which nothing reads any more."""

    __slots__ = ()

    def put_nowait(self, item: object) -> None:
        return None

    def empty(self) -> bool:
        return True


_DISCARD = _Discard()


class _Writable:
    """Stands in for the ``writable`` event of a detached socket: only ASGI sends waited on it."""

    __slots__ = ()

    def set(self) -> None:
        return None

    def clear(self) -> None:
        return None

    def is_set(self) -> bool:
        return True


_WRITABLE = _Writable()


class FastWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, handing its transport to the app, and able to outlive the app's
    ASGI call.

    Control frames (pings, close) still go through this protocol object; the app writes whole frames, so the
    two never interleave inside a frame. The app must stop writing once it has sent its close frame.
    """

    _receiver: Receiver | None = None  # set by detach(); a class default costs an idle socket nothing

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None when the upgrade request itself was refused
            scope["extensions"][EXTENSION] = {"transport": self.transport}

    async def send(self, message: Any) -> None:
        first = message.get(FIRST_FRAME) if message["type"] == "websocket.accept" else None
        if first is None:
            await super().send(message)
            return
        transport = self.transport
        collect = self.transport = _Collect(transport)  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
        if collect.data:  # the response went out (it does not when the socket closed meanwhile)
            transport.write(b"".join([*collect.data, first]))

    # --- detaching ---------------------------------------------------------------------------------

    def detach(self, receiver: Receiver) -> bool:
        """From now on, hand inbound messages to ``receiver`` and let the ASGI call return without closing.

        Call it after ``websocket.accept``, from the ASGI call, which must then return without receiving or
        sending through ASGI again. Messages that arrived before are handed over first, in order. False (and
        nothing changes) when the socket is closing or already closed: the app then carries on through ASGI.
        """
        if self.disconnected or self.close_sent or not self.handshake_complete or self.transport.is_closing():
            return False
        queued: list[str | None] = []
        queue = self.queue
        while not queue.empty():
            message = queue.get_nowait()
            if message["type"] != "websocket.receive":
                return False  # a disconnect is queued: let the app see it through ASGI
            queued.append(message.get("text"))
        self._receiver = receiver
        # What only the ASGI call used: the receive queue, the flow-control event of its sends, the upgrade
        # request and response (their headers), the scope. Kept, they would be most of what an idle socket costs.
        self.queue = _DISCARD  # type: ignore[assignment]
        self.writable = _WRITABLE  # type: ignore[assignment]
        for name in ("request", "response", "scope"):
            self.__dict__.pop(name, None)
        self._drop_handshake_parser()
        if self.read_paused:  # paused by uvicorn when it queued the first of them; the receiver decides now
            self.read_paused = False
            self.transport.resume_reading()
        for text in queued:
            receiver.on_message(text)
        return True

    def _drop_handshake_parser(self) -> None:
        """websockets' server parser keeps the upgrade request (its headers: a dozen objects) for as long as the
        connection lives, as a local of the generator that goes on to parse frames. While it waits for the next
        frame, swap in the plain frame parser that generator was delegating to, as websockets itself swaps parsers
        (``discard`` after a close). In any other state, or another version's shape, nothing changes."""
        conn = self.conn
        outer = conn.parser
        inner = getattr(outer, "gi_yieldfrom", None)
        waiting = getattr(inner, "gi_yieldfrom", None)
        if (
            getattr(outer, "gi_code", None) is ServerProtocol.parse.__code__
            and getattr(inner, "gi_code", None) is FrameProtocol.parse.__code__
            and getattr(waiting, "gi_code", None) is StreamReader.at_eof.__code__
            and not conn.reader.buffer
        ):
            conn.parser = FrameProtocol.parse(conn)
            next(conn.parser)

    def close_detached(self, code: int, reason: str = "") -> None:
        """Start the closing handshake of a detached socket (what ``websocket.close`` does through ASGI)."""
        if self._receiver is None or self.close_sent or self.transport.is_closing():
            return
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.transport.resume_reading()  # the peer's close reply must get in, whatever the receiver paused
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)

    async def run_asgi(self) -> None:
        """uvicorn's own (0.54), except that a socket the app detached stays open when the call returns."""
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if self._receiver is not None:
                return  # detached: the socket lives on, and the protocol closes it when its time comes
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self.close_timer is None:
            self.transport.close()

    def send_receive_event_to_app(self) -> None:
        receiver = self._receiver
        if receiver is None:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past our close frame: reads go on only for the peer's reply
        if self.curr_msg_data_type != "text":
            receiver.on_message(None)
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.logger.info("Invalid UTF-8 sequence received from client.")
            self.conn.send_close(1007)
            self.handle_parser_exception()
            return
        receiver.on_message(text)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.on_close()


def detachable(transport: asyncio.Transport | None) -> FastWebSocketProtocol | None:
    """The protocol of a raw socket's transport when it can be detached (uvicorn with our protocol)."""
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, FastWebSocketProtocol) else None
