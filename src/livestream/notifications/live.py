"""The live in-app channel: a signed-in user's open pages hear of new notifications at once, over ``/ws/me``.

Publishing (any process that commits notifications, the worker included) costs one engine message per batch of
up to ``MAX_RECIPIENTS`` recipients on the one ``notify`` channel, never one per recipient: a go-live to 100,000
followers is 60 messages (three per 5,000-row batch of the fan-out), whatever the number of processes. Each
message carries the notification once and, per recipient, its notification id.

Receiving: a process listens to ``notify`` (through the hub, so one engine subscription) only while it holds a
``/ws/me`` socket. Its one dispatcher decodes each message once and writes a ``notification`` frame to the local
sockets of the recipients it has; the others are skipped with a dictionary lookup each.

The socket (docs/realtime.md, "/ws/me"): same Origin rule, frame limits, ``auth`` frame and flood limits as the
chat socket (``realtime/sockets.py``). It is useless without a user: one that has not sent a valid ``auth``
within ``AUTH_TIMEOUT_SECONDS`` (or whose token expired and was not replaced in that time) is closed with 4401,
as is one that sent ``MAX_AUTH_FAILURES`` bad tokens in a row. A user holds at most ``MAX_SOCKETS_PER_USER``
sockets per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket, WebSocketDisconnect

from livestream.auth.service import AuthService
from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.errors import AppError
from livestream.logging import get_logger
from livestream.notifications.delivery import Written
from livestream.notifications.repository import NotificationRepository
from livestream.realtime.engine import Engine
from livestream.realtime.hub import Hub, Outgoing
from livestream.realtime.sockets import (
    AUTH_LIMIT,
    BAD_JSON,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TOO_SLOW,
    CLOSE_TRY_AGAIN_LATER,
    NOT_TEXT,
    PING_LIMIT,
    PONG,
    Window,
    accept,
    client_of,
    close_quietly,
    encode,
    error,
    flood_refusal,
    origin_allowed,
    parse_frame,
    too_big,
    unstorable_refusal,
)

log = get_logger("livestream.notifications")

NOTIFY_CHANNEL = "notify"
# Recipients per engine message: about 80 bytes each, so a message stays near 160 KB (the fan-out's batches are
# 5,000 rows: three messages each).
MAX_RECIPIENTS = 2_000
AUTH_TIMEOUT_SECONDS = 5.0
MAX_AUTH_FAILURES = 3
MAX_SOCKETS_PER_USER = 10
# Frames waiting for one socket before it counts as too slow (a user gets a few frames a minute at most).
QUEUE_FRAMES = 256
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY_SOCKETS = 4429

_FRAME_HEAD = '{"type":"notification","notification":{"notification_id":"'
_ID = re.compile(r"[0-9a-fA-F-]{32,36}")
_CLOSE = object()  # the writer's last item: send the close frame


def _iso(moment: Any) -> str:
    text: str = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return text


# --- publishing --------------------------------------------------------------------------------------------


def notify_messages(rows: Sequence[Written], limit: int = MAX_RECIPIENTS) -> list[str]:
    """The engine messages for ``rows``: rows sharing one notification (the fan-out's: one payload object, one
    instant) travel together, ``limit`` recipients per message."""
    messages: list[str] = []
    group: list[Written] = []

    def flush() -> None:
        if not group:
            return
        first = group[0]
        notification = {"kind": first.kind, "payload": first.payload, "created_at": _iso(first.created_at)}
        for start in range(0, len(group), limit):
            to = [[str(row.user_id), str(row.notification_id)] for row in group[start : start + limit]]
            messages.append(encode({"type": "notification", "notification": notification, "new": first.new, "to": to}))
        group.clear()

    for row in rows:
        if group:
            first = group[0]
            same = (
                row.payload is first.payload
                and row.kind == first.kind
                and row.created_at == first.created_at
                and row.new == first.new
            )
            if not same:
                flush()
        group.append(row)
    flush()
    return messages


class MeSocket:
    """One ``/ws/me`` connection: who it is signed in as, its flood windows, and its outbound queue."""

    __slots__ = (
        "_auth_window",
        "_closing",
        "_ping_window",
        "_queue",
        "_writer",
        "closed",
        "connection_id",
        "deadline",
        "failures",
        "user_id",
        "websocket",
    )

    def __init__(self, websocket: WebSocket, deadline: float) -> None:
        self.websocket = websocket
        self.connection_id = f"{random.getrandbits(128):032x}"
        self.user_id: str | None = None
        # Monotonic time by which a (fresh) valid auth must arrive: the auth timeout, then the token's expiry.
        self.deadline = deadline
        self.failures = 0
        self.closed = False
        self._auth_window: Window | None = None
        self._ping_window: Window | None = None
        self._closing = False  # a close frame is queued behind the frames still to send
        self._queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_FRAMES)
        self._writer = asyncio.create_task(self._write())

    def send_text(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.closed = True
            log.info("ws_me_dropped_slow_client", connection_id=self.connection_id)
            self._writer.cancel()
            self._writer = asyncio.create_task(close_quietly(self.websocket, CLOSE_TOO_SLOW, "too slow"))
            self._closing = True

    def window(self, kind: str) -> Window:
        if kind == "auth":
            self._auth_window = self._auth_window or Window()
            return self._auth_window
        self._ping_window = self._ping_window or Window()
        return self._ping_window

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (an error frame says why)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._queue.put_nowait((code, reason))
            self._closing = True
        except asyncio.QueueFull:
            self._writer.cancel()
            self._writer = asyncio.create_task(close_quietly(self.websocket, code, reason))
            self._closing = True

    async def _write(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                item = await self._queue.get()
                if isinstance(item, tuple):
                    await close_quietly(self.websocket, *item)
                    return
                assert isinstance(item, str)
                await self.websocket.send_text(item)

    async def stop(self) -> None:
        """The connection is over: let the writer send what it has up to our close frame, briefly, then end it."""
        self.closed = True
        writer = self._writer
        if self._closing and not writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), 1.0)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer


class LiveNotifications:
    """The ``live`` delivery channel, the ``/ws/me`` sockets of this process, and their dispatcher."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        engine: Engine,
        hub: Hub,
        auth: Callable[[AsyncSession], AuthService],
        *,
        auth_timeout: float = AUTH_TIMEOUT_SECONDS,
        max_sockets_per_user: int = MAX_SOCKETS_PER_USER,
    ) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.hub = hub
        self._auth = auth
        self.auth_timeout = auth_timeout
        self.max_sockets_per_user = max_sockets_per_user
        # What the hub knows this process's dispatcher by (a Subscriber).
        self.connection_id = f"notify-{uuid.uuid4().hex}"
        self.member = "notify"
        self._users: dict[str, dict[str, MeSocket]] = {}
        self._open = 0
        self._listening = False
        self._listen_lock = asyncio.Lock()

    # --- the delivery channel ----------------------------------------------------------------------------

    async def delivered(self, rows: Sequence[Written]) -> None:
        # A fan-out batch (5,000 rows) takes milliseconds to encode: off the loop that serves every socket.
        if len(rows) > 100:
            messages = await asyncio.to_thread(lambda: list(notify_messages(rows)))
        else:
            messages = list(notify_messages(rows))
        for message in messages:
            await self.engine.publish(NOTIFY_CHANNEL, message)

    async def read_changed(self, user_id: uuid.UUID) -> None:
        """After a commit that marked notifications read: the user's other pages show the new unread count."""
        async with self.db.sessionmaker() as session:
            unread = await NotificationRepository(session).unread_count(user_id)
        await self.engine.publish(
            NOTIFY_CHANNEL, encode({"type": "notifications.read", "to": [[str(user_id), unread]]})
        )

    # --- the dispatcher (a hub subscriber) ---------------------------------------------------------------

    def deliver(self, message: Outgoing) -> None:
        try:
            data = json.loads(message.text)
            kind = data["type"]
            if kind == "notification":
                self._notification(data)
            elif kind == "notifications.read":
                for user_id, unread in data["to"]:
                    sockets = self._users.get(user_id)
                    if sockets:
                        frame = encode({"type": "notifications.read", "unread": int(unread)})
                        for socket in list(sockets.values()):
                            socket.send_text(frame)
        except Exception:
            # A malformed message (another version's process) must not stop the hub's fan-out.
            log.exception("notify_message_failed")

    def _notification(self, data: dict[str, Any]) -> None:
        users = self._users
        tail: str | None = None
        for user_id, notification_id in data["to"]:
            sockets = users.get(user_id)
            if not sockets or not isinstance(notification_id, str) or not _ID.fullmatch(notification_id):
                continue
            if tail is None:
                # The notification's part of the frame, encoded once for every local recipient.
                notification = data["notification"]
                rest = encode(
                    {
                        "kind": notification["kind"],
                        "payload": notification["payload"],
                        "created_at": notification["created_at"],
                        "read_at": None,
                    }
                )
                tail = f'",{rest[1:]},"new":{"true" if data["new"] else "false"}}}'
            frame = _FRAME_HEAD + notification_id + tail
            for socket in list(sockets.values()):
                socket.send_text(frame)

    async def _sync_listening(self) -> None:
        """Listen to ``notify`` exactly while this process holds a socket."""
        async with self._listen_lock:
            if self._open > 0 and not self._listening:
                await self.hub.listen(NOTIFY_CHANNEL, self)
                self._listening = True
            elif self._open == 0 and self._listening:
                self._listening = False
                await self.hub.unlisten(NOTIFY_CHANNEL, self)

    @property
    def listening(self) -> bool:
        return self._listening

    def sockets_of(self, user_id: uuid.UUID) -> int:
        return len(self._users.get(str(user_id), ()))

    # --- the socket --------------------------------------------------------------------------------------

    async def serve(self, websocket: WebSocket) -> None:
        if not origin_allowed(websocket, self.settings.websocket_origins):
            log.warning("ws_origin_refused", origin=websocket.headers.get("origin"), client=client_of(websocket))
            await websocket.close(CLOSE_POLICY)  # before accept: the handshake is answered 403
            return
        self._open += 1
        try:
            try:
                await self._sync_listening()
            except Exception:
                log.exception("ws_me_listen_failed")
                if await accept(websocket, []):
                    await websocket.send_text(error("INTERNAL_ERROR", "Notifications are unavailable; retrying soon"))
                    await close_quietly(websocket, CLOSE_TRY_AGAIN_LATER, "try again later")
                return
            if not await accept(websocket, []):
                return
            socket = MeSocket(websocket, time.monotonic() + self.auth_timeout)
            try:
                await self._read(socket)
            finally:
                self._forget(socket)
                await socket.stop()
        finally:
            self._open -= 1
            try:
                await self._sync_listening()
            except Exception as exc:
                log.warning("ws_me_unlisten_failed", error=type(exc).__name__)

    async def _read(self, socket: MeSocket) -> None:
        websocket = socket.websocket
        while not socket.closed:
            wait = socket.deadline - time.monotonic()
            try:
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(websocket.receive(), wait)
            except TimeoutError:
                self._timed_out(socket)
                return
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if not await self.handle_frame(socket, message.get("text")):
                return

    def _timed_out(self, socket: MeSocket) -> None:
        if socket.user_id is None:
            socket.send_text(error("UNAUTHENTICATED", "Send an auth frame with an access token"))
            socket.close(CLOSE_UNAUTHENTICATED, "unauthenticated")
            return
        # The token expired: the page may still send a fresh one (it refreshes on this error) within the timeout.
        self._forget(socket)
        socket.deadline = time.monotonic() + self.auth_timeout
        socket.send_text(error("UNAUTHENTICATED", "Your access token expired; send a fresh one"))

    async def handle_frame(self, socket: MeSocket, text: str | None) -> bool:
        """One inbound frame (None: a binary one); False when the socket is closing."""
        if text is None:
            socket.send_text(NOT_TEXT)
            return True
        if too_big(text):
            socket.close(CLOSE_TOO_BIG, "frame too big")
            return False
        try:
            await self._handle(socket, text)
        except Exception:
            log.exception("ws_me_frame_failed", connection_id=socket.connection_id)
            socket.send_text(error("INTERNAL_ERROR", "Something went wrong; try again"))
        return not socket.closed

    async def _handle(self, socket: MeSocket, text: str) -> None:
        frame = parse_frame(text)
        if frame is None:
            socket.send_text(BAD_JSON)
            return
        kind = frame["type"]
        if kind in ("ping", "auth"):
            now = time.monotonic()
            window = socket.window(kind)
            over = window.hit(*(AUTH_LIMIT if kind == "auth" else PING_LIMIT), now)
            if over:
                refusal = flood_refusal(kind, over, window.retry_after(now))
                if refusal is not None:
                    socket.send_text(refusal)
                else:
                    log.info("ws_closed_flood", connection_id=socket.connection_id, frame=kind)
                    socket.close(CLOSE_POLICY, "too many frames")
                return
        if (refusal := unstorable_refusal(text, frame)) is not None:
            socket.send_text(refusal)
            return
        if kind == "ping":
            socket.send_text(PONG)
        elif kind == "auth":
            await self._authenticate(socket, frame.get("token"))
        else:
            socket.send_text(error("BAD_FRAME", f"Unknown frame type {kind[:40]!r}"))

    async def _authenticate(self, socket: MeSocket, token: object) -> None:
        user = claims = None
        unread = 0
        if isinstance(token, str) and token and len(token) <= 2048:
            async with self.db.sessionmaker() as session:
                try:
                    user, claims = await self._auth(session).authenticate(token)
                except AppError:
                    user = None
                if user is not None:
                    unread = await NotificationRepository(session).unread_count(user.user_id)
        if user is None or claims is None:
            # Whoever it was signed in as, it no longer is: it hears nothing until a valid token comes.
            self._forget(socket)
            socket.failures += 1
            socket.deadline = min(socket.deadline, time.monotonic() + self.auth_timeout)
            socket.send_text(error("TOKEN_INVALID", "The access token is expired, revoked or malformed"))
            if socket.failures >= MAX_AUTH_FAILURES:
                socket.close(CLOSE_UNAUTHENTICATED, "unauthenticated")
            return
        user_id = str(user.user_id)
        if socket.user_id != user_id:
            self._forget(socket)
            sockets = self._users.setdefault(user_id, {})
            if len(sockets) >= self.max_sockets_per_user:
                if not sockets:
                    del self._users[user_id]
                socket.send_text(
                    error("TOO_MANY_SOCKETS", f"At most {self.max_sockets_per_user} open pages per account")
                )
                socket.close(CLOSE_TOO_MANY_SOCKETS, "too many sockets")
                return
            sockets[socket.connection_id] = socket
            socket.user_id = user_id
        socket.failures = 0
        socket.deadline = time.monotonic() + max(0.0, (claims.expires_at - utcnow()).total_seconds())
        socket.send_text(
            encode(
                {
                    "type": "auth.ok",
                    "user": {"user_id": user_id, "username": user.username},
                    "unread": unread,
                }
            )
        )

    def _forget(self, socket: MeSocket) -> None:
        user_id, socket.user_id = socket.user_id, None
        if user_id is None:
            return
        sockets = self._users.get(user_id)
        if sockets is not None:
            sockets.pop(socket.connection_id, None)
            if not sockets:
                del self._users[user_id]
