"""The RTMP server against a raw client: bad and hostile input, timeouts, limits, control messages, back-pressure."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import struct
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from livestream.media.rtmp.server import PublisherControl, RTMPLimits, RTMPServer
from tests.support.rtmp_clients import (
    AMF_NULL,
    RawClient,
    RecordingHandler,
    RecordingSession,
    amf_number,
    amf_string,
    chunked,
    ffmpeg_relay,
    make_flv,
    rtmp_url,
    running,
    video_tag,
)

KEY = secrets.token_hex(12)
Logs = list[MutableMapping[str, Any]]
HANDSHAKE_TIMEOUT = 0.5
IDLE_TIMEOUT = 1.0
PUBLISH_TIMEOUT = 1.5


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler(keys={KEY})


@pytest.fixture
def limits() -> RTMPLimits:
    return RTMPLimits(publish_timeout=PUBLISH_TIMEOUT)


@pytest.fixture
async def server(handler: RecordingHandler, limits: RTMPLimits) -> AsyncIterator[RTMPServer]:
    rtmp = RTMPServer(
        handler,
        host="127.0.0.1",
        port=0,
        handshake_timeout=HANDSHAKE_TIMEOUT,
        idle_timeout=IDLE_TIMEOUT,
        max_connections=20,
        max_connections_per_ip=20,  # every client here is 127.0.0.1; the per-address cap has its own tests
        limits=limits,
    )
    await rtmp.start()
    try:
        yield rtmp
    finally:
        await rtmp.stop()


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
async def client(server: RTMPServer) -> AsyncIterator[RawClient]:
    raw = await RawClient.open(server.port)
    try:
        yield raw
    finally:
        await raw.close()


async def published(client: RawClient, handler: RecordingHandler, key: str = KEY) -> RecordingSession:
    await client.handshake()
    status = await client.publish(key)
    assert status[3]["code"] == "NetStream.Publish.Start"
    return handler.sessions[-1]


async def still_serving(server: RTMPServer, handler: RecordingHandler) -> None:
    """A well-behaved publisher still gets in."""
    good = await RawClient.open(server.port)
    try:
        session = await published(good, handler)
        await good.message(6, 9, good.stream_id, 40, video_tag(True, 300))
        async with asyncio.timeout(5):
            await session.first_tag.wait()
    finally:
        await good.close()
    await session.wait_closed()


def events(logs: Logs, name: str) -> Logs:
    return [event for event in logs if event["event"] == name]


# --- handshake ---------------------------------------------------------------------------------------------


async def test_silent_client_is_closed_after_the_handshake_timeout(client: RawClient, logs: Logs) -> None:
    started = time.monotonic()
    assert await client.closed_by_server(seconds=5)
    assert HANDSHAKE_TIMEOUT * 0.8 <= time.monotonic() - started < HANDSHAKE_TIMEOUT + 2
    [event] = events(logs, "rtmp_handshake_timeout")
    assert event["client"] == client.address


async def test_stalled_handshake_is_closed(client: RawClient, logs: Logs) -> None:
    await client.send(b"\x03" + os.urandom(700))  # C0 and half of C1, then nothing
    assert await client.closed_by_server(seconds=5)
    assert events(logs, "rtmp_handshake_timeout")


async def test_handshake_cut_short(server: RTMPServer, handler: RecordingHandler, logs: Logs) -> None:
    empty = await RawClient.open(server.port)  # a port scan or TCP health check
    await empty.close()
    cut = await RawClient.open(server.port)
    await cut.send(b"\x03" + os.urandom(100))
    await cut.close()
    await still_serving(server, handler)
    assert [event["client"] for event in events(logs, "rtmp_connection_dropped")] == [empty.address]
    [failure] = events(logs, "rtmp_handshake_failed")
    assert failure["client"] == cut.address
    assert failure["log_level"] == "warning"


def garbage_cases() -> dict[str, tuple[bool, bytes]]:
    """name: (handshake first?, bytes)."""
    random_bytes = bytes([0x2A]) + os.urandom(3000)
    # Chunk streams 64..79 need the two-byte basic header.
    wide = b"".join(bytes([0x00, n]) + bytes(3) + b"\x00\x00\x01\x08" + bytes(4) + b"a" for n in range(16))
    return {
        "random bytes": (False, random_bytes),
        "bad version byte": (False, b"\x09" + os.urandom(1536)),
        "RTMPE version": (False, b"\x06" + os.urandom(1536)),
        "HTTP request": (False, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(1600)),
        # A message length is 24 bits: 16 MiB - 1 is the most a header can claim, past the 8 MiB cap.
        "16 MiB message": (True, bytes([0x04]) + b"\x00\x00\x00" + b"\xff\xff\xff" + b"\x09" + bytes(4) + bytes(128)),
        "chunk size past 16 MiB": (True, chunked(2, 1, 0, 0, struct.pack(">I", 0x01000001))),
        "chunk size 2 GiB": (True, chunked(2, 1, 0, 0, struct.pack(">I", 0x7FFFFFFF))),
        "fmt-3 chunk opening a stream": (True, b"\xc5" + bytes(200)),
        "fmt-2 chunk opening a stream": (True, b"\x85\x00\x00\x10" + bytes(200)),
        "header inside a message": (True, chunked(4, 9, 1, 0, bytes(300))[:140] + chunked(4, 9, 1, 0, b"x")),
        "too many chunk streams": (True, b"".join(chunked(csid, 8, 1, 0, b"a") for csid in range(2, 64)) + wide),
        "broken AMF command": (True, chunked(3, 20, 0, 0, b"\x02\xff\xff" + b"connect")),
        "command without a name": (True, chunked(3, 20, 0, 0, amf_number(1))),
        "publish before connect": (True, chunked(3, 20, 0, 0, amf_string("publish") + amf_number(1) + AMF_NULL)),
    }


@pytest.mark.parametrize("case", list(garbage_cases()))
async def test_garbage_closes_the_connection_and_nobody_else_notices(
    server: RTMPServer, handler: RecordingHandler, client: RawClient, case: str, logs: Logs
) -> None:
    handshake, data = garbage_cases()[case]
    if handshake:
        await client.handshake()
    with contextlib.suppress(ConnectionError):  # closed while we were still writing
        await client.send(data)
    assert await client.closed_by_server(seconds=3)
    refusals = [event for event in logs if event["event"] in ("rtmp_handshake_failed", "rtmp_protocol_error")]
    assert refusals
    assert refusals[0]["client"] == client.address
    await still_serving(server, handler)


@pytest.fixture(scope="module")
def source_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_flv(tmp_path_factory.mktemp("rtmp") / "source.flv", seconds=1)


async def test_ffmpeg_publishes_after_a_barrage_of_garbage(
    server: RTMPServer, handler: RecordingHandler, source_flv: Path
) -> None:
    source = source_flv
    clients = [await RawClient.open(server.port) for _ in garbage_cases()]
    try:
        for raw, (handshake, data) in zip(clients, garbage_cases().values(), strict=True):
            if handshake:
                await raw.handshake()
            await raw.send(data)
        for raw in clients:
            assert await raw.closed_by_server(seconds=3)
    finally:
        for raw in clients:
            await raw.close()
    async with running(ffmpeg_relay(source, rtmp_url(server.port, KEY))) as encoder:
        assert await encoder.wait(seconds=30) == 0, encoder.stderr.decode()
    [session] = handler.sessions
    assert sum(1 for _, _, payload in session.of_type(9) if payload[1] == 1) == 30  # coded frames


# --- timeouts, truncation, limits ----------------------------------------------------------------------------


async def test_truncated_stream_ends_the_session(
    server: RTMPServer, handler: RecordingHandler, client: RawClient
) -> None:
    session = await published(client, handler)
    message = chunked(6, 9, client.stream_id, 0, video_tag(True, 5000))
    await client.send(message[:70])  # the header and part of the first chunk, then the connection drops
    await client.close()
    await session.wait_closed()
    assert session.closes == ["connection closed by the client"]
    assert session.tags == []
    await still_serving(server, handler)  # the key is free again too


async def test_idle_publisher_is_closed(client: RawClient, handler: RecordingHandler) -> None:
    session = await published(client, handler)
    await client.message(6, 9, client.stream_id, 0, video_tag(True, 100))
    started = time.monotonic()
    assert await client.closed_by_server(seconds=5)
    assert IDLE_TIMEOUT * 0.8 <= time.monotonic() - started < IDLE_TIMEOUT + 2
    assert session.closes == ["idle timeout"]


async def test_connection_that_never_publishes_is_closed(
    client: RawClient, handler: RecordingHandler, logs: Logs
) -> None:
    await client.handshake()
    await client.connect()
    started = time.monotonic()
    for _ in range(10):  # pings keep the idle timer quiet; the publish deadline still passes
        try:
            await client.message(2, 4, 0, 0, struct.pack(">HI", 6, 1))
        except ConnectionError:
            break
        await asyncio.sleep(0.3)
    assert await client.closed_by_server(seconds=3)
    assert time.monotonic() - started < PUBLISH_TIMEOUT + 2
    assert events(logs, "rtmp_publish_timeout")
    assert handler.calls == []


async def test_connection_limit(server: RTMPServer, logs: Logs) -> None:
    server.max_connections = 2
    first, second = await RawClient.open(server.port), await RawClient.open(server.port)
    try:
        await first.handshake()
        await second.handshake()
        third = await RawClient.open(server.port)
        try:
            assert await third.closed_by_server(seconds=2)
        finally:
            await third.close()
        assert events(logs, "rtmp_connection_refused")[0]["client"] == third.address
    finally:
        await first.close()
        await second.close()


async def test_too_many_streams_per_connection(client: RawClient) -> None:
    await client.handshake()
    await client.connect()
    for txid in range(2, 20):
        try:
            await client.command("createStream", txid, AMF_NULL)
        except ConnectionError:
            break
    assert await client.closed_by_server(seconds=3)


async def test_play_is_refused(client: RawClient) -> None:
    await client.handshake()
    await client.connect()
    await client.command("play", 0, AMF_NULL, amf_string(KEY), stream_id=1, csid=8)
    status = await client.read_command("onStatus")
    assert status[3]["code"] == "NetStream.Play.Failed"
    assert await client.closed_by_server(seconds=3)


# --- control messages ----------------------------------------------------------------------------------------


async def test_connect_exchange_and_acknowledgements(client: RawClient, handler: RecordingHandler) -> None:
    await client.handshake()
    await client.command("connect", 1, b"\x03\x00\x03app\x02\x00\x04live" + b"\x00\x00\x09")
    before: list[tuple[int, bytes]] = []
    while True:
        message = await client.read_message()
        if message.type_id == 20:
            break
        before.append((message.type_id, message.payload))
    assert before == [
        (5, struct.pack(">I", 2**31 - 1)),  # Window Acknowledgement Size (see RTMPLimits.window_ack_size)
        (6, struct.pack(">IB", 2_500_000, 2)),  # Set Peer Bandwidth, dynamic
        (1, struct.pack(">I", 4096)),  # Set Chunk Size (the _result itself came in 4096-byte chunks)
    ]
    assert client.decoder.chunk_size == 4096

    await client.command("createStream", 2, AMF_NULL)
    await client.read_command("_result")
    await client.command("publish", 3, AMF_NULL, amf_string(KEY + "?token=x"), amf_string("live"), stream_id=1)
    status = await client.read_command("onStatus")
    assert status[3] == {"level": "status", "code": "NetStream.Publish.Start", "description": "Publishing live."}
    assert handler.calls[0][1] == KEY  # the query is not part of the key

    # The client asks for an acknowledgement every 100,000 bytes.
    await client.message(2, 5, 0, 0, struct.pack(">I", 100_000))
    await client.set_chunk_size(60_000)
    for index in range(4):
        await client.message(6, 9, 1, index * 33, video_tag(index == 0, 50_000))
    acks: list[int] = []
    pings: list[bytes] = []
    await client.message(2, 4, 0, 0, struct.pack(">HI", 6, 12345))  # ping request
    while not (len(acks) >= 2 and pings):
        message = await client.read_message()
        if message.type_id == 3:
            acks.append(struct.unpack(">I", message.payload)[0])
        elif message.type_id == 4:
            pings.append(message.payload)
    assert acks[0] >= 100_000
    assert acks[1] >= acks[0] + 100_000
    assert pings == [struct.pack(">HI", 7, 12345)]
    assert len(handler.sessions[0].of_type(9)) == 4


async def test_stream_begin_precedes_publish_start(client: RawClient) -> None:
    await client.handshake()
    await client.connect()
    await client.command("createStream", 2, AMF_NULL)
    await client.read_command("_result")
    await client.command("publish", 3, AMF_NULL, amf_string(KEY), stream_id=1)
    message = await client.read_message()
    assert (message.type_id, message.payload) == (4, struct.pack(">HI", 0, 1))


async def test_aggregate_message_is_split_into_tags(client: RawClient, handler: RecordingHandler) -> None:
    session = await published(client, handler)

    def sub_tag(kind: int, timestamp: int, body: bytes) -> bytes:
        head = bytes([kind]) + len(body).to_bytes(3, "big") + timestamp.to_bytes(3, "big") + b"\x00" + bytes(3)
        return head + body + struct.pack(">I", 11 + len(body))

    aggregate = sub_tag(9, 500, video_tag(True, 50)) + sub_tag(8, 510, b"\xaf\x01xyz") + sub_tag(9, 533, b"\x27\x01")
    await client.message(6, 22, client.stream_id, 1000, aggregate)
    await session.wait_for_tags(3)
    assert [(kind, ts) for kind, ts, _ in session.tags] == [(9, 1000), (8, 1010), (9, 1033)]


async def test_data_message_without_set_data_frame(client: RawClient, handler: RecordingHandler) -> None:
    session = await published(client, handler)
    body = amf_string("onMetaData") + b"\x08\x00\x00\x00\x01\x00\x05width" + amf_number(640) + b"\x00\x00\x09"
    await client.message(4, 18, client.stream_id, 0, amf_string("@setDataFrame") + body)
    await client.message(4, 18, client.stream_id, 0, body)
    await session.wait_for_tags(2)
    assert session.metadata == [{"width": 640}, {"width": 640}]
    assert session.tags == [(18, 0, body), (18, 0, body)]


# --- back-pressure and application failures ------------------------------------------------------------------


async def test_slow_consumer_stops_the_reads(server: RTMPServer, client: RawClient, handler: RecordingHandler) -> None:
    handler.slow = True
    session = await published(client, handler)
    assert session.gate is not None
    await client.set_chunk_size(65_536)
    message = chunked(6, 9, client.stream_id, 0, video_tag(False, 256 * 1024), 65_536)
    total = 192  # 48 MiB: far more than socket buffers hold
    sent = 0
    stalled = False
    for _ in range(total):
        client.writer.write(message)
        try:
            async with asyncio.timeout(1.0):
                await client.writer.drain()
        except TimeoutError:
            stalled = True
            break
        sent += 1
    assert stalled, "the publisher was never slowed down"
    assert sent < total // 2
    assert len(session.tags) == 1  # the consumer still chews on the first tag; nothing else was taken in
    session.gate.set()
    await client.writer.drain()
    for _ in range(total - sent - 1):
        client.writer.write(message)
        await client.writer.drain()
    await session.wait_for_tags(total, seconds=20)
    assert session.stats.bytes_total == total * 256 * 1024


class FailingHandler(RecordingHandler):
    async def authorize(self, app: str, stream_key: str, client: str, control: PublisherControl) -> RecordingSession:
        session = await super().authorize(app, stream_key, client, control)

        async def on_tag(tag_type: int, timestamp_ms: int, payload: bytes) -> None:
            raise RuntimeError("transcoder exploded")

        session.on_tag = on_tag  # type: ignore[method-assign]
        return session


@pytest.mark.parametrize("handler", [FailingHandler(keys={KEY})])
async def test_failing_session_closes_only_its_connection(
    server: RTMPServer, client: RawClient, handler: RecordingHandler
) -> None:
    session = await published(client, handler)
    await client.message(6, 9, client.stream_id, 0, video_tag(True, 100))
    assert await client.closed_by_server(seconds=3)
    assert session.closes == ["session error: RuntimeError"]
    assert server.publishers == 0


async def test_disconnect_from_inside_on_tag(server: RTMPServer, client: RawClient, handler: RecordingHandler) -> None:
    session = await published(client, handler)
    original = session.on_tag

    async def kick_on_second_tag(tag_type: int, timestamp_ms: int, payload: bytes) -> None:
        await original(tag_type, timestamp_ms, payload)
        if len(session.tags) == 2:
            await session.control.disconnect("policy violation")

    session.on_tag = kick_on_second_tag  # type: ignore[method-assign]
    for index in range(5):
        await client.message(6, 9, client.stream_id, index * 33, video_tag(index == 0, 100))
    assert await client.closed_by_server(seconds=3)
    await session.wait_closed()
    assert session.closes == ["policy violation"]
    assert len(session.tags) == 2  # nothing after the kick reached the session
