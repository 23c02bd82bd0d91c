"""uvicorn's WebSocket protocol with our two additions, driven byte by byte over a fake transport: the handshake's
answer sent with a first frame, and a socket detached from its ASGI call (realtime/raw_socket.py)."""

from __future__ import annotations

import asyncio
import gc
import struct
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState
from websockets.protocol import Protocol as FrameProtocol

from livestream.realtime.hub import text_frame
from livestream.realtime.raw_socket import EXTENSION, FIRST_FRAME, FastWebSocketProtocol, detachable
from tests.support.chat_clients import client_frame, upgrade_request

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False
        self.reading = True
        self.protocol: FastWebSocketProtocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            protocol = self.protocol
            if protocol is not None:
                asyncio.get_running_loop().call_soon(protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def get_write_buffer_size(self) -> int:
        return 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, FastWebSocketProtocol)
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def server_frames(self) -> list[tuple[int, bytes]]:
        """Every frame written after the handshake's answer: ``(opcode, payload)``."""
        data = b"".join(self.writes)
        data = data[data.index(b"\r\n\r\n") + 4 :]
        frames = []
        while data:
            opcode, size, at = data[0] & 0x0F, data[1] & 0x7F, 2
            if size == 126:
                (size,), at = struct.unpack("!H", data[2:4]), 4
            frames.append((opcode, data[at : at + size]))
            data = data[at + size :]
        return frames


class Collector:
    def __init__(self) -> None:
        self.messages: list[str | None] = []
        self.closed = 0

    def on_message(self, text: str | None) -> None:
        self.messages.append(text)

    def on_close(self) -> None:
        self.closed += 1


def _connect(app: ASGIApp) -> tuple[FastWebSocketProtocol, FakeTransport, ServerState]:
    config = uvicorn.Config(app, ws=FastWebSocketProtocol, ws_ping_interval=None, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    protocol = FastWebSocketProtocol(config=config, server_state=state, app_state={})
    transport = FakeTransport()
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    protocol.data_received(upgrade_request("/ws/streams/x"))
    return protocol, transport, state


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_frames_that_arrive_before_the_detach_are_handed_over_in_order() -> None:
    collector = Collector()
    go = asyncio.Event()
    returned = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await go.wait()  # the viewer joins meanwhile; its client already writes
        await send({"type": "websocket.accept", FIRST_FRAME: text_frame(b'{"type":"hello"}')})
        transport = scope["extensions"][EXTENSION]["transport"]
        protocol = detachable(transport)
        assert protocol is not None
        assert protocol.detach(collector)
        returned.set()

    protocol, transport, state = _connect(app)
    await _settle()
    protocol.data_received(client_frame(b'{"type":"ping"}') + client_frame(b"\x00\x01", opcode=0x2))
    assert not transport.reading  # uvicorn paused reading for its queue
    upgrade_request_ref = weakref.ref(protocol.request)
    go.set()
    await returned.wait()
    await _settle()
    # The handshake's answer and the hello left in one write.
    assert len(transport.writes) == 1
    assert transport.writes[0].startswith(b"HTTP/1.1 101")
    assert transport.server_frames() == [(0x1, b'{"type":"hello"}')]
    assert collector.messages == ['{"type":"ping"}', None]
    assert transport.reading  # the receiver decides from now on
    # The ASGI call is over, the socket is not: later frames go to the receiver.
    assert not transport.closing
    assert not state.tasks
    protocol.data_received(client_frame('{"type":"chat.send","text":"é"}'.encode()))
    assert collector.messages[-1] == '{"type":"chat.send","text":"é"}'
    # What only the ASGI call used is gone, the upgrade request included (websockets' parser kept it).
    assert not hasattr(protocol, "scope")
    assert not hasattr(protocol, "request")
    assert protocol.conn.parser.gi_code is FrameProtocol.parse.__code__  # type: ignore[attr-defined]
    gc.collect()
    assert upgrade_request_ref() is None

    protocol.close_detached(4000, "bye")
    assert transport.server_frames()[-1] == (0x8, struct.pack("!H", 4000) + b"bye")
    protocol.data_received(client_frame(b'{"type":"ping"}'))  # past our close frame: dropped
    assert len(collector.messages) == 3
    protocol.data_received(client_frame(struct.pack("!H", 4000), opcode=0x8))
    await _settle()
    assert transport.closing
    assert collector.closed == 1
    assert protocol not in state.connections


@pytest.mark.parametrize("how", ["peer", "shutdown"])
async def test_a_detached_socket_tells_its_receiver_when_it_ends(how: str) -> None:
    collector = Collector()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        protocol = detachable(scope["extensions"][EXTENSION]["transport"])
        assert protocol is not None
        assert protocol.detach(collector)

    protocol, transport, _ = _connect(app)
    await _settle()
    if how == "peer":
        protocol.data_received(client_frame(struct.pack("!H", 1001), opcode=0x8))
        expected_code = 1001
    else:
        protocol.shutdown()  # what uvicorn does to every connection when the server stops
        expected_code = 1012
    await _settle()
    assert transport.closing
    assert collector.closed == 1
    assert transport.server_frames()[-1][0] == 0x8
    assert struct.unpack("!H", transport.server_frames()[-1][1][:2]) == (expected_code,)


async def test_a_socket_that_closed_cannot_be_detached() -> None:
    collector = Collector()
    results: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.sleep(0.01)  # the peer leaves meanwhile
        protocol = detachable(scope["extensions"][EXTENSION]["transport"])
        assert protocol is not None
        results.append(protocol.detach(collector))
        assert (await receive())["type"] == "websocket.disconnect"  # through ASGI, as before

    protocol, _, state = _connect(app)
    await _settle()
    protocol.data_received(client_frame(struct.pack("!H", 1000), opcode=0x8))
    await asyncio.sleep(0.05)
    assert results == [False]
    assert collector.closed == 0
    assert not state.tasks
