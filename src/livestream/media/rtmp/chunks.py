"""RTMP chunk stream: splitting messages into chunks and putting them back together (RTMP spec §5.3).

``ChunkDecoder`` is sans-IO: feed it bytes as they arrive, it returns the messages they complete (or take them one
at a time with ``receive`` and ``next_message``, so that limits changed after a message, such as at a publish,
apply to the very next chunk). It handles all four chunk header types (fmt 0–3), one-, two- and three-byte basic
headers, extended timestamps (also on fmt-3 chunks, whether or not the peer repeats them there), Set Chunk Size
and Abort, and enforces per-connection limits (message size, chunk size, number of chunk streams, bytes held in
partly received messages). Any violation raises ``ChunkError``; the connection is then closed, so the decoder does
not try to recover.

``ChunkEncoder`` writes messages with a fmt-0 header and fmt-3 continuation chunks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "ChunkDecoder",
    "ChunkEncoder",
    "ChunkError",
    "Message",
]

DEFAULT_CHUNK_SIZE: Final = 128
# A message length is 24 bits, so a chunk larger than that can never be filled.
MAX_CHUNK_SIZE: Final = 0xFFFFFF
TIMESTAMP_MASK: Final = 0xFFFFFFFF
EXTENDED: Final = 0xFFFFFF

SET_CHUNK_SIZE: Final = 1
ABORT: Final = 2

_HEADER_SIZE: Final = (11, 7, 3, 0)
_U32 = struct.Struct(">I")


class ChunkError(Exception):
    """The peer broke the chunk stream protocol or a limit; the connection must be closed."""


@dataclass(frozen=True, slots=True)
class Message:
    """One reassembled RTMP message."""

    chunk_stream_id: int
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


class _ChunkStream:
    __slots__ = ("buffer", "delta", "extended", "extended_value", "length", "stream_id", "timestamp", "type_id")

    def __init__(self) -> None:
        self.timestamp = 0
        self.delta = 0
        self.length = 0
        self.type_id = 0
        self.stream_id = 0
        self.extended = False
        self.extended_value = 0
        self.buffer: bytearray | None = None


class ChunkDecoder:
    def __init__(
        self,
        *,
        max_message_size: int = 8 * 1024 * 1024,
        max_chunk_size: int = MAX_CHUNK_SIZE,
        max_chunk_streams: int = 64,
        max_pending_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.max_message_size = max_message_size
        self.max_chunk_size = min(max_chunk_size, MAX_CHUNK_SIZE)
        self.max_chunk_streams = max_chunk_streams
        self.max_pending_bytes = max_pending_bytes
        self.chunk_size = DEFAULT_CHUNK_SIZE
        self._streams: dict[int, _ChunkStream] = {}
        self._buffer = bytearray()
        self._pending = 0

    @property
    def buffered(self) -> int:
        """Bytes held: unparsed input plus partly received messages."""
        return len(self._buffer) + sum(len(s.buffer) for s in self._streams.values() if s.buffer is not None)

    @property
    def chunk_streams(self) -> int:
        return len(self._streams)

    def set_limits(self, *, max_message_size: int, max_chunk_size: int, max_pending_bytes: int) -> None:
        """Change the limits; they apply from the next chunk header (a message under way keeps its length)."""
        self.max_message_size = max_message_size
        self.max_chunk_size = min(max_chunk_size, MAX_CHUNK_SIZE)
        self.max_pending_bytes = max_pending_bytes

    def feed(self, data: bytes) -> list[Message]:
        """Take the next bytes of the connection; return the messages they complete, in order."""
        self.receive(data)
        messages: list[Message] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    def receive(self, data: bytes) -> None:
        """Take the next bytes of the connection without parsing them: ``next_message`` does.

        Whole chunks are parsed as soon as they are here, so what waits unparsed between two calls of
        ``next_message`` is at most one partial chunk (never more than the message it belongs to) plus ``data``.
        """
        self._buffer += data

    def next_message(self) -> Message | None:
        """Parse chunks until one completes a message and return it; None once the bytes received complete none."""
        buf = self._buffer
        pos = 0
        message: Message | None = None
        try:
            while message is None:
                consumed, message = self._chunk(buf, pos)
                if consumed == 0:
                    break
                pos += consumed
        finally:
            del buf[:pos]  # cheap: a bytearray drops its head without copying the rest
        return message

    def _chunk(self, buf: bytearray, pos: int) -> tuple[int, Message | None]:
        """Parse one whole chunk at ``pos``: its size (0 when the buffer does not hold all of it yet) and the message
        it completes, if any."""
        available = len(buf) - pos
        if available < 1:
            return 0, None
        first = buf[pos]
        fmt = first >> 6
        csid = first & 0x3F
        header = 1
        if csid == 0:
            if available < 2:
                return 0, None
            csid = 64 + buf[pos + 1]
            header = 2
        elif csid == 1:
            if available < 3:
                return 0, None
            csid = 64 + buf[pos + 1] + (buf[pos + 2] << 8)
            header = 3

        stream = self._streams.get(csid)
        if stream is None:
            if fmt >= 2:
                raise ChunkError(f"chunk stream {csid} opens with a type-{fmt} header")
            if len(self._streams) >= self.max_chunk_streams:
                raise ChunkError(f"more than {self.max_chunk_streams} chunk streams")
        in_progress = stream is not None and stream.buffer is not None
        if in_progress and fmt != 3:
            raise ChunkError(f"type-{fmt} header on chunk stream {csid} in the middle of a message")

        size = _HEADER_SIZE[fmt]
        if available < header + size:
            return 0, None
        at = pos + header
        field = 0
        length = stream.length if stream is not None else 0
        type_id = stream.type_id if stream is not None else 0
        stream_id = stream.stream_id if stream is not None else 0
        if fmt <= 2:
            field = (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2]
        if fmt <= 1:
            length = (buf[at + 3] << 16) | (buf[at + 4] << 8) | buf[at + 5]
            type_id = buf[at + 6]
        if fmt == 0:
            stream_id = int.from_bytes(buf[at + 7 : at + 11], "little")
        header += size

        extended = False
        extended_value = 0
        if fmt <= 2 and field == EXTENDED:
            if available < header + 4:
                return 0, None
            extended = True
            extended_value = _U32.unpack_from(buf, pos + header)[0]
            header += 4
        elif fmt == 3 and stream is not None and stream.extended:
            if available < header + 4:
                return 0, None
            value = _U32.unpack_from(buf, pos + header)[0]
            if not in_progress:
                # A fmt-3 chunk starting a message carries the extended field, the delta in force (ffmpeg
                # writes the new delta there when it is as large as the last one).
                extended, extended_value = True, value
                header += 4
            elif value == stream.extended_value:
                # Continuation chunks: the spec, ffmpeg and librtmp repeat the field, some encoders do not.
                # Take the four bytes only when they repeat the value in force (as SRS does).
                header += 4

        if not in_progress and length > self.max_message_size:
            raise ChunkError(f"message of {length} bytes (at most {self.max_message_size})")
        received = len(stream.buffer) if stream is not None and stream.buffer is not None else 0
        take = min(self.chunk_size, length - received)
        if available < header + take:
            return 0, None

        # The whole chunk is here: commit the header to the chunk stream's state.
        if stream is None:
            stream = self._streams[csid] = _ChunkStream()
        if fmt <= 2:
            delta = extended_value if extended else field
            stream.extended = extended
            stream.extended_value = extended_value
            stream.delta = delta
            if fmt == 0:
                stream.timestamp = delta
                stream.stream_id = stream_id
            else:
                stream.timestamp = (stream.timestamp + delta) & TIMESTAMP_MASK
            stream.length = length
            stream.type_id = type_id
        elif not in_progress:
            # A fmt-3 chunk starting a new message: same length, type and stream, timestamp advanced by the last
            # delta (after a fmt-0 header, the delta is that header's timestamp, per spec §5.3.1.2.4).
            if extended:
                stream.delta = stream.extended_value = extended_value
            stream.timestamp = (stream.timestamp + stream.delta) & TIMESTAMP_MASK

        if stream.buffer is None:
            if self._pending + stream.length > self.max_pending_bytes:
                raise ChunkError(f"more than {self.max_pending_bytes} bytes held in partly received messages")
            self._pending += stream.length
            stream.buffer = bytearray()
        start = pos + header
        stream.buffer += buf[start : start + take]
        if len(stream.buffer) >= stream.length:
            payload = bytes(stream.buffer)
            stream.buffer = None
            self._pending -= stream.length
            message = Message(csid, stream.type_id, stream.stream_id, stream.timestamp, payload)
            self._control(message)
            return header + take, message
        return header + take, None

    def _control(self, message: Message) -> None:
        """Set Chunk Size and Abort change how the following bytes parse, so they act here at once."""
        if message.type_id == SET_CHUNK_SIZE:
            if len(message.payload) < 4:
                raise ChunkError("Set Chunk Size shorter than 4 bytes")
            value = _U32.unpack_from(message.payload)[0]
            if value & 0x80000000:
                raise ChunkError("Set Chunk Size with the reserved top bit set")
            if not 1 <= value <= self.max_chunk_size:
                raise ChunkError(f"Set Chunk Size {value} outside 1..{self.max_chunk_size}")
            self.chunk_size = value
        elif message.type_id == ABORT:
            if len(message.payload) < 4:
                raise ChunkError("Abort shorter than 4 bytes")
            aborted = self._streams.get(_U32.unpack_from(message.payload)[0])
            if aborted is not None and aborted.buffer is not None:
                self._pending -= aborted.length
                aborted.buffer = None


def _basic_header(fmt: int, csid: int) -> bytes:
    if 2 <= csid <= 63:
        return bytes([(fmt << 6) | csid])
    if 64 <= csid <= 319:
        return bytes([fmt << 6, csid - 64])
    if 320 <= csid <= 65599:
        rest = csid - 64
        return bytes([(fmt << 6) | 1, rest & 0xFF, rest >> 8])
    raise ValueError(f"chunk stream id {csid} outside 2..65599")


class ChunkEncoder:
    """Messages to chunks: a fmt-0 chunk, then fmt-3 chunks of at most ``chunk_size`` bytes each."""

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size

    def encode(self, chunk_stream_id: int, type_id: int, stream_id: int, timestamp: int, payload: bytes) -> bytes:
        if len(payload) > 0xFFFFFF:
            raise ValueError(f"RTMP message of {len(payload)} bytes (at most 16 MiB)")
        timestamp &= TIMESTAMP_MASK
        extended = timestamp >= EXTENDED
        out = bytearray(_basic_header(0, chunk_stream_id))
        out += min(timestamp, EXTENDED).to_bytes(3, "big")
        out += len(payload).to_bytes(3, "big")
        out.append(type_id)
        out += stream_id.to_bytes(4, "little")
        extended_bytes = _U32.pack(timestamp) if extended else b""
        out += extended_bytes
        continuation = _basic_header(3, chunk_stream_id) + extended_bytes
        size = self.chunk_size
        out += payload[:size]
        for offset in range(size, len(payload), size):
            out += continuation
            out += payload[offset : offset + size]
        return bytes(out)
