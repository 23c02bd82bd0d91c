"""Clients for the chat WebSocket of a live server: a viewer that records every frame, and account helpers."""

from __future__ import annotations

import asyncio
import json
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

PASSWORD = "Sunlit-Harbor-4821"
Frame = dict[str, Any]


@dataclass
class Account:
    user_id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_account(api: httpx.AsyncClient, prefix: str = "user") -> Account:
    username = f"{prefix}_{secrets.token_hex(3)}"
    registered = await api.post(
        "/api/auth/register", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    login = await api.post("/api/auth/login", json={"login": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    return Account(user_id=body["user"]["user_id"], username=username, token=body["access_token"])


async def open_stream(api: httpx.AsyncClient, creator: Account, title: str = "Chat test") -> str:
    created = await api.post("/api/streams", json={"title": title}, headers=creator.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["stream_id"])


@dataclass
class Viewer:
    """A WebSocket client that keeps every frame it receives, in order."""

    socket: ClientConnection
    frames: list[Frame] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each frame
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    @classmethod
    async def connect(cls, ws_base: str, stream_id: str, **kwargs: Any) -> Viewer:
        socket = await connect(f"{ws_base}/ws/streams/{stream_id}", compression=None, **kwargs)
        viewer = cls(socket)
        viewer._reader = asyncio.create_task(viewer._read())
        await viewer.wait_for(lambda f: f["type"] in ("hello", "error"))
        return viewer

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                frame = json.loads(raw)
                async with self._arrived:
                    self.frames.append(frame)
                    self.arrivals.append(time.monotonic())
                    self._arrived.notify_all()
        except Exception:  # noqa: S110 - a dropped connection ends the reader; tests look at close codes
            pass
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    @property
    def hello(self) -> Frame:
        return next(f for f in self.frames if f["type"] == "hello")

    def of_type(self, kind: str) -> list[Frame]:
        return [f for f in self.frames if f["type"] == kind]

    async def wait_for(self, match: Callable[[Frame], bool], within: float = 10.0, after: int = 0) -> Frame:
        """The first frame (from index ``after``) that matches, waiting for it if need be."""

        async def find() -> Frame:
            async with self._arrived:
                while True:
                    for frame in self.frames[after:]:
                        if match(frame):
                            return frame
                    if self.closed.is_set():
                        raise AssertionError(f"closed before a matching frame; got {self.frames}")
                    await self._arrived.wait()

        try:
            return await asyncio.wait_for(find(), within)
        except TimeoutError:
            raise AssertionError(f"no matching frame within {within} s; got {self.frames}") from None

    async def send(self, frame: Frame) -> None:
        await self.socket.send(json.dumps(frame, ensure_ascii=False))

    async def auth(self, account: Account) -> Frame:
        mark = len(self.frames)
        await self.send({"type": "auth", "token": account.token})
        return await self.wait_for(lambda f: f["type"] in ("auth.ok", "error"), after=mark)

    async def chat(self, text: str, nonce: str | None = None) -> Frame:
        """Send a message; returns its ``chat.ack`` or the ``error`` answering it."""
        nonce = nonce or secrets.token_hex(4)
        mark = len(self.frames)
        await self.send({"type": "chat.send", "text": text, "nonce": nonce})
        return await self.wait_for(lambda f: f["type"] in ("chat.ack", "error") and f.get("nonce") == nonce, after=mark)

    async def close(self) -> None:
        await self.socket.close()
        if self._reader is not None:
            await self._reader


# --- RFC 6455 by hand, for what a well-behaved client library will not send ---------------------------------


def upgrade_request(path: str, host: str = "127.0.0.1") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked client frame (text by default)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    mask = secrets.token_bytes(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
