"""One chat WebSocket: handshake checks, the hello, and the client's frames (docs/realtime.md)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect

from livestream.auth.repository import TokenRepository
from livestream.auth.service import AuthService
from livestream.chat import frames
from livestream.chat.errors import ChatUnauthenticated
from livestream.chat.repository import ChatRepository
from livestream.chat.service import ChatService, channel_of
from livestream.chat.snapshots import MAX_AGE_SECONDS, StreamSnapshot
from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.errors import AppError
from livestream.logging import get_logger
from livestream.realtime.engine import Engine
from livestream.realtime.hub import Hub, Outgoing
from livestream.realtime.raw_socket import EXTENSION, FastWebSocketProtocol, detachable
from livestream.realtime.sockets import (
    AUTH_LIMIT,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN_LATER,
    MAX_FRAME_BYTES,
    MAX_FRAME_DEPTH,
    PING_LIMIT,
    Window,
    accept,
    client_of,
    close_quietly,
    flood_refusal,
    origin_allowed,
    parse_frame,
    too_big,
)
from livestream.security import AccessClaims
from livestream.shortcache import ShortCache
from livestream.streams.repository import StreamRepository
from livestream.users.models import User
from livestream.users.repository import UserRepository

log = get_logger(__name__)

# The limits every socket shares, still reachable from here (the server's ws_max_size, the tests).
__all__ = [
    "AUTH_LIMIT",
    "CLOSE_POLICY",
    "MAX_FRAME_BYTES",
    "PING_LIMIT",
    "ChatConnection",
    "ChatGateway",
    "make_chat_service",
]

MAX_NONCE_CHARS = 64
VIEWER_COOKIE = "ls_viewer"
# Frames queued for a socket served without the raw fast path before it counts as too slow.
FALLBACK_QUEUE_FRAMES = 512
CLOSE_UNKNOWN_STREAM = 4404


class ChatConnection:
    """A connected viewer, as the hub sees it: where frames go, and who it counts as.

    Under uvicorn with our protocol it is also the socket's receiver once the gateway has detached it
    (realtime/raw_socket.py): inbound frames are handled one at a time by a task made for each burst (reading is
    paused meanwhile, as uvicorn's ASGI queue did), and the end of the connection makes the hub forget it.
    """

    __slots__ = (
        "_auth_window",
        "_closing",
        "_gateway",
        "_inbox",
        "_pending",
        "_ping_window",
        "_queue",
        "_transport",
        "_worker",
        "_writer",
        "buffer_limit",
        "claims",
        "closed",
        "connection_id",
        "member",
        "stream",
        "user",
        "websocket",
    )

    def __init__(
        self, websocket: WebSocket, transport: asyncio.Transport | None, *, anonymous_id: str, buffer_limit: int
    ) -> None:
        self.websocket: WebSocket | None = websocket  # None once detached: the ASGI call is over
        # Unique across processes (a presence key in Redis), not a secret: no system call per viewer, as uuid4 makes.
        self.connection_id = f"{random.getrandbits(128):032x}"
        self.member = f"a:{anonymous_id}"
        self.user: User | None = None
        self.claims: AccessClaims | None = None
        self.buffer_limit = buffer_limit
        self.closed = False
        self.stream: StreamSnapshot | None = None
        # With uvicorn's FastWebSocketProtocol: frames go straight to the transport (D9); otherwise ASGI sends.
        self._transport = transport
        # Until the hello is out, publications wait here so the viewer sees them after the history.
        self._pending: list[Outgoing] | None = []
        self._queue: asyncio.Queue[str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        # Rate-limit windows, made on the first frame of their kind: an idle viewer carries none.
        self._auth_window: Window | None = None
        self._ping_window: Window | None = None
        # A detached socket's frames: the gateway that handles them, those not handled yet, and the task doing it.
        self._gateway: ChatGateway | None = None
        self._inbox: collections.deque[str | None] | None = None
        self._worker: asyncio.Task[None] | None = None
        if transport is None:
            self._queue = asyncio.Queue(FALLBACK_QUEUE_FRAMES)
            self._writer = asyncio.create_task(self._write_queued())

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._transport

    def deliver(self, message: Outgoing) -> None:
        # The hot path of fan-out: once per viewer per message, so kept flat.
        if self._pending is not None:
            self._pending.append(message)
            return
        if self.closed:
            return
        transport = self._transport
        if transport is None:
            self._enqueue(message.text)
        elif not transport.is_closing():
            if transport.get_write_buffer_size() > self.buffer_limit:
                self._too_slow()
            else:
                transport.write(message.frame)

    def send_text(self, text: str) -> None:
        """A frame for this socket only (hello, acks, errors), in order with the broadcast ones."""
        self.deliver(Outgoing(text))

    def start(self, hello: str | None, history: list[str]) -> None:
        """Send the hello (None: it went out with the handshake), then what was published since the join."""
        pending, self._pending = self._pending or [], None
        if hello is not None:
            self.deliver(Outgoing(hello))
        # Messages published while the history was read may be in both: skip those already in the hello.
        # Only then are the history's ids worth decoding.
        history_ids = _ids(history) if history and any(_is_chat(m) for m in pending) else set()
        for message in pending:
            if _is_chat(message) and json.loads(message.text)["id"] in history_ids:
                continue
            self.deliver(message)

    def over_limit(self, kind: str, now: float) -> int:
        """Frames of ``kind`` over this socket's limit in the current window (0: within it)."""
        if kind == "auth":
            window = self._auth_window = self._auth_window or Window()
            return window.hit(*AUTH_LIMIT, now)
        window = self._ping_window = self._ping_window or Window()
        return window.hit(*PING_LIMIT, now)

    def retry_after(self, kind: str, now: float) -> int:
        window = self._auth_window if kind == "auth" else self._ping_window
        return window.retry_after(now) if window is not None else 1

    async def close(self, code: int, reason: str) -> None:
        """Close from our side; nothing more is written after the close frame."""
        self.closed = True
        if self.websocket is not None:
            await close_quietly(self.websocket, code, reason)
        elif (protocol := detachable(self._transport)) is not None:
            protocol.close_detached(code, reason)

    # --- a detached socket (raw_socket.Receiver) -----------------------------------------------------

    def detach(self, protocol: FastWebSocketProtocol, gateway: ChatGateway, stream: StreamSnapshot) -> bool:
        """Carry on without the ASGI call: the protocol hands frames here, the hub and the protocol keep us."""
        self._gateway, self.stream = gateway, stream
        if not protocol.detach(self):
            self._gateway = None
            return False
        self.websocket = None
        return True

    def on_message(self, text: str | None) -> None:
        if self.closed or self._gateway is None:
            return
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = collections.deque()
        inbox.append(text)
        if self._worker is None and self._transport is not None:
            self._transport.pause_reading()
            self._worker = asyncio.create_task(self._work(self._gateway, inbox))

    def on_close(self) -> None:
        self.closed = True
        if self._gateway is not None and self.stream is not None:
            self._gateway.hub.leave_soon(self.stream.channel, self)

    async def _work(self, gateway: ChatGateway, inbox: collections.deque[str | None]) -> None:
        assert self.stream is not None
        try:
            while inbox and not self.closed:
                if not await gateway.handle_frame(self, self.stream, inbox.popleft()):
                    break
        finally:
            self._worker = self._inbox = None
            if not self.closed and self._transport is not None:
                self._transport.resume_reading()

    # --- internals ------------------------------------------------------------------------------------

    def _enqueue(self, text: str) -> None:
        assert self._queue is not None
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self._too_slow()

    def _too_slow(self) -> None:
        self.closed = True
        log.info("ws_dropped_slow_client", connection_id=self.connection_id)
        if self._transport is not None:
            # It stopped reading: a close frame would only queue behind what it did not read.
            self._transport.abort()
        elif self._writer is not None and self.websocket is not None:
            self._writer.cancel()
            self._closing = asyncio.create_task(close_quietly(self.websocket, CLOSE_TOO_SLOW, "too slow"))

    async def _write_queued(self) -> None:
        assert self._queue is not None
        assert self.websocket is not None
        websocket = self.websocket
        with contextlib.suppress(Exception):
            while True:
                await websocket.send_text(await self._queue.get())

    async def stop(self) -> None:
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


def make_chat_service(session: AsyncSession, settings: Settings, engine: Engine) -> ChatService:
    return ChatService(
        ChatRepository(session),
        StreamRepository(session),
        UserRepository(session),
        engine,
        history_seconds=settings.chat_history_seconds,
        rate_limit=(settings.chat_rate_limit_messages, settings.chat_rate_limit_window_seconds),
    )


class ChatGateway:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        engine: Engine,
        hub: Hub,
        auth: Callable[[AsyncSession], AuthService],
    ) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.hub = hub
        self._auth = auth
        # Joining viewers read their stream here, not from the database: at most 1 s old, one read per stream per
        # second however many join, dropped when the hub sees the stream change (chat/snapshots.py).
        self.snapshots: ShortCache[uuid.UUID, StreamSnapshot | None] = ShortCache(MAX_AGE_SECONDS)
        hub.watch(self._on_publication)

    def _chat(self, session: AsyncSession) -> ChatService:
        return make_chat_service(session, self.settings, self.engine)

    async def serve(self, websocket: WebSocket, stream_ref: str) -> None:
        if not origin_allowed(websocket, self.settings.websocket_origins):
            log.warning("ws_origin_refused", origin=websocket.headers.get("origin"), client=client_of(websocket))
            await websocket.close(1008)  # before accept: the handshake is answered 403
            return
        stream_id = _stream_id(stream_ref)
        snapshot = await self._snapshot(stream_id) if stream_id is not None else None
        anonymous_id, set_cookie = self._viewer_id(websocket)
        headers = [(b"set-cookie", set_cookie.encode())] if set_cookie else []
        if stream_id is None or snapshot is None:
            if await accept(websocket, headers):
                await websocket.send_text(frames.error("STREAM_NOT_FOUND", "No such stream"))
                await close_quietly(websocket, CLOSE_UNKNOWN_STREAM, "unknown stream")
            return
        extension = websocket.scope.get("extensions", {}).get(EXTENSION)
        connection = ChatConnection(
            websocket,
            extension["transport"] if extension else None,
            anonymous_id=anonymous_id,
            buffer_limit=self.settings.ws_send_buffer_bytes,
        )
        channel = snapshot.channel
        detached = False
        try:
            # Joined before the handshake is answered, so that the answer and the hello leave together.
            try:
                joined = await self.hub.join(channel, connection, history_seconds=self.settings.chat_history_seconds)
                # The stream as of now that this viewer receives the channel's events: a change whose event came
                # before the join dropped the snapshot read before it.
                snapshot = await self._snapshot(stream_id) or snapshot
            except Exception:
                # The engine (Redis) is unreachable: say so and let the client's backoff try again later.
                log.exception("ws_join_failed", stream_id=str(stream_id))
                connection.closed = True
                if await accept(websocket, headers):
                    await websocket.send_text(frames.error("INTERNAL_ERROR", "Chat is unavailable; retrying soon"))
                    await close_quietly(websocket, CLOSE_TRY_AGAIN_LATER, "try again later")
                return
            hello = snapshot.hello(joined.count, joined.history)
            if connection.transport is not None:
                # One write, one packet: the handshake's response and the hello (raw_socket.FIRST_FRAME).
                if not await accept(websocket, headers, first_frame=Outgoing(hello).frame):
                    return
                connection.start(None, joined.history)
            else:
                if not await accept(websocket, headers):
                    return
                connection.start(hello, joined.history)
            del joined, hello
            protocol = detachable(connection.transport)
            if protocol is not None and connection.detach(protocol, self, snapshot):
                # The socket lives on without this call, its frames handled by the connection: an idle viewer
                # keeps no task, no coroutine and nothing of the ASGI machinery (docs/realtime.md).
                detached = True
                return
            await self._read(websocket, connection, snapshot)
        finally:
            if not detached:
                try:
                    await self.hub.leave(channel, connection)
                except Exception as exc:  # its presence entry then expires by TTL, as after a crash
                    log.warning("ws_leave_failed", error=type(exc).__name__)
                await connection.stop()

    async def _snapshot(self, stream_id: uuid.UUID) -> StreamSnapshot | None:
        return await self.snapshots.get(stream_id, lambda: self._load_snapshot(stream_id))

    async def _load_snapshot(self, stream_id: uuid.UUID) -> StreamSnapshot | None:
        async with self.db.sessionmaker() as session:
            stream = await StreamRepository(session).get(stream_id)
            return StreamSnapshot.of(stream) if stream is not None else None

    def _on_publication(self, channel: str, payload: str) -> None:
        """The hub's watcher: a stream's state, title, description or slow mode changed (in any process)."""
        if payload.startswith(_STREAM_CHANGES) and channel.startswith(_CHANNEL_PREFIX):
            stream_id = _stream_id(channel[len(_CHANNEL_PREFIX) :])
            if stream_id is not None:
                self.snapshots.invalidate(stream_id)

    def _viewer_id(self, websocket: WebSocket) -> tuple[str, str | None]:
        """An anonymous viewer is one browser, not one tab: a random id kept in a cookie set at the handshake."""
        existing = websocket.cookies.get(VIEWER_COOKIE, "")
        if 16 <= len(existing) <= 64 and existing.isalnum():
            return existing, None
        fresh = secrets.token_hex(16)
        secure = "; Secure" if self.settings.secure_cookies else ""
        cookie = f"{VIEWER_COOKIE}={fresh}; Path=/ws; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}"
        return fresh, cookie

    async def _read(self, websocket: WebSocket, connection: ChatConnection, stream: StreamSnapshot) -> None:
        """The socket's frames through ASGI (a server without our protocol, or one that could not detach)."""
        while not connection.closed:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if not await self.handle_frame(connection, stream, message.get("text")):
                return

    async def handle_frame(self, connection: ChatConnection, stream: StreamSnapshot, text: str | None) -> bool:
        """One inbound frame (None: a binary one); False when the socket is closing and reading should stop."""
        if text is None:
            connection.send_text(frames.error("BAD_FRAME", "Frames are JSON text"))
            return True
        if too_big(text):
            await connection.close(CLOSE_TOO_BIG, "frame too big")  # nothing more is written after it
            return False
        try:
            await self._handle(connection, stream, text)
        except Exception:
            # One failed frame (the database or Redis briefly away) must not end the viewer's socket.
            log.exception("ws_frame_failed", connection_id=connection.connection_id)
            connection.send_text(frames.error("INTERNAL_ERROR", "Something went wrong; try again"))
        return not connection.closed

    async def _handle(self, connection: ChatConnection, stream: StreamSnapshot, text: str) -> None:
        frame = parse_frame(text)
        if frame is None:
            connection.send_text(
                frames.error("BAD_FRAME", f"Frames are JSON objects with a type, nested at most {MAX_FRAME_DEPTH} deep")
            )
            return
        kind = frame["type"]
        if kind in ("ping", "auth"):
            now = time.monotonic()
            over = connection.over_limit(kind, now)
            if over:
                await self._refuse_flood(connection, kind, over, now)
                return
        if (refusal := frames.unstorable_refusal(text, frame)) is not None:
            connection.send_text(refusal)
            return
        if kind == "ping":
            connection.send_text(frames.PONG)
        elif kind == "auth":
            await self._authenticate(connection, stream, frame.get("token"))
        elif kind == "chat.send":
            await self._chat_send(connection, stream, frame)
        else:
            connection.send_text(frames.error("BAD_FRAME", f"Unknown frame type {kind[:40]!r}"))

    async def _refuse_flood(self, connection: ChatConnection, kind: str, over: int, now: float) -> None:
        refusal = flood_refusal(kind, over, connection.retry_after(kind, now))
        if refusal is not None:
            connection.send_text(refusal)
            return
        # Told, and going on: this is no client of ours.
        log.info("ws_closed_flood", connection_id=connection.connection_id, frame=kind)
        await connection.close(CLOSE_POLICY, "too many frames")

    async def _authenticate(self, connection: ChatConnection, stream: StreamSnapshot, token: object) -> None:
        if not isinstance(token, str) or not token or len(token) > 2048:
            connection.send_text(frames.error("TOKEN_INVALID", "Send an access token"))
            return
        async with self.db.sessionmaker() as session:
            try:
                user, claims = await self._auth(session).authenticate(token)
            except AppError:
                user = None
            role = await self._chat(session).role(stream.channel_id, user.user_id) if user is not None else "viewer"
        if user is None:
            connection.user = connection.claims = None
            connection.send_text(frames.error("TOKEN_INVALID", "The access token is expired, revoked or malformed"))
            return
        connection.user, connection.claims = user, claims
        connection.member = f"u:{user.user_id}"
        await self.hub.update_member(stream.channel, connection)
        connection.send_text(
            frames.encode(
                {"type": "auth.ok", "user": {"user_id": str(user.user_id), "username": user.username}, "role": role}
            )
        )

    async def _chat_send(self, connection: ChatConnection, stream: StreamSnapshot, frame: dict[str, Any]) -> None:
        nonce = frame.get("nonce")
        text = frame.get("text")
        if nonce is not None and (not isinstance(nonce, str) or len(nonce) > MAX_NONCE_CHARS):
            connection.send_text(frames.error("BAD_FRAME", "nonce must be a string of at most 64 characters"))
            return
        if not isinstance(text, str):
            connection.send_text(frames.error("BAD_FRAME", "text must be a string", nonce=nonce))
            return
        try:
            async with self.db.sessionmaker() as session:
                user = await self._sender(connection, session)
                message_id = await self._chat(session).send(stream.stream_id, user, text)
        except AppError as exc:
            connection.send_text(frames.error(exc.code, exc.detail, nonce=nonce, **exc.extra))
            return
        connection.send_text(frames.encode({"type": "chat.ack", "nonce": nonce, "id": message_id}))

    async def _sender(self, connection: ChatConnection, session: AsyncSession) -> User:
        """The signed-in user, re-checked on every message: an expired or logged-out token stops chatting."""
        claims = connection.claims
        if claims is None or connection.user is None:
            raise ChatUnauthenticated()
        if claims.expires_at <= utcnow():
            raise ChatUnauthenticated("Your session expired; sign in again to chat")
        if not await TokenRepository(session).access_valid(claims.jti, claims.session_id):
            connection.user = connection.claims = None
            raise ChatUnauthenticated("You were signed out; sign in again to chat")
        # The user as of the socket's last auth: a renamed user shows the new name after the client's next auth.
        return connection.user


_STREAM_CHANGES = ('{"type":"stream.status"', '{"type":"chat.settings"')
_CHANNEL_PREFIX = channel_of(uuid.UUID(int=0))[: -len(str(uuid.UUID(int=0)))]


def _stream_id(ref: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


def _is_chat(message: Outgoing) -> bool:
    return message.text.startswith('{"type":"chat.message"')


def _ids(history: list[str]) -> set[str]:
    return {json.loads(payload)["id"] for payload in history}
