"""One chat WebSocket: handshake checks, the hello, and the client's frames (docs/realtime.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from livestream.auth.repository import TokenRepository
from livestream.auth.service import AuthService
from livestream.chat import frames
from livestream.chat.errors import ChatUnauthenticated
from livestream.chat.repository import ChatRepository
from livestream.chat.service import ChatService, channel_of
from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.errors import AppError
from livestream.logging import get_logger
from livestream.realtime.engine import Engine
from livestream.realtime.hub import Hub, Outgoing
from livestream.realtime.raw_socket import EXTENSION
from livestream.security import AccessClaims
from livestream.streams.models import Stream
from livestream.streams.repository import StreamRepository
from livestream.users.models import User
from livestream.users.repository import UserRepository

log = get_logger(__name__)

MAX_FRAME_BYTES = 4096
MAX_NONCE_CHARS = 64
VIEWER_COOKIE = "ls_viewer"
# Frames queued for a socket served without the raw fast path before it counts as too slow.
FALLBACK_QUEUE_FRAMES = 512
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOO_SLOW = 4000
CLOSE_UNKNOWN_STREAM = 4404


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """What a connection keeps of its stream: ids only (an ORM object per socket would cost kilobytes)."""

    stream_id: uuid.UUID
    channel_id: uuid.UUID  # the creator's user id: bans and moderators belong to it


class ChatConnection:
    """A connected viewer, as the hub sees it: where frames go, and who it counts as."""

    __slots__ = (
        "_closing",
        "_pending",
        "_queue",
        "_transport",
        "_writer",
        "buffer_limit",
        "claims",
        "closed",
        "connection_id",
        "member",
        "user",
        "websocket",
    )

    def __init__(
        self, websocket: WebSocket, transport: asyncio.Transport | None, *, anonymous_id: str, buffer_limit: int
    ) -> None:
        self.websocket = websocket
        self.connection_id = uuid.uuid4().hex
        self.member = f"a:{anonymous_id}"
        self.user: User | None = None
        self.claims: AccessClaims | None = None
        self.buffer_limit = buffer_limit
        self.closed = False
        # With uvicorn's FastWebSocketProtocol: frames go straight to the transport (D9); otherwise ASGI sends.
        self._transport = transport
        # Until the hello is out, publications wait here so the viewer sees them after the history.
        self._pending: list[Outgoing] | None = []
        self._queue: asyncio.Queue[str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        if transport is None:
            self._queue = asyncio.Queue(FALLBACK_QUEUE_FRAMES)
            self._writer = asyncio.create_task(self._write_queued())

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

    def start(self, hello: str, history: list[str]) -> None:
        pending, self._pending = self._pending or [], None
        self.deliver(Outgoing(hello))
        # Messages published while the history was read may be in both: skip those already in the hello.
        # Only then are the history's ids worth decoding.
        history_ids = _ids(history) if history and any(_is_chat(m) for m in pending) else set()
        for message in pending:
            if _is_chat(message) and json.loads(message.text)["id"] in history_ids:
                continue
            self.deliver(message)

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
        elif self._writer is not None:
            self._writer.cancel()
            self._closing = asyncio.create_task(_close_quietly(self.websocket, CLOSE_TOO_SLOW, "too slow"))

    async def _write_queued(self) -> None:
        assert self._queue is not None
        with contextlib.suppress(Exception):
            while True:
                await self.websocket.send_text(await self._queue.get())

    async def stop(self) -> None:
        self.closed = True
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


async def _close_quietly(websocket: WebSocket, code: int, reason: str = "") -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state != WebSocketState.DISCONNECTED:
            await websocket.close(code, reason)


def make_chat_service(session: AsyncSession, settings: Settings, engine: Engine) -> ChatService:
    return ChatService(
        ChatRepository(session),
        StreamRepository(session),
        UserRepository(session),
        engine,
        history_seconds=settings.chat_history_seconds,
        rate_limit=(settings.chat_rate_limit_messages, settings.chat_rate_limit_window_seconds),
    )


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

    def _chat(self, session: AsyncSession) -> ChatService:
        return make_chat_service(session, self.settings, self.engine)

    async def serve(self, websocket: WebSocket, stream_ref: str) -> None:
        if not origin_allowed(websocket, self.settings.websocket_origins):
            log.warning("ws_origin_refused", origin=websocket.headers.get("origin"), client=_client(websocket))
            await websocket.close(1008)  # before accept: the handshake is answered 403
            return
        stream = await self._load_stream(stream_ref)
        anonymous_id, set_cookie = self._viewer_id(websocket)
        headers = [(b"set-cookie", set_cookie.encode())] if set_cookie else None
        await websocket.accept(headers=headers)
        if stream is None:
            await websocket.send_text(frames.error("STREAM_NOT_FOUND", "No such stream"))
            await _close_quietly(websocket, CLOSE_UNKNOWN_STREAM, "unknown stream")
            return
        extension = websocket.scope.get("extensions", {}).get(EXTENSION)
        connection = ChatConnection(
            websocket,
            extension["transport"] if extension else None,
            anonymous_id=anonymous_id,
            buffer_limit=self.settings.ws_send_buffer_bytes,
        )
        snapshot = StreamSnapshot(stream.stream_id, stream.user_id)
        channel = channel_of(stream.stream_id)
        try:
            try:
                count = await self.hub.join(channel, connection)
                history = await self.engine.history(channel, self.settings.chat_history_seconds)
            except Exception:
                # The engine (Redis) is unreachable: say so and let the client's backoff try again later.
                log.exception("ws_join_failed", stream_id=str(snapshot.stream_id))
                connection.closed = True
                await websocket.send_text(frames.error("INTERNAL_ERROR", "Chat is unavailable; retrying soon"))
                await _close_quietly(websocket, CLOSE_TRY_AGAIN_LATER, "try again later")
                return
            connection.start(self._hello(stream, count, history), history)
            del stream  # from here on only the snapshot is kept, for as long as the socket lives
            await self._read(websocket, connection, snapshot)
        finally:
            try:
                await self.hub.leave(channel, connection)
            except Exception as exc:  # its presence entry then expires by TTL, as after a crash
                log.warning("ws_leave_failed", error=type(exc).__name__)
            await connection.stop()

    async def _load_stream(self, stream_ref: str) -> Stream | None:
        try:
            stream_id = uuid.UUID(stream_ref)
        except ValueError:
            return None
        async with self.db.sessionmaker() as session:
            return await StreamRepository(session).get(stream_id)

    def _viewer_id(self, websocket: WebSocket) -> tuple[str, str | None]:
        """An anonymous viewer is one browser, not one tab: a random id kept in a cookie set at the handshake."""
        existing = websocket.cookies.get(VIEWER_COOKIE, "")
        if 16 <= len(existing) <= 64 and existing.isalnum():
            return existing, None
        fresh = secrets.token_hex(16)
        secure = "; Secure" if self.settings.secure_cookies else ""
        cookie = f"{VIEWER_COOKIE}={fresh}; Path=/ws; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}"
        return fresh, cookie

    @staticmethod
    def _hello(stream: Stream, viewer_count: int, history: list[str]) -> str:
        # The history payloads are already JSON: splice them in rather than decode and re-encode each.
        head = frames.encode(
            {
                "type": "hello",
                "stream_id": str(stream.stream_id),
                "viewer_count": viewer_count,
                "stream": frames.stream_state(stream),
                "chat": {"slow_mode_seconds": stream.slow_mode_seconds},
            }
        )
        return f'{head[:-1]},"history":[{",".join(history)}]}}'

    async def _read(self, websocket: WebSocket, connection: ChatConnection, stream: StreamSnapshot) -> None:
        while not connection.closed:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                connection.send_text(frames.error("BAD_FRAME", "Frames are JSON text"))
                continue
            if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
                connection.closed = True  # nothing more may be written after our close frame
                await _close_quietly(websocket, CLOSE_TOO_BIG, "frame too big")
                return
            try:
                await self._handle(connection, stream, text)
            except Exception:
                # One failed frame (the database or Redis briefly away) must not end the viewer's socket.
                log.exception("ws_frame_failed", connection_id=connection.connection_id)
                connection.send_text(frames.error("INTERNAL_ERROR", "Something went wrong; try again"))

    async def _handle(self, connection: ChatConnection, stream: StreamSnapshot, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            connection.send_text(frames.error("BAD_FRAME", "Frames are JSON objects with a type"))
            return
        if (refusal := frames.unstorable_refusal(text, frame)) is not None:
            connection.send_text(refusal)
            return
        kind = frame["type"]
        if kind == "ping":
            connection.send_text(frames.PONG)
        elif kind == "auth":
            await self._authenticate(connection, stream, frame.get("token"))
        elif kind == "chat.send":
            await self._chat_send(connection, stream, frame)
        else:
            connection.send_text(frames.error("BAD_FRAME", f"Unknown frame type {kind[:40]!r}"))

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
        await self.hub.update_member(channel_of(stream.stream_id), connection)
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


def _is_chat(message: Outgoing) -> bool:
    return message.text.startswith('{"type":"chat.message"')


def _ids(history: list[str]) -> set[str]:
    return {json.loads(payload)["id"] for payload in history}


def _client(websocket: WebSocket) -> str | None:
    return f"{websocket.client.host}:{websocket.client.port}" if websocket.client else None
