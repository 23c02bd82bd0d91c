"""The RTMP ingest server against real encoders: ffmpeg's native RTMP client and librtmp (OBS's lineage)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from livestream.media.rtmp import amf0
from livestream.media.rtmp.flv import flv_header, flv_tag, is_video_keyframe
from livestream.media.rtmp.server import RTMPServer
from tests.support import services
from tests.support.rtmp_clients import (
    FFMPEG,
    RecordingHandler,
    decode_flv,
    ffmpeg_relay,
    ffmpeg_synthetic,
    flv_file_tags,
    librtmp_available,
    librtmp_publish,
    make_flv,
    rtmp_url,
    running,
)

KEY = secrets.token_hex(12)
OFFSET_S = 20_000  # past 2**24 ms: every timestamp needs the extended field


@pytest.fixture(scope="module")
def source_flv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_flv(tmp_path_factory.mktemp("rtmp") / "source.flv")


@pytest.fixture(scope="module")
def late_flv(source_flv: Path) -> Path:
    """The same tags, shifted by OFFSET_S seconds (extended timestamps all the way)."""
    target = source_flv.with_name("late.flv")
    subprocess.run(
        [
            *(FFMPEG, "-nostdin", "-v", "error", "-i", str(source_flv), "-c", "copy"),
            *("-output_ts_offset", str(OFFSET_S), "-y", "-f", "flv", str(target)),
        ],
        check=True,
        timeout=60,
    )
    return target


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler(keys={KEY})


@pytest.fixture
async def server(handler: RecordingHandler) -> AsyncIterator[RTMPServer]:
    rtmp = RTMPServer(handler, host="127.0.0.1", port=0, handshake_timeout=2.0, idle_timeout=5.0)
    await rtmp.start()
    try:
        yield rtmp
    finally:
        await rtmp.stop()


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


def write_flv(path: Path, tags: list[tuple[int, int, bytes]]) -> Path:
    path.write_bytes(flv_header(True, True) + b"".join(flv_tag(*tag) for tag in tags))
    return path


async def test_ffmpeg_publishes_encoded_live_stream(
    server: RTMPServer, handler: RecordingHandler, tmp_path: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    started = time.time()
    async with running(ffmpeg_synthetic(rtmp_url(server.port, KEY), seconds=4)) as encoder:
        assert await encoder.wait(seconds=60) == 0, encoder.stderr.decode()
    [(app, key, client)] = handler.calls
    assert (app, key) == ("live", KEY)
    assert client.startswith("127.0.0.1:")
    [session] = handler.sessions
    assert await session.wait_closed() == ["unpublished"]  # ffmpeg ends with FCUnpublish and deleteStream

    [metadata] = session.metadata
    assert (metadata["width"], metadata["height"]) == (1280, 720)
    assert metadata["framerate"] == 30
    script = session.of_type(18)
    assert amf0.decode_all(script[0][2])[0] == "onMetaData"  # the FLV script tag, without @setDataFrame

    video = session.of_type(9)
    audio = session.of_type(8)
    stamps = [ts for _, ts, _ in video]
    assert stamps == sorted(stamps)
    assert stamps[-1] >= 3800
    keyframes = [ts for _, ts, payload in video if is_video_keyframe(payload) and payload[1] == 1]
    assert len(keyframes) >= 4  # -g 30 at 30 fps for 4 s
    assert len(audio) > 100  # ~43 AAC frames a second
    assert all(payload[0] >> 4 == 10 for _, _, payload in audio)
    assert started <= session.arrivals[0] <= session.arrivals[-1] <= time.time()

    # The tags, written with flv.py, make an FLV that ffmpeg decodes without a complaint.
    status, errors, frames = await decode_flv(write_flv(tmp_path / "out.flv", session.tags))
    assert (status, errors) == (0, "")
    coded_frames = sum(1 for _, _, payload in video if payload[1] == 1)
    assert abs(frames - coded_frames) <= 2
    assert 115 <= frames <= 125

    stats = session.final_stats
    assert stats is not None
    assert stats["bitrate_bps"] > 100_000
    assert stats["fps"] == pytest.approx(30, abs=1.5)
    assert stats["keyframe_interval_s"] == pytest.approx(1.0, abs=0.1)
    assert (stats["video_codec"], stats["audio_codec"]) == ("h264", "aac")
    assert stats["last_timestamp_ms"] >= 3800
    assert KEY not in repr(logs)  # only a keyed hash stands for the key
    assert any(event["event"] == "rtmp_publish_started" and event["client"] == client for event in logs)


async def test_ffmpeg_extended_timestamps(
    server: RTMPServer, handler: RecordingHandler, source_flv: Path, tmp_path: Path
) -> None:
    """Timestamps past 2**24 ms travel in the extended field, repeated on ffmpeg's continuation chunks."""
    url = rtmp_url(server.port, KEY)
    async with running(ffmpeg_relay(source_flv, url, extra=["-output_ts_offset", str(OFFSET_S)])) as encoder:
        assert await encoder.wait(seconds=30) == 0, encoder.stderr.decode()
    [session] = handler.sessions
    await session.wait_closed()
    source = [tag for tag in flv_file_tags(source_flv) if tag[0] != 18]
    received = [tag for tag in session.tags if tag[0] != 18]
    # ffmpeg's muxer keeps codec headers at 0 and shifts the media.
    assert [(kind, payload) for kind, _, payload in received] == [(kind, payload) for kind, _, payload in source]
    for (_, got, payload), (_, sent, _) in zip(received, source, strict=True):
        assert got == (sent + OFFSET_S * 1000 if got else 0), payload[:2]
    assert max(ts for _, ts, _ in received) > 0xFFFFFF
    status, errors, frames = await decode_flv(write_flv(tmp_path / "late.flv", session.tags))
    assert (status, errors) == (0, "")
    assert frames >= 55


@pytest.mark.parametrize("source", ["source_flv", "late_flv"], ids=["plain", "extended-timestamps"])
async def test_librtmp_publisher(
    server: RTMPServer, handler: RecordingHandler, source: str, request: pytest.FixtureRequest
) -> None:
    """librtmp, as OBS's RTMP output uses it: every tag arrives exactly as written to the FLV."""
    if not librtmp_available():
        services.unavailable("python3-librtmp for /usr/bin/python3")
    path: Path = request.getfixturevalue(source)
    async with running(librtmp_publish(rtmp_url(server.port, KEY), path)) as publisher:
        assert await publisher.wait(seconds=30) == 0, publisher.stderr.decode()
    [session] = handler.sessions
    assert await session.wait_closed() == ["unpublished"]  # librtmp's close sends FCUnpublish and deleteStream
    assert handler.calls[0][:2] == ("live", KEY)
    assert session.tags == flv_file_tags(path)  # script tag included: librtmp's @setDataFrame taken off again
    assert session.metadata[0]["width"] == 640


async def test_wrong_key_is_refused(
    server: RTMPServer, handler: RecordingHandler, source_flv: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    wrong = secrets.token_hex(12)
    async with running(ffmpeg_relay(source_flv, rtmp_url(server.port, wrong))) as encoder:
        assert await encoder.wait(seconds=20) != 0
    assert [call[:2] for call in handler.calls] == [("live", wrong)]
    assert handler.sessions == []
    [refusal] = [event for event in logs if event["event"] == "rtmp_publish_rejected"]
    assert refusal["client"] == handler.calls[0][2]
    assert refusal["reason"] == "unknown or rotated stream key"
    assert wrong not in repr(logs)
    assert server.publishers == 0


async def test_unknown_application_is_refused(
    server: RTMPServer, handler: RecordingHandler, source_flv: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    async with running(ffmpeg_relay(source_flv, rtmp_url(server.port, KEY, app="other"))) as encoder:
        assert await encoder.wait(seconds=20) != 0
    assert handler.calls == []
    assert any(event["event"] == "rtmp_connect_rejected" and event["client"] for event in logs)


async def test_second_publisher_on_a_live_key_is_refused(
    server: RTMPServer, handler: RecordingHandler, source_flv: Path, logs: list[MutableMapping[str, Any]]
) -> None:
    url = rtmp_url(server.port, KEY)
    async with running(ffmpeg_relay(source_flv, url, realtime=True, loop=True)) as first:
        session = await handler.next_session()
        await asyncio.wait_for(session.first_tag.wait(), 10)
        async with running(ffmpeg_relay(source_flv, url)) as second:
            assert await second.wait(seconds=20) != 0
        assert any(event.get("reason") == "already publishing" for event in logs)
        assert len(handler.calls) == 1  # refused by the server before the application was asked
        # The first publisher goes on.
        count = len(session.tags)
        await asyncio.sleep(0.7)
        assert len(session.tags) > count
        assert first.process.returncode is None
        assert session.closes == []
    await session.wait_closed()


async def test_disconnect_kicks_an_active_publisher(
    server: RTMPServer, handler: RecordingHandler, source_flv: Path
) -> None:
    async with running(ffmpeg_relay(source_flv, rtmp_url(server.port, KEY), realtime=True, loop=True)) as encoder:
        session = await handler.next_session()
        await asyncio.wait_for(session.first_tag.wait(), 10)
        await session.control.disconnect("kicked by test")
        assert session.closes == ["kicked by test"]  # on_close has run when disconnect returns
        assert await encoder.wait(seconds=10) != 0  # ffmpeg notices and gives up
    assert server.publishers == 0
    assert server.connections == 0
    # The key is free again.
    async with running(ffmpeg_relay(source_flv, rtmp_url(server.port, KEY))) as encoder:
        assert await encoder.wait(seconds=30) == 0, encoder.stderr.decode()
    assert len(handler.sessions) == 2


async def test_stop_closes_active_publishers(server: RTMPServer, handler: RecordingHandler, source_flv: Path) -> None:
    async with running(ffmpeg_relay(source_flv, rtmp_url(server.port, KEY), realtime=True, loop=True)) as encoder:
        session = await handler.next_session()
        await asyncio.wait_for(session.first_tag.wait(), 10)
        await server.stop()
        assert session.closes == ["server stopping"]
        assert await encoder.wait(seconds=10) != 0
