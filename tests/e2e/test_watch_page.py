"""The watch page end to end: ffmpeg publishes over RTMP, Chromium plays the HLS with hls.js under the real CSP."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Worker, expect

from tests.support.live_server import LiveServer, free_port, start_server
from tests.support.services import unavailable

pytestmark = pytest.mark.browser

PASSWORD = "Sunlit-Harbor-4821"
# What a passthrough stream of ffmpeg's x264 + AAC needs from the browser's Media Source Extensions.
H264_AAC = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"'
PUBLISH_SECONDS = 40
# A 360p30 test pattern with a tone, as x264 (one keyframe a second) and AAC, paced in real time.
FFMPEG_SOURCE = [
    *("-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine"),
    *("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac"),
]


@dataclass
class MediaServer:
    server: LiveServer
    rtmp_port: int

    @property
    def base_url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """A real server with the RTMP ingest on, copying the publisher's video straight to HLS (no transcode)."""
    rtmp_port = free_port()
    server = start_server(
        tmp_path_factory.mktemp("media"),
        LS_RTMP_ENABLED="true",
        LS_RTMP_PORT=str(rtmp_port),
        LS_TRANSCODE="passthrough",
    )
    try:
        yield MediaServer(server=server, rtmp_port=rtmp_port)
    finally:
        server.stop()


@dataclass
class Creator:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def register_creator(api: httpx.Client, username: str) -> Creator:
    created = api.post(
        "/api/auth/register", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    login = api.post("/api/auth/login", json={"login": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return Creator(username=username, token=login.json()["access_token"])


@pytest.fixture
def publisher(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start ffmpeg publishing a test pattern and a tone to an RTMP URL; killed by PID at the end."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    started: list[subprocess.Popen[bytes]] = []

    def publish(url: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"ffmpeg-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                *("-hide_banner", "-loglevel", "warning", "-nostdin"),
                *FFMPEG_SOURCE,
                *("-t", str(PUBLISH_SECONDS), "-f", "flv", url),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own descriptor
        started.append(process)
        return process

    yield publish
    for process in started:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def wait_for(what: str, check: Callable[[], Any], server: LiveServer, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(
        f"timed out after {timeout:.0f} s waiting for {what}\n--- server log (tail) ---\n{server.log()[-4000:]}"
    )


def current_time(page: Page) -> float:
    return float(page.evaluate("() => document.querySelector('[data-testid=player]').currentTime"))


def test_watch_a_live_stream_until_it_ends(
    page: Page, media_server: MediaServer, publisher: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    base = media_server.base_url
    server = media_server.server
    workers: list[str] = []

    def on_worker(worker: Worker) -> None:
        workers.append(worker.url)

    page.on("worker", on_worker)

    # The browser must play H.264 + AAC through Media Source Extensions, or nothing below can work.
    page.goto(f"{base}/")
    if not page.evaluate("(type) => typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(type)", H264_AAC):
        unavailable(f"a Chromium that plays {H264_AAC} through Media Source Extensions")

    with httpx.Client(base_url=base, timeout=10) as api:
        creator = register_creator(api, "obs_caster")
        key = api.get("/api/users/me/stream-key", headers=creator.headers)
        assert key.status_code == 200, key.text
        stream_key = key.json()["stream_key"]

        # Going live straight from the encoder opens a stream with a default title.
        ffmpeg = publisher(f"rtmp://127.0.0.1:{media_server.rtmp_port}/live/{stream_key}")

        def live_stream() -> dict[str, Any] | None:
            if ffmpeg.poll() is not None:
                pytest.fail(f"ffmpeg exited with {ffmpeg.returncode}\n{server.log()[-4000:]}")
            items = api.get("/api/streams", params={"status": "live"}).json()["items"]
            mine = [s for s in items if s["user"]["username"] == creator.username]
            return mine[0] if mine and mine[0]["media_state"] == "live" else None

        stream = wait_for("the stream to be listed live", live_stream, server)
        stream_id = stream["stream_id"]

        # hls.js plays it: the LIVE badge shows and the video's clock moves.
        page.goto(f"{base}/watch/{stream_id}")
        expect(page.get_by_test_id("stream-title")).to_have_text(stream["title"])
        expect(page.get_by_test_id("live-badge")).to_be_visible()
        player = page.get_by_test_id("player")
        expect(player).to_be_visible()
        page.wait_for_function("() => document.querySelector('[data-testid=player]')?.currentTime > 0", timeout=20_000)
        first = current_time(page)
        page.wait_for_timeout(2_000)
        second = current_time(page)
        assert second > first, f"the video did not advance: {first} → {second}"
        assert page.evaluate("() => document.querySelector('[data-testid=player]').muted") is True
        expect(page.get_by_test_id("unmute-button")).to_be_visible()
        # hls.js demuxes in its worker, loaded from our origin (CSP worker-src 'self').
        assert any("hls.worker" in url and url.startswith(base) for url in workers), workers
        # The latency probe is there only for the benchmark.
        assert page.evaluate("() => window.__lsPlayer === undefined") is True

        page.goto(f"{base}/watch/{stream_id}?bench=1")
        page.wait_for_function(
            "() => window.__lsPlayer && document.querySelector('[data-testid=player]')?.currentTime > 0",
            timeout=20_000,
        )
        # hls.js computes the latency on the first timeupdate after it has the playlist; until then it reads 0.
        page.wait_for_function("() => window.__lsPlayer.latency() > 0", timeout=10_000)
        latency = page.evaluate("() => window.__lsPlayer.latency()")
        assert isinstance(latency, (int, float)), latency
        assert math.isfinite(latency), latency
        assert 0 < latency < 15, latency

        # A new title reaches the viewer by polling, within seconds.
        renamed = api.patch(f"/api/streams/{stream_id}", headers=creator.headers, json={"title": "Test pattern hour"})
        assert renamed.status_code == 200, renamed.text
        expect(page.get_by_test_id("stream-title")).to_have_text("Test pattern hour", timeout=10_000)

        # The encoder drops: viewers see "Reconnecting…" over the player.
        stop(ffmpeg)
        expect(page.get_by_test_id("reconnecting")).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("live-badge")).to_have_count(0)

        # The creator ends the stream: the live player goes, and the page moves on to the stream's replay (the
        # archive is built within a second or two; "This stream has ended" or "being prepared" may show first).
        ended = api.put(f"/api/streams/{stream_id}/end", headers=creator.headers)
        assert ended.status_code == 200, ended.text
        expect(page.get_by_test_id("live-badge")).to_have_count(0, timeout=10_000)
        expect(page.get_by_test_id("replay")).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid=player][data-mode=live]")).to_have_count(0)
