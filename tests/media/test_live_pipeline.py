"""End to end through the real pieces: ffmpeg publishes over RTMP, our server transcodes to HLS, the API
follows the stream's life. SQLite only: the database is not what is under test here."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest
from fastapi import FastAPI

from livestream.app.factory import create_app
from livestream.config import Settings
from livestream.media.playlists import first_program_date_time, shift_program_date_times
from tests.api.helpers import bearer, container, quick_user
from tests.conftest import SECRET
from tests.support.recordings import decodes_cleanly
from tests.support.rtmp_clients import ffmpeg_synthetic, rtmp_url

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def publish(
    port: int, key: str, *, seconds: int = 30, size: str = "1280x720", rate: int = 30
) -> subprocess.Popen[bytes]:
    """A synthetic source pushed in real time, as an encoder would."""
    command = ffmpeg_synthetic(rtmp_url(port, key), seconds=seconds, size=size, rate=rate)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()


@pytest.fixture
def media_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    import shutil

    db = tmp_path / "live.db"
    shutil.copy(sqlite_template, db)
    return Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{db}",
        secret_key=SECRET,
        var_dir=tmp_path,
        media_dir=tmp_path / "media",
        web_dist=tmp_path / "no-web",
        public_url="http://testserver",
        rtmp_enabled=True,
        rtmp_host="127.0.0.1",
        rtmp_port=0,
        transcode="abr",
        hls_segment_seconds=1,
        reconnect_window_seconds=6,
        thumbnail_seconds=5,
    )


@pytest.fixture
async def media_app(media_settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(media_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def media_client(media_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=media_app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def rtmp_port(app: FastAPI) -> int:
    rtmp = container(app).rtmp
    assert rtmp is not None
    return rtmp.port


async def wait_for(predicate: Any, limit_s: float, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def creator_key(app: FastAPI, client: httpx.AsyncClient) -> tuple[dict[str, Any], str, str]:
    user, token = await quick_user(app)
    key = (await client.get("/api/users/me/stream-key", headers=bearer(token))).json()["stream_key"]
    return user, token, key


async def live_stream_of(client: httpx.AsyncClient, user_id: str) -> dict[str, Any] | None:
    items = (await client.get("/api/streams", params={"status": "live", "user_id": user_id})).json()["items"]
    return items[0] if items else None


async def archive_of(client: httpx.AsyncClient, stream_id: str, limit_s: float = 60) -> dict[str, Any]:
    """The stream's archive once ready (the job runs after the end); its API answer."""

    async def ready() -> dict[str, Any] | None:
        link = (await client.get(f"/api/streams/{stream_id}")).json()["archive"]
        assert link is None or link["status"] != "failed", link
        return link if link is not None and link["status"] == "ready" else None

    link = await wait_for(ready, limit_s, "the archive to be ready")
    archive: dict[str, Any] = (await client.get(f"/api/archives/{link['archive_id']}")).json()
    return archive


async def test_publish_from_obs_goes_live_with_an_abr_ladder(
    media_app: FastAPI, media_client: httpx.AsyncClient
) -> None:
    user, token, key = await creator_key(media_app, media_client)
    encoder = publish(rtmp_port(media_app), key)
    try:

        async def is_live() -> dict[str, Any] | None:
            stream = await live_stream_of(media_client, user["user_id"])
            return stream if stream and stream["media_state"] == "live" else None

        stream = await wait_for(is_live, 40, "media_state live")
        sid = stream["stream_id"]
        assert stream["title"]  # a default title when going live straight from the encoder
        master = await media_client.get(f"/hls/{sid}/master.m3u8")
        assert master.status_code == 200
        resolutions = [tuple(map(int, m)) for m in re.findall(r"RESOLUTION=(\d+)x(\d+)", master.text)]
        assert resolutions, master.text
        assert all(w <= 1280 and h <= 720 for w, h in resolutions)
        assert "CODECS=" in master.text
        assert "BANDWIDTH=" in master.text
        media_dir = container(media_app).settings.media_dir / "live" / sid
        variants = re.findall(r"^(\S+\.m3u8)$", master.text, flags=re.MULTILINE)
        for variant in variants:
            playlist = (await media_client.get(f"/hls/{sid}/{variant}")).text
            assert "#EXT-X-PROGRAM-DATE-TIME" in playlist
            segment = re.findall(r"^(\S+\.ts)$", playlist, flags=re.MULTILINE)[0]
            folder = variant.rsplit("/", 1)[0] if "/" in variant else ""
            assert decodes_cleanly(media_dir / folder / segment)
        # Served playlists carry the ingest clock: ffmpeg's stamps (taken when its muxer started, later than
        # the media entered) moved back by the measured offset.
        ingest = container(media_app).ingest
        assert ingest is not None
        offset = ingest.pdt_offset(uuid.UUID(sid))
        assert offset is not None
        assert -10 < offset < 0.5
        variant = variants[0]
        for _ in range(10):  # ffmpeg may rewrite the playlist between the two reads
            on_disk = (media_dir / variant).read_text()
            served = (await media_client.get(f"/hls/{sid}/{variant}")).text
            if served.splitlines()[-1] == on_disk.splitlines()[-1]:
                break
        assert served == shift_program_date_times(on_disk, offset)
        assert first_program_date_time(served) != first_program_date_time(on_disk)
        health = (await media_client.get(f"/api/streams/{sid}/health", headers=bearer(token))).json()
        assert health["ingest"]["connected"] is True
        assert health["ingest"]["bitrate_kbps"] > 0
        assert 20 <= health["ingest"]["fps"] <= 40
        # End via the API: the publisher is disconnected and the stream finalised.
        ended = await media_client.put(f"/api/streams/{sid}/end", headers=bearer(token))
        assert ended.status_code == 200
        await asyncio.to_thread(encoder.wait, 15)
        assert encoder.returncode is not None
        assert (await media_client.get(f"/api/streams/{sid}")).json()["status"] == "ended"
        # The archive job turns the kept ladder into a VOD, then the sources go.
        archive = await archive_of(media_client, sid)
        media_dir = container(media_app).settings.media_dir
        stored = media_dir / "archives" / archive["archive_id"]
        assert decodes_cleanly(stored / "master.m3u8")
        assert len(list(stored.glob("v*.ts"))) == len(variants)
        assert not (media_dir / "recordings" / sid).exists()
        assert not (media_dir / "live" / sid).exists()
    finally:
        stop(encoder)


async def test_reconnect_inside_the_window_continues_the_stream(
    media_app: FastAPI, media_client: httpx.AsyncClient
) -> None:
    user, _token, key = await creator_key(media_app, media_client)
    first = publish(rtmp_port(media_app), key, seconds=6, size="640x360")
    try:

        async def is_live() -> dict[str, Any] | None:
            stream = await live_stream_of(media_client, user["user_id"])
            return stream if stream and stream["media_state"] == "live" else None

        stream = await wait_for(is_live, 40, "live")
        await asyncio.to_thread(first.wait, 30)

        async def reconnecting() -> bool:
            current = (await media_client.get(f"/api/streams/{stream['stream_id']}")).json()
            return bool(current["media_state"] == "reconnecting")

        await wait_for(reconnecting, 10, "reconnecting")
    finally:
        stop(first)
    second = publish(rtmp_port(media_app), key, seconds=4, size="640x360")
    try:
        again = await wait_for(is_live, 20, "live again")
        assert again["stream_id"] == stream["stream_id"]
        await asyncio.to_thread(second.wait, 30)
    finally:
        stop(second)

    # Then the publisher stays away past the window: the stream ends, one recording kept.
    async def ended() -> bool:
        current = (await media_client.get(f"/api/streams/{stream['stream_id']}")).json()
        return bool(current["status"] == "ended")

    await wait_for(ended, 20, "ended after the window")
    # One archive holding both connections: 6 s and 4 s of video, one timeline (the same ffmpeg process).
    archive = await archive_of(media_client, stream["stream_id"])
    assert abs(archive["duration"] - 10) <= 1, archive
    stored = container(media_app).settings.media_dir / "archives" / archive["archive_id"]
    assert decodes_cleanly(stored / "master.m3u8")
    assert "#EXT-X-DISCONTINUITY" not in (stored / "v0.m3u8").read_text()


async def test_wrong_key_is_refused_and_server_keeps_serving(
    media_app: FastAPI, media_client: httpx.AsyncClient
) -> None:
    user, _token, key = await creator_key(media_app, media_client)
    rogue = publish(rtmp_port(media_app), "live_not-a-real-key", seconds=5, size="320x240")
    try:
        assert await asyncio.to_thread(rogue.wait, 15) != 0
    finally:
        stop(rogue)
    # Garbage on the RTMP port does not take the server down.
    _reader, writer = await asyncio.open_connection("127.0.0.1", rtmp_port(media_app))
    writer.write(b"\x03" + b"\xff" * 5000)
    await writer.drain()
    writer.close()
    assert await live_stream_of(media_client, user["user_id"]) is None
    good = publish(rtmp_port(media_app), key, seconds=20, size="320x240")
    try:

        async def opened() -> dict[str, Any] | None:
            return await live_stream_of(media_client, user["user_id"])

        assert await wait_for(opened, 20, "stream opened by the real key")
    finally:
        stop(good)
