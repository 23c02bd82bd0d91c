"""Before a publish is accepted: what an unauthenticated RTMP connection may hold, for how long, and how many.

Issue 7: each connection could hold about 16 MiB for 30 s before any stream key was checked, with up to 1,000
connections and no cap per address. The memory test runs ``livestream serve`` as a subprocess and reads its
resident set from /proc; every socket stays on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from livestream.config import Settings
from livestream.media.rtmp.server import RTMPLimits, RTMPServer
from tests.media.helpers import eventually
from tests.support.live_server import LiveServer, start_server
from tests.support.rtmp_clients import (
    AMF_NULL,
    RawClient,
    RecordingHandler,
    amf_number,
    amf_string,
    chunked,
    video_tag,
)

KEY = secrets.token_hex(12)
Logs = list[MutableMapping[str, Any]]

# The attack of the issue: many connections, each with two 8 MiB messages (the post-publish limit) all but
# complete, never publishing.
CONNECTIONS = 200
MESSAGE_SIZE = 8 * 1024 * 1024
ATTACK_CHUNK_SIZE = 64 * 1024  # the largest Set Chunk Size accepted before a publish, so the messages are the test
MAX_RSS_GROWTH_MIB = 64
WRITE_SLICE = 256 * 1024  # the test's own write buffers stay small


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


class RSSSampler:
    """The largest resident set of a process, sampled every few milliseconds while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = rss_kib(pid)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            await asyncio.sleep(0.01)

    def __enter__(self) -> RSSSampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak_kib = max(self.peak_kib, rss_kib(self.pid))


@pytest.fixture
def logs() -> Iterator[Logs]:
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    # The cap per address is raised so that all the connections come from 127.0.0.1: the per-connection limits
    # are what is measured here (the cap has its own test below).
    server = await asyncio.to_thread(
        start_server, tmp_path, LS_RTMP_MAX_CONNECTIONS_PER_IP=str(CONNECTIONS + 10), LS_LOG_LEVEL="WARNING"
    )
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def unauthenticated(client: RawClient, port: int, accepted: list[int]) -> None:
    """What an encoder does before its publish: handshake, connect."""
    await client.handshake()
    accepted.append(1)
    await client.connect(port=port)


async def push_megabytes(port: int, messages: list[bytes], accepted: list[int], closed: list[int]) -> None:
    """Push ``messages`` after connect, never publish; count the connection closed if the server closes it."""
    client = await RawClient.open(port)
    try:
        await unauthenticated(client, port, accepted)
        await client.set_chunk_size(ATTACK_CHUNK_SIZE)
        with contextlib.suppress(ConnectionError):
            for message in messages:
                for offset in range(0, len(message), WRITE_SLICE):
                    await client.send(message[offset : offset + WRITE_SLICE])
        if await client.closed_by_server(seconds=15):
            closed.append(1)
    except (ConnectionError, asyncio.IncompleteReadError):
        closed.append(1)  # closed by the server before the attack was all written
    finally:
        await client.close()


async def hold_within_limits(port: int, accepted: list[int], hold: asyncio.Event) -> None:
    """The most the pre-publish limits let a connection hold: a 64 KiB message but its last chunk."""
    client = await RawClient.open(port)
    try:
        await unauthenticated(client, port, accepted)
        await client.send(chunked(6, 9, 1, 0, bytes(64 * 1024), client.chunk_size)[: -1 - client.chunk_size])
        await hold.wait()
    finally:
        await client.close()


async def rss_before(live: LiveServer) -> int:
    """The server's resident set once one well-behaved client has come and gone (what any first one costs)."""
    port = int(live.env["LS_RTMP_PORT"])
    warm = await RawClient.open(port)
    await unauthenticated(warm, port, [])
    await warm.close()
    await asyncio.sleep(0.5)
    return rss_kib(live.process.pid)


def report(what: str, before_kib: int, peak_kib: int) -> float:
    growth_mib = (peak_kib - before_kib) / 1024
    print(f"\n{what}: RSS {before_kib / 1024:.1f} MiB before, peak {peak_kib / 1024:.1f} MiB (+{growth_mib:.1f} MiB)")
    return growth_mib


async def test_unauthenticated_connections_cannot_hold_megabytes(live: LiveServer) -> None:
    port = int(live.env["LS_RTMP_PORT"])
    # Each message without its last chunk: both stay partly received, on chunk streams of their own.
    messages = [
        chunked(csid, 9, 1, 0, bytes(MESSAGE_SIZE), ATTACK_CHUNK_SIZE)[: -1 - ATTACK_CHUNK_SIZE] for csid in (6, 7)
    ]
    before_kib = await rss_before(live)
    accepted: list[int] = []
    closed: list[int] = []
    async with asyncio.timeout(120):
        with RSSSampler(live.process.pid) as sampler:
            await asyncio.gather(*(push_megabytes(port, messages, accepted, closed) for _ in range(CONNECTIONS)))
    growth_mib = report(f"{CONNECTIONS} connections pushing 2 x 8 MiB", before_kib, sampler.peak_kib)
    assert len(accepted) == CONNECTIONS, "every connection got through the handshake (the per-address cap was raised)"
    assert growth_mib < MAX_RSS_GROWTH_MIB
    assert len(closed) == CONNECTIONS, "the server closed every one of them"
    assert "message of 8388608 bytes (at most 65536)" in live.log()


async def test_unauthenticated_connections_within_the_limits_hold_little(live: LiveServer) -> None:
    port = int(live.env["LS_RTMP_PORT"])
    before_kib = await rss_before(live)
    accepted: list[int] = []
    hold = asyncio.Event()
    async with asyncio.timeout(60):
        with RSSSampler(live.process.pid) as sampler:
            holders = [asyncio.create_task(hold_within_limits(port, accepted, hold)) for _ in range(CONNECTIONS)]
            await eventually(lambda: len(accepted) == CONNECTIONS or any(h.done() for h in holders), seconds=30)
            await asyncio.sleep(1.0)  # every one of them holding its bytes
            hold.set()
            await asyncio.gather(*holders)
    growth_mib = report(f"{CONNECTIONS} connections holding 64 KiB but a chunk", before_kib, sampler.peak_kib)
    assert len(accepted) == CONNECTIONS
    assert growth_mib < MAX_RSS_GROWTH_MIB


# --- limits, cap and deadline, in process ----------------------------------------------------------------------


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler(keys={KEY})


@contextlib.asynccontextmanager
async def rtmp_server(handler: RecordingHandler, **options: Any) -> AsyncIterator[RTMPServer]:
    server = RTMPServer(handler, host="127.0.0.1", port=0, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def raw_client(port: int) -> AsyncIterator[RawClient]:
    client = await RawClient.open(port)
    try:
        yield client
    finally:
        await client.close()


def events(logs: Logs, name: str) -> Logs:
    return [event for event in logs if event["event"] == name]


def test_defaults_bound_the_unauthenticated() -> None:
    limits = RTMPLimits()
    assert limits.pre_publish_max_message_size <= 64 * 1024
    assert limits.pre_publish_max_chunk_size <= 64 * 1024
    assert limits.pre_publish_max_pending_bytes + limits.pre_publish_read_ahead_bytes + limits.read_size <= 512 * 1024
    assert limits.publish_timeout <= 10
    assert Settings(secret_key=secrets.token_urlsafe(48)).rtmp_max_connections_per_ip == 10


@pytest.mark.parametrize(
    ("what", "data", "error"),
    [
        ("a message past 64 KiB", chunked(6, 9, 1, 0, bytes(64 * 1024 + 1)), "message of 65537 bytes (at most 65536)"),
        ("a chunk size past 64 KiB", chunked(2, 1, 0, 0, struct.pack(">I", 64 * 1024 + 1)), "Set Chunk Size 65537"),
    ],
)
async def test_before_publish_only_small_messages_are_read(
    handler: RecordingHandler, logs: Logs, what: str, data: bytes, error: str
) -> None:
    async with rtmp_server(handler) as server, raw_client(server.port) as client:
        await client.handshake()
        await client.connect(port=server.port)
        with contextlib.suppress(ConnectionError):
            await client.send(data)
        assert await client.closed_by_server(seconds=5), what
    [refusal] = events(logs, "rtmp_protocol_error")
    assert error in refusal["error"]
    assert handler.calls == []


async def test_after_publish_the_encoder_limits_apply_from_the_next_chunk(handler: RecordingHandler) -> None:
    async with rtmp_server(handler) as server, raw_client(server.port) as client:
        await client.handshake()
        await client.connect(port=server.port)
        await client.command("createStream", 2, AMF_NULL)
        stream_id = int((await client.read_command("_result"))[3])
        big = video_tag(True, 3 * 1024 * 1024)
        # The publish, a large chunk size and a 3 MiB keyframe in one write, as an encoder that does not wait for
        # NetStream.Publish.Start sends them: the limits change between two messages of the same read.
        publish = amf_string("publish") + amf_number(3) + AMF_NULL + amf_string(KEY) + amf_string("live")
        data = chunked(8, 20, stream_id, 0, publish, client.chunk_size)
        data += chunked(2, 1, 0, 0, struct.pack(">I", 1024 * 1024), client.chunk_size)
        data += chunked(6, 9, stream_id, 0, big, 1024 * 1024)
        await client.send(data)
        session = await handler.next_session()
        await session.wait_for_tags(1)
        assert session.tags == [(9, 0, big)]


async def test_connections_per_address_are_capped(handler: RecordingHandler, logs: Logs) -> None:
    async with rtmp_server(handler, max_connections_per_ip=3) as server:
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(raw_client(server.port)) for _ in range(3)]
            for client in clients:
                await client.handshake()
            assert server.connections_from("127.0.0.1") == 3
            async with raw_client(server.port) as fourth:
                assert await fourth.closed_by_server(seconds=5)
            [refused] = events(logs, "rtmp_connection_refused")
            assert refused["reason"] == "too many connections from this address"
            assert refused["client"] == fourth.address
            await clients[0].close()
            await eventually(lambda: server.connections_from("127.0.0.1") == 2)
            # A slot freed is a slot for the next encoder, which publishes as usual.
            async with raw_client(server.port) as again:
                await again.handshake()
                status = await again.publish(KEY)
                assert status[3]["code"] == "NetStream.Publish.Start"
        await eventually(lambda: server.connections == 0)
        assert server.connections_from("127.0.0.1") == 0


async def test_publish_deadline_counts_from_the_accept(handler: RecordingHandler, logs: Logs) -> None:
    """A client slow to handshake does not get the whole publish timeout again once it has."""
    deadline = 3.0
    limits = RTMPLimits(publish_timeout=deadline)
    server_options: dict[str, Any] = {"handshake_timeout": 10.0, "idle_timeout": 30.0, "limits": limits}
    async with rtmp_server(handler, **server_options) as server, raw_client(server.port) as client:
        accepted = time.monotonic()
        await asyncio.sleep(deadline - 0.5)
        await client.handshake()
        with contextlib.suppress(ConnectionError):
            await client.connect(port=server.port)
        assert await client.closed_by_server(seconds=10)
        # Counted from the end of the handshake it would be about 5.5 s.
        assert time.monotonic() - accepted < deadline + 1.5
    assert events(logs, "rtmp_publish_timeout")
    assert handler.calls == []
