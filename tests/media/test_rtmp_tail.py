"""An encoder that finishes while the server is still behind must not lose its last seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

from livestream.media.rtmp.server import RTMPServer
from tests.support.rtmp_clients import RecordingHandler, ffmpeg_relay, make_flv, rtmp_url, spawn

VIDEO = 9


async def test_slow_consumer_still_gets_the_whole_stream(tmp_path: Path) -> None:
    source = make_flv(tmp_path / "s.flv", seconds=8, size="1280x720")
    handler = RecordingHandler()
    server = RTMPServer(handler, host="127.0.0.1", port=0)
    await server.start()
    try:
        # Published as fast as ffmpeg can read the file, into a consumer that takes 3 ms per tag: the
        # server falls far behind, and the encoder closes long before the server has read everything.
        publisher = await spawn(ffmpeg_relay(source, rtmp_url(server.port, "key")))
        session = await handler.next_session()
        record = session.on_tag

        async def slow(tag_type: int, timestamp: int, payload: bytes) -> None:
            await asyncio.sleep(0.003)
            await record(tag_type, timestamp, payload)

        session.on_tag = slow  # type: ignore[method-assign]
        async with asyncio.timeout(60):
            await session.closed.wait()
        await publisher.wait(30)
    finally:
        await server.stop()
    video = [ts for kind, ts, _ in session.tags if kind == VIDEO]
    assert max(video) >= 7900, f"the stream stopped at {max(video)} ms of 8000"
    assert session.closes == ["unpublished"]
