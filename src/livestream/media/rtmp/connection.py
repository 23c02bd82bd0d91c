"""One RTMP connection, server side: handshake, NetConnection/NetStream commands, media to the publish session.

The connection reads a block from the socket, decodes the messages it completes and hands each to the session,
awaiting it, before it reads again: a slow consumer stops the reads, TCP flow control then stops the publisher,
and nothing queues up in between. Everything that can grow is bounded by ``RTMPLimits``: until a publish is
accepted (its stream key checked) by the tight ``pre_publish_*`` limits, which fit the handshake and the
connect/createStream/publish commands and no media; from then on by the limits an encoder needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from livestream.logging import get_logger
from livestream.media.rtmp import amf0
from livestream.media.rtmp.chunks import MAX_CHUNK_SIZE, ChunkDecoder, ChunkEncoder, ChunkError, Message
from livestream.media.rtmp.handshake import HandshakeError, NothingSent, server_handshake
from livestream.media.rtmp.session import PublisherControl, PublishHandler, PublishRejected, PublishSession
from livestream.media.rtmp.stats import IngestStats

__all__ = ["RTMPConnection", "RTMPLimits"]

log = get_logger("livestream.rtmp")

# Message type ids (spec §5.4, §7.1).
SET_CHUNK_SIZE: Final = 1
ABORT: Final = 2
ACKNOWLEDGEMENT: Final = 3
USER_CONTROL: Final = 4
WINDOW_ACK_SIZE: Final = 5
SET_PEER_BANDWIDTH: Final = 6
AUDIO: Final = 8
VIDEO: Final = 9
DATA_AMF3: Final = 15
COMMAND_AMF3: Final = 17
DATA_AMF0: Final = 18
COMMAND_AMF0: Final = 20
AGGREGATE: Final = 22

# User control events (spec §7.1.7).
STREAM_BEGIN: Final = 0
PING_REQUEST: Final = 6
PING_RESPONSE: Final = 7

CONTROL_CHUNK_STREAM: Final = 2
COMMAND_CHUNK_STREAM: Final = 3
STATUS_CHUNK_STREAM: Final = 5

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class RTMPLimits:
    """Per-connection limits; the defaults suit OBS, ffmpeg and hardware encoders at any sane bitrate."""

    # Once a publish is accepted (and for the rest of the connection: its key was checked).
    max_message_size: int = 8 * 1024 * 1024  # one audio/video/data message
    max_chunk_size: int = MAX_CHUNK_SIZE  # a larger Set Chunk Size closes the connection
    max_chunk_streams: int = 64
    max_pending_bytes: int = 16 * 1024 * 1024  # held in partly received messages, all chunk streams together
    # Before it, the peer is anyone who can reach the port: it gets what the handshake and connect, createStream
    # and publish need and nothing more, so that a crowd of unauthenticated connections costs a few hundred KiB
    # each instead of the 24 MiB above (16 MiB of partial messages and 8 MiB of read-ahead).
    pre_publish_max_message_size: int = 64 * 1024  # those commands take a few hundred bytes; media waits for publish
    pre_publish_max_chunk_size: int = 64 * 1024  # encoders announce 4096 (ffmpeg, OBS) to 60000 (SRS) here
    pre_publish_max_pending_bytes: int = 64 * 1024  # all partly received messages together
    pre_publish_read_ahead_bytes: int = 64 * 1024  # plus the one read (read_size) that crosses it
    # From the accept (or an unpublish) to a publish: how long an unauthenticated connection may live. ffmpeg and
    # OBS publish within a round trip or two of connecting.
    publish_timeout: float = 10.0
    max_streams: int = 8  # createStream calls
    read_size: int = 64 * 1024
    # Read ahead of processing: the socket is drained into memory up to this much, so when an encoder closes
    # (often with a reset, if our acknowledgements sit unread) the media already received is not lost with the
    # kernel's receive queue. Past it, back-pressure reaches the encoder through TCP as before.
    read_ahead_bytes: int = 8 * 1024 * 1024
    # Acknowledgements are due every this many bytes. Encoders do not wait for them, but one left unread when
    # an encoder closes turns its close into a reset, and the kernel then drops whatever the encoder had not
    # yet sent: with a 2.5 MB window, a transcoder running behind lost the last seconds of every stream
    # (docs/benchmarks.md, pipeline_overhead). A window near 2 GiB keeps the protocol and avoids that.
    window_ack_size: int = 2**31 - 1
    peer_bandwidth: int = 2_500_000
    chunk_size: int = 4096  # what we send with
    write_timeout: float = 10.0
    disconnect_grace: float = 5.0  # how long disconnect() waits for a busy session callback before cancelling


class _Close(Exception):
    """End the connection (already logged where it was decided)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ProtocolError(Exception):
    """The peer sent something RTMP does not allow here."""


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer)


def app_name(command_object: dict[str, Any]) -> str:
    """The application a connect asks for: its ``app``, else the path of its ``tcUrl``, without query or slashes."""
    app = command_object.get("app")
    name = app if isinstance(app, str) else ""
    if not name.strip("/"):
        tc_url = command_object.get("tcUrl")
        if isinstance(tc_url, str):
            with contextlib.suppress(ValueError):
                name = urlsplit(tc_url).path
    return name.split("?", 1)[0].strip("/")


class RTMPConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        handler: PublishHandler,
        apps: Collection[str],
        live: dict[tuple[str, str], RTMPConnection],
        key_id: Callable[[str], str],
        handshake_timeout: float,
        idle_timeout: float,
        limits: RTMPLimits,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._apps = apps
        self._live = live
        self._key_id = key_id
        self._handshake_timeout = handshake_timeout
        self._idle_timeout = idle_timeout
        self._limits = limits
        self.client = _peer(writer)
        self.stats = IngestStats()
        self._decoder = ChunkDecoder(
            max_message_size=limits.pre_publish_max_message_size,
            max_chunk_size=limits.pre_publish_max_chunk_size,
            max_chunk_streams=limits.max_chunk_streams,
            max_pending_bytes=limits.pre_publish_max_pending_bytes,
        )
        self._read_ahead_bytes = limits.pre_publish_read_ahead_bytes
        self._encoder = ChunkEncoder()
        self._task: asyncio.Task[Any] | None = None
        self._started = time.monotonic()
        self._publish_deadline = self._started + limits.publish_timeout
        self._app: str | None = None
        self._streams: set[int] = set()
        self._next_stream_id = 1
        self._publishing: tuple[str, str] | None = None  # (app, key) held in the server's live registry
        self._session: PublishSession | None = None
        self._kick_reason: str | None = None
        self.bytes_in = 0
        self._last_ack = 0
        self._ack_window = limits.window_ack_size
        self._queued_bytes = 0
        self._queue_space = asyncio.Event()

    @property
    def publishing(self) -> bool:
        return self._session is not None

    # --- life cycle --------------------------------------------------------------------------------------

    async def run(self) -> None:
        self._task = asyncio.current_task()
        reason = "closed"
        try:
            reason = await self._run()
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        finally:
            await self._finish(reason)

    async def disconnect(self, reason: str) -> None:
        """Kick this connection (PublisherControl.disconnect, server stop)."""
        task = self._task
        if task is None or task.done():
            return
        if self._kick_reason is None:
            self._kick_reason = reason
            log.info("rtmp_disconnect", client=self.client, reason=reason)
        self._writer.transport.abort()
        if asyncio.current_task() is task:
            return  # from inside a session callback: the loop notices once the callback returns
        done, _ = await asyncio.wait({task}, timeout=self._limits.disconnect_grace)
        if not done:
            log.warning("rtmp_disconnect_cancelling", client=self.client, reason=reason)
            task.cancel()
            await asyncio.wait({task})

    async def _run(self) -> str:
        try:
            async with asyncio.timeout(self._handshake_timeout):
                result = await server_handshake(self._reader, self._writer)
        except TimeoutError:
            log.warning("rtmp_handshake_timeout", client=self.client, timeout_s=self._handshake_timeout)
            return "handshake timeout"
        except NothingSent:
            log.info("rtmp_connection_dropped", client=self.client)  # port scans, TCP health checks
            return "closed before the handshake"
        except HandshakeError as exc:
            log.warning("rtmp_handshake_failed", client=self.client, error=str(exc))
            return f"handshake failed: {exc}"
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            log.warning("rtmp_handshake_failed", client=self.client, error=f"connection lost ({type(exc).__name__})")
            return "handshake incomplete"
        self.bytes_in = result.bytes_read
        try:
            await self._serve()
        except _Close as exc:
            return exc.reason
        except (ChunkError, amf0.AMF0Error, _ProtocolError) as exc:
            log.warning("rtmp_protocol_error", client=self.client, error=str(exc), kind=type(exc).__name__)
            return f"protocol error: {exc}"
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            return f"connection lost ({type(exc).__name__})"
        except Exception as exc:
            log.exception("rtmp_internal_error", client=self.client)
            return f"internal error: {type(exc).__name__}"
        return "closed"

    async def _finish(self, reason: str) -> None:
        reason = self._kick_reason or reason
        await self._end_publish(reason)
        self._release_key()
        transport = self._writer.transport
        if not transport.is_closing():
            self._writer.close()
            try:
                async with asyncio.timeout(1.0):
                    await self._writer.wait_closed()
            except (TimeoutError, OSError):
                transport.abort()
        else:
            transport.abort()
        log.info(
            "rtmp_connection_closed",
            client=self.client,
            reason=reason,
            bytes_in=self.bytes_in,
            seconds=round(time.monotonic() - self._started, 3),
        )

    def _release_key(self) -> None:
        if self._publishing is not None:
            if self._live.get(self._publishing) is self:
                del self._live[self._publishing]
            self._publishing = None

    async def _end_publish(self, reason: str) -> None:
        """Exactly once per publish: release the key, tell the session."""
        session, self._session = self._session, None
        if session is None:
            self._release_key()
            return
        key = self._publishing[1] if self._publishing is not None else ""
        self._release_key()
        log.info("rtmp_publish_ended", client=self.client, key_id=self._key_id(key), reason=reason, **self._summary())
        try:
            await session.on_close(reason)
        except Exception:
            log.exception("rtmp_session_close_failed", client=self.client)

    def _summary(self) -> dict[str, Any]:
        stats = self.stats
        return {"tags": stats.tags, "bytes": stats.bytes_total, "video_frames": stats.video_frames}

    # --- reading -----------------------------------------------------------------------------------------

    async def _read_ahead(self, queue: asyncio.Queue[tuple[bytes, float, float] | BaseException]) -> None:
        """Move bytes from the socket into ``queue`` as they arrive, stamped with their arrival time."""
        try:
            while True:
                while self._queued_bytes >= self._read_ahead_bytes:
                    self._queue_space.clear()
                    await self._queue_space.wait()
                data = await self._reader.read(self._limits.read_size)
                self._queued_bytes += len(data)
                queue.put_nowait((data, time.time(), time.monotonic()))
                if not data:
                    return
        except (ConnectionError, OSError) as exc:
            # What was read before the reset is still in the queue and gets processed first.
            queue.put_nowait(exc)

    async def _serve(self) -> None:
        # Bounded by bytes, not items: reads come in all sizes.
        queue: asyncio.Queue[tuple[bytes, float, float] | BaseException] = asyncio.Queue()
        reader = asyncio.create_task(self._read_ahead(queue))
        try:
            await self._process(queue)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _process(self, queue: asyncio.Queue[tuple[bytes, float, float] | BaseException]) -> None:
        while True:
            timeout = self._idle_timeout
            waiting_for_publish = self._session is None
            if waiting_for_publish:
                timeout = min(timeout, self._publish_deadline - time.monotonic())
            try:
                if timeout <= 0:
                    raise TimeoutError
                async with asyncio.timeout(timeout):
                    item = await queue.get()
            except TimeoutError:
                if waiting_for_publish and time.monotonic() >= self._publish_deadline:
                    log.warning("rtmp_publish_timeout", client=self.client, timeout_s=self._limits.publish_timeout)
                    raise _Close("no publish in time") from None
                log.warning("rtmp_idle_timeout", client=self.client, timeout_s=self._idle_timeout)
                raise _Close("idle timeout") from None
            if self._kick_reason is not None:
                raise _Close(self._kick_reason)
            if isinstance(item, BaseException):
                raise item
            data, wall, now = item
            self._queued_bytes -= len(data)
            self._queue_space.set()
            if not data:
                raise _Close("connection closed by the client")
            self.bytes_in += len(data)
            if self.bytes_in - self._last_ack >= self._ack_window:
                self._last_ack = self.bytes_in
                await self._send(CONTROL_CHUNK_STREAM, ACKNOWLEDGEMENT, 0, _U32.pack(self.bytes_in & 0xFFFFFFFF))
            # One message at a time: a publish accepted by one message lifts the limits for the next.
            self._decoder.receive(data)
            while (message := self._decoder.next_message()) is not None:
                await self._dispatch(message, wall, now)
                if self._kick_reason is not None:
                    raise _Close(self._kick_reason)

    async def _dispatch(self, message: Message, wall: float, now: float) -> None:
        kind = message.type_id
        payload = message.payload
        if kind in (AUDIO, VIDEO):
            await self._media(kind, message.timestamp, payload, wall, now)
        elif kind == DATA_AMF0:
            await self._data(message.timestamp, payload, wall, now)
        elif kind == DATA_AMF3:
            await self._data(message.timestamp, payload[1:] if payload[:1] == b"\x00" else payload, wall, now)
        elif kind == COMMAND_AMF0:
            await self._command(message, payload)
        elif kind == COMMAND_AMF3:
            await self._command(message, payload[1:])  # a format byte (0), then AMF0 values
        elif kind == USER_CONTROL:
            await self._user_control(payload)
        elif kind == WINDOW_ACK_SIZE:
            if len(payload) >= 4 and (size := _U32.unpack_from(payload)[0]) > 0:
                self._ack_window = size
        elif kind == AGGREGATE:
            await self._aggregate(message, wall, now)
        # Set Chunk Size and Abort acted inside the decoder; acknowledgements, peer bandwidth and shared objects
        # need nothing from an ingest server.

    async def _user_control(self, payload: bytes) -> None:
        if len(payload) >= 6 and _U16.unpack_from(payload)[0] == PING_REQUEST:
            await self._send(CONTROL_CHUNK_STREAM, USER_CONTROL, 0, _U16.pack(PING_RESPONSE) + payload[2:6])

    # --- media -------------------------------------------------------------------------------------------

    async def _media(self, kind: int, timestamp: int, payload: bytes, wall: float, now: float) -> None:
        session = self._session
        if session is None:
            return  # media before publish (or after unpublish) has nowhere to go
        self.stats.record(kind, timestamp, payload, wall_time=wall, now=now)
        await self._call(session.on_tag(kind, timestamp, payload))

    async def _data(self, timestamp: int, payload: bytes, wall: float, now: float) -> None:
        session = self._session
        if session is None or not payload:
            return
        body = payload
        if payload[0] == 0x02:  # starts with a string: the handler name
            try:
                name, offset = amf0.decode(payload)
            except amf0.AMF0Error:
                name, offset = None, 0
            if name == "@setDataFrame":
                body = payload[offset:]
            elif name == "@clearDataFrame":
                return
        try:
            values = amf0.decode_all(body)
        except amf0.AMF0Error as exc:
            log.info("rtmp_bad_data_message", client=self.client, error=str(exc))
            return
        if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
            metadata = dict(values[1])
            self.stats.record_metadata(metadata)
            await self._call(session.on_metadata(metadata))
            if self._session is not session:
                return
        self.stats.record(DATA_AMF0, timestamp, body, wall_time=wall, now=now)
        await self._call(session.on_tag(DATA_AMF0, timestamp, body))

    async def _aggregate(self, message: Message, wall: float, now: float) -> None:
        """An aggregate message: FLV tags back to back, timestamps relative to the first (spec §7.1.6)."""
        data = message.payload
        pos = 0
        base: int | None = None
        while pos < len(data):
            if pos + 11 > len(data):
                raise _ProtocolError("truncated aggregate message")
            kind = data[pos]
            size = int.from_bytes(data[pos + 1 : pos + 4], "big")
            timestamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
            end = pos + 11 + size
            if end + 4 > len(data):
                raise _ProtocolError("truncated aggregate message")
            if base is None:
                base = timestamp
            sub_timestamp = (message.timestamp + timestamp - base) & 0xFFFFFFFF
            body = data[pos + 11 : end]
            if kind in (AUDIO, VIDEO):
                await self._media(kind, sub_timestamp, body, wall, now)
            elif kind == DATA_AMF0:
                await self._data(sub_timestamp, body, wall, now)
            if self._kick_reason is not None:
                return
            pos = end + 4

    async def _call(self, callback: Any) -> None:
        """Await a session callback; an exception in the application ends this connection."""
        try:
            await callback
        except Exception as exc:
            log.exception("rtmp_session_failed", client=self.client, error=type(exc).__name__)
            raise _Close(f"session error: {type(exc).__name__}") from exc

    # --- commands ----------------------------------------------------------------------------------------

    async def _command(self, message: Message, payload: bytes) -> None:
        values = amf0.decode_all(payload)
        if not values or not isinstance(values[0], str):
            raise _ProtocolError("command message without a command name")
        name: str = values[0]
        raw_txid = values[1] if len(values) > 1 else 0.0
        txid = float(raw_txid) if isinstance(raw_txid, float) else 0.0
        command_object = values[2] if len(values) > 2 else None
        args = values[3:]
        if name == "connect":
            await self._connect(txid, command_object)
            return
        if self._app is None:
            raise _ProtocolError(f"command {name[:40]!r} before connect")
        if name == "createStream":
            await self._create_stream(txid)
        elif name == "publish":
            await self._publish(message.stream_id, args)
        elif name == "releaseStream":
            if txid:
                await self._send_command(COMMAND_CHUNK_STREAM, 0, "_result", txid, None, amf0.UNDEFINED)
        elif name == "FCPublish":
            info = {"code": "NetStream.Publish.Start", "description": "FCPublish"}
            await self._send_command(COMMAND_CHUNK_STREAM, 0, "onFCPublish", 0.0, None, info)
        elif name == "FCUnpublish":
            await self._end_publish("unpublished")
            self._publish_deadline = time.monotonic() + self._limits.publish_timeout
            info = {"code": "NetStream.Unpublish.Success", "description": "FCUnpublish"}
            await self._send_command(COMMAND_CHUNK_STREAM, 0, "onFCUnpublish", 0.0, None, info)
        elif name in ("deleteStream", "closeStream"):
            await self._end_publish("unpublished")
            self._publish_deadline = time.monotonic() + self._limits.publish_timeout
            if name == "deleteStream" and args and isinstance(args[0], float):
                self._streams.discard(int(args[0]))
        elif name in ("play", "play2"):
            log.warning("rtmp_play_refused", client=self.client)
            await self._status(message.stream_id, "error", "NetStream.Play.Failed", "this server only ingests")
            raise _Close("play refused")
        else:
            log.debug("rtmp_command_ignored", client=self.client, command=name[:40])

    async def _connect(self, txid: float, command_object: Any) -> None:
        if self._app is not None:
            raise _ProtocolError("second connect on one connection")
        if not isinstance(command_object, dict):
            raise _ProtocolError("connect without a command object")
        app = app_name(command_object)
        if app not in self._apps:
            # The unknown name may be a stream key pasted into the wrong field: only its keyed hash is logged.
            log.warning(
                "rtmp_connect_rejected", client=self.client, reason="unknown application", app_id=self._key_id(app)
            )
            info = {
                "level": "error",
                "code": "NetConnection.Connect.Rejected",
                "description": "unknown application",
            }
            await self._send_command(COMMAND_CHUNK_STREAM, 0, "_error", txid, None, info)
            raise _Close("unknown application")
        self._app = app
        limits = self._limits
        await self._send(CONTROL_CHUNK_STREAM, WINDOW_ACK_SIZE, 0, _U32.pack(limits.window_ack_size), flush=False)
        await self._send(
            CONTROL_CHUNK_STREAM, SET_PEER_BANDWIDTH, 0, _U32.pack(limits.peer_bandwidth) + b"\x02", flush=False
        )
        await self._send(CONTROL_CHUNK_STREAM, SET_CHUNK_SIZE, 0, _U32.pack(limits.chunk_size), flush=False)
        self._encoder.chunk_size = limits.chunk_size
        properties = {"fmsVer": "FMS/3,5,7,7009", "capabilities": 31.0, "mode": 1.0}
        success = {
            "level": "status",
            "code": "NetConnection.Connect.Success",
            "description": "Connection succeeded.",
            "objectEncoding": 0.0,
        }
        await self._send_command(COMMAND_CHUNK_STREAM, 0, "_result", txid, properties, success)

    async def _create_stream(self, txid: float) -> None:
        if len(self._streams) >= self._limits.max_streams:
            raise _ProtocolError(f"more than {self._limits.max_streams} streams on one connection")
        stream_id = self._next_stream_id
        self._next_stream_id += 1
        self._streams.add(stream_id)
        await self._send_command(COMMAND_CHUNK_STREAM, 0, "_result", txid, None, float(stream_id))

    async def _publish(self, stream_id: int, args: list[Any]) -> None:
        if self._publishing is not None:
            raise _ProtocolError("publish while already publishing on this connection")
        app = self._app
        assert app is not None
        name = args[0] if args and isinstance(args[0], str) else ""
        key = name.split("?", 1)[0].strip()
        key_id = self._key_id(key)
        if not key:
            log.warning("rtmp_publish_rejected", client=self.client, app=app, reason="no stream key")
            await self._status(stream_id, "error", "NetStream.Publish.BadName", "no stream key")
            raise _Close("publish rejected: no stream key")
        if (app, key) in self._live:
            log.warning(
                "rtmp_publish_rejected", client=self.client, app=app, key_id=key_id, reason="already publishing"
            )
            await self._status(stream_id, "error", "NetStream.Publish.BadName", "already publishing")
            raise _Close("publish rejected: already publishing")
        # Held before authorize() awaits anything, so two publishers racing for one key cannot both get in.
        self._publishing = (app, key)
        self._live[self._publishing] = self
        control = PublisherControl(self.disconnect, self.stats, client=self.client, app=app)
        try:
            session = await self._handler.authorize(app, key, self.client, control)
        except PublishRejected as exc:
            self._release_key()
            log.warning(
                "rtmp_publish_rejected",
                client=self.client,
                app=app,
                key_id=key_id,
                reason=exc.description,
                code=exc.code,
            )
            await self._status(stream_id, "error", exc.code, exc.description)
            raise _Close(f"publish rejected: {exc.description}") from None
        except Exception as exc:
            self._release_key()
            log.exception("rtmp_authorize_failed", client=self.client, app=app, key_id=key_id)
            await self._status(stream_id, "error", "NetStream.Publish.BadName", "internal error")
            raise _Close("publish rejected: internal error") from exc
        self._session = session
        self._lift_limits()
        log.info("rtmp_publish_started", client=self.client, app=app, key_id=key_id, stream_id=stream_id)
        if self._kick_reason is not None:
            raise _Close(self._kick_reason)
        await self._send(CONTROL_CHUNK_STREAM, USER_CONTROL, 0, _U16.pack(STREAM_BEGIN) + _U32.pack(stream_id))
        await self._status(stream_id, "status", "NetStream.Publish.Start", "Publishing live.")

    def _lift_limits(self) -> None:
        """The key is checked: from the next chunk on, the limits an encoder needs (kept after an unpublish)."""
        limits = self._limits
        self._decoder.set_limits(
            max_message_size=limits.max_message_size,
            max_chunk_size=limits.max_chunk_size,
            max_pending_bytes=limits.max_pending_bytes,
        )
        self._read_ahead_bytes = limits.read_ahead_bytes
        self._queue_space.set()

    # --- writing -----------------------------------------------------------------------------------------

    async def _status(self, stream_id: int, level: str, code: str, description: str) -> None:
        info = {"level": level, "code": code, "description": description}
        await self._send_command(STATUS_CHUNK_STREAM, stream_id, "onStatus", 0.0, None, info)

    async def _send_command(self, chunk_stream: int, stream_id: int, name: str, txid: float, *values: Any) -> None:
        await self._send(chunk_stream, COMMAND_AMF0, stream_id, amf0.encode_all(name, txid, *values))

    async def _send(
        self, chunk_stream: int, type_id: int, stream_id: int, payload: bytes, *, flush: bool = True
    ) -> None:
        if self._writer.transport.is_closing():
            return
        self._writer.write(self._encoder.encode(chunk_stream, type_id, stream_id, 0, payload))
        if flush:
            try:
                async with asyncio.timeout(self._limits.write_timeout):
                    await self._writer.drain()
            except TimeoutError:
                log.warning("rtmp_write_timeout", client=self.client, timeout_s=self._limits.write_timeout)
                raise _Close("write timeout") from None
