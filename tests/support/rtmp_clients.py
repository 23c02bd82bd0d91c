"""RTMP clients for the ingest server's tests: real encoders (ffmpeg, librtmp) and a raw client for bad input.

The raw client writes its own bytes (its own little AMF0 writer and chunker, not the server's code) so the tests
can send exactly what a broken or hostile client would; it reads the server's replies with the project's
decoder, whose output ffmpeg and librtmp check for real in the other tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import subprocess
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio_ffmpeg

from livestream.media.rtmp import amf0
from livestream.media.rtmp.chunks import ChunkDecoder, Message
from livestream.media.rtmp.flv import read_flv
from livestream.media.rtmp.server import PublisherControl, PublishRejected
from livestream.media.rtmp.stats import IngestStats

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SYSTEM_PYTHON = "/usr/bin/python3"
LIBRTMP_PUBLISH = Path(__file__).with_name("librtmp_publish.py")


# --- a recording application ---------------------------------------------------------------------------------


@dataclass
class RecordingSession:
    app: str
    stream_key: str
    client: str
    control: PublisherControl
    metadata: list[dict[str, Any]] = field(default_factory=list)
    tags: list[tuple[int, int, bytes]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    first_tag: asyncio.Event = field(default_factory=asyncio.Event)
    tag_added: asyncio.Event = field(default_factory=asyncio.Event)
    final_stats: dict[str, Any] | None = None
    gate: asyncio.Event | None = None  # when set up, on_tag waits for it: a consumer as slow as the test likes

    @property
    def stats(self) -> IngestStats:
        return self.control.stats

    async def on_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata.append(metadata)

    async def on_tag(self, tag_type: int, timestamp_ms: int, payload: bytes) -> None:
        arrival = self.control.stats.last_arrival
        assert arrival is not None
        assert arrival.timestamp_ms == timestamp_ms
        self.arrivals.append(arrival.wall_time)
        self.tags.append((tag_type, timestamp_ms, payload))
        self.first_tag.set()
        self.tag_added.set()
        if self.gate is not None:
            await self.gate.wait()

    async def on_close(self, reason: str) -> None:
        self.closes.append(reason)
        self.final_stats = self.control.stats.snapshot()
        self.closed.set()

    async def wait_for_tags(self, count: int, seconds: float = 10.0) -> None:
        async with asyncio.timeout(seconds):
            while len(self.tags) < count:
                self.tag_added.clear()
                await self.tag_added.wait()

    async def wait_closed(self, seconds: float = 5.0) -> list[str]:
        async with asyncio.timeout(seconds):
            await self.closed.wait()
        return self.closes

    def of_type(self, tag_type: int) -> list[tuple[int, int, bytes]]:
        return [tag for tag in self.tags if tag[0] == tag_type]


@dataclass
class RecordingHandler:
    """Accepts the keys in ``keys`` (all keys when None), records every session."""

    keys: set[str] | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    sessions: list[RecordingSession] = field(default_factory=list)
    slow: bool = False
    new_session: asyncio.Event = field(default_factory=asyncio.Event)

    async def authorize(self, app: str, stream_key: str, client: str, control: PublisherControl) -> RecordingSession:
        self.calls.append((app, stream_key, client))
        if self.keys is not None and stream_key not in self.keys:
            raise PublishRejected(description="unknown or rotated stream key")
        session = RecordingSession(app, stream_key, client, control)
        if self.slow:
            session.gate = asyncio.Event()
        self.sessions.append(session)
        self.new_session.set()
        return session

    async def next_session(self, seconds: float = 10.0) -> RecordingSession:
        count = len(self.sessions)
        async with asyncio.timeout(seconds):
            while len(self.sessions) == count:
                self.new_session.clear()
                await self.new_session.wait()
        return self.sessions[count]


# --- processes -----------------------------------------------------------------------------------------------


@dataclass
class Process:
    """A child process started with an argument list; ``stop`` kills it by its own handle if still running."""

    process: asyncio.subprocess.Process
    stderr: bytes = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait(self, seconds: float) -> int:
        async with asyncio.timeout(seconds):
            _, err = await self.process.communicate()
        self.stderr = err or b""
        assert self.process.returncode is not None
        return self.process.returncode

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        _, err = await self.process.communicate()
        self.stderr = err or b""


async def spawn(args: Sequence[str]) -> Process:
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return Process(process)


@contextlib.asynccontextmanager
async def running(args: Sequence[str]) -> AsyncIterator[Process]:
    process = await spawn(args)
    try:
        yield process
    finally:
        await process.stop()


def rtmp_url(port: int, key: str, app: str = "live") -> str:
    return f"rtmp://127.0.0.1:{port}/{app}/{key}"


def ffmpeg_synthetic(url: str, *, seconds: float = 4, size: str = "1280x720", rate: int = 30) -> list[str]:
    """ffmpeg encoding a test pattern and a tone in real time, as an encoder does."""
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-g",
        str(rate),
        "-c:a",
        "aac",
        "-t",
        str(seconds),
        "-f",
        "flv",
        url,
    ]


def ffmpeg_relay(
    source: Path, url: str, *, realtime: bool = False, loop: bool = False, extra: Sequence[str] = ()
) -> list[str]:
    """ffmpeg publishing an FLV file as it is (no re-encoding: cheap on CPU)."""
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *(["-re"] if realtime else []),
        *(["-stream_loop", "-1"] if loop else []),
        "-i",
        str(source),
        "-c",
        "copy",
        *extra,
        "-f",
        "flv",
        url,
    ]


def make_flv(path: Path, *, seconds: float = 2, size: str = "640x360", rate: int = 30) -> Path:
    """A short H.264/AAC FLV file, one keyframe a second (before any server runs: a blocking call is fine)."""
    subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={rate}",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            str(rate),
            "-c:a",
            "aac",
            "-t",
            str(seconds),
            "-y",
            "-f",
            "flv",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def librtmp_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    result = subprocess.run([SYSTEM_PYTHON, "-c", "import librtmp"], capture_output=True, timeout=30, check=False)
    return result.returncode == 0


def flv_file_tags(path: Path) -> list[tuple[int, int, bytes]]:
    return [(tag.tag_type, tag.timestamp_ms, tag.payload) for tag in read_flv(path.read_bytes())]


def librtmp_publish(url: str, source: Path, *, batch: int = 16 * 1024) -> list[str]:
    return [SYSTEM_PYTHON, str(LIBRTMP_PUBLISH), url, str(source), "--batch", str(batch)]


async def decode_flv(path: Path) -> tuple[int, str, int]:
    """Decode an FLV file fully with ffmpeg: (exit status, stderr at -v error, video frames decoded)."""
    process = await asyncio.create_subprocess_exec(
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    frames = [int(line.split(b"=", 1)[1]) for line in out.splitlines() if line.startswith(b"frame=")]
    assert process.returncode is not None
    return process.returncode, err.decode(errors="replace"), frames[-1] if frames else 0


# --- the raw client --------------------------------------------------------------------------------------------


def amf_string(value: str) -> bytes:
    raw = value.encode()
    return b"\x02" + struct.pack(">H", len(raw)) + raw


def amf_number(value: float) -> bytes:
    return b"\x00" + struct.pack(">d", value)


AMF_NULL = b"\x05"


def amf_object(properties: dict[str, str | float]) -> bytes:
    out = b"\x03"
    for key, value in properties.items():
        raw = key.encode()
        out += struct.pack(">H", len(raw)) + raw
        out += amf_string(value) if isinstance(value, str) else amf_number(value)
    return out + b"\x00\x00\x09"


def chunked(csid: int, type_id: int, stream_id: int, timestamp: int, payload: bytes, chunk_size: int = 128) -> bytes:
    """A message as a fmt-0 chunk and fmt-3 continuations (one-byte basic header: csid 2..63)."""
    assert 2 <= csid <= 63
    assert timestamp < 0xFFFFFF
    out = bytes([csid]) + timestamp.to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes([type_id])
    out += stream_id.to_bytes(4, "little") + payload[:chunk_size]
    for offset in range(chunk_size, len(payload), chunk_size):
        out += bytes([0xC0 | csid]) + payload[offset : offset + chunk_size]
    return out


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = ChunkDecoder()
        self.received: list[Message] = []
        self.chunk_size = 128
        self.stream_id = 0

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @property
    def address(self) -> str:
        host, port = self.writer.get_extra_info("sockname")[:2]
        return f"{host}:{port}"

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def handshake(self) -> None:
        c1 = b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00" + os.urandom(1528)
        await self.send(b"\x03" + c1)
        s0s1s2 = await self.reader.readexactly(1 + 1536 * 2)
        assert s0s1s2[0] == 3
        assert s0s1s2[1 + 1536 :] == c1, "S2 echoes C1"
        await self.send(s0s1s2[1 : 1 + 1536])  # C2 echoes S1

    async def message(self, csid: int, type_id: int, stream_id: int, timestamp: int, payload: bytes) -> None:
        await self.send(chunked(csid, type_id, stream_id, timestamp, payload, self.chunk_size))

    async def set_chunk_size(self, size: int) -> None:
        await self.message(2, 1, 0, 0, struct.pack(">I", size))
        self.chunk_size = size

    async def command(self, name: str, txid: float, *values: bytes, stream_id: int = 0, csid: int = 3) -> None:
        await self.message(csid, 20, stream_id, 0, amf_string(name) + amf_number(txid) + b"".join(values))

    async def read_message(self, seconds: float = 5.0) -> Message:
        async with asyncio.timeout(seconds):
            while not self.received:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("server closed the connection")
                self.received.extend(self.decoder.feed(data))
        return self.received.pop(0)

    async def read_command(self, name: str, seconds: float = 5.0) -> list[Any]:
        """The next command called ``name`` the server sends (other messages are skipped)."""
        async with asyncio.timeout(seconds):
            while True:
                message = await self.read_message(seconds)
                if message.type_id == 20:
                    values = amf0.decode_all(message.payload)
                    if values[0] == name:
                        return values

    async def connect(self, app: str = "live", port: int = 1935) -> list[Any]:
        tc_url = f"rtmp://127.0.0.1:{port}/{app}"
        await self.command("connect", 1, amf_object({"app": app, "type": "nonprivate", "tcUrl": tc_url}))
        return await self.read_command("_result")

    async def publish(self, key: str, app: str = "live") -> list[Any]:
        """connect, createStream, publish: the onStatus the server answers with."""
        await self.connect(app)
        await self.command("createStream", 2, AMF_NULL)
        result = await self.read_command("_result")
        self.stream_id = int(result[3])
        await self.command(
            "publish", 3, AMF_NULL, amf_string(key), amf_string("live"), stream_id=self.stream_id, csid=8
        )
        return await self.read_command("onStatus")

    async def closed_by_server(self, seconds: float) -> bool:
        """True when the server closes the connection within ``seconds`` (whatever it sends first is drained)."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def video_tag(keyframe: bool, size: int, fill: int = 0x55) -> bytes:
    """An AVC NALU video tag body of ``size`` bytes (content irrelevant to the server)."""
    return bytes([0x17 if keyframe else 0x27, 0x01, 0, 0, 0]) + bytes([fill]) * (size - 5)
