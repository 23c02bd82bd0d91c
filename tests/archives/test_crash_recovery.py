"""A server killed with SIGKILL while a creator is live: after the restart, once the reconnect window has passed,
the stream ends and its archive holds what was recorded up to the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import LiveServer, free_port, start_server
from tests.support.recordings import probe_duration
from tests.support.rtmp_clients import ffmpeg_synthetic, rtmp_url

PASSWORD = "correct horse battery"
WINDOW_S = 3


def wait_until(what: str, check: Callable[[], Any], server: LiveServer, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; server log:\n{server.log()[-4000:]}")


def test_sigkill_mid_stream_leaves_an_archive_after_the_restart(tmp_path: Path) -> None:
    rtmp_port = free_port()
    env = {
        "LS_RTMP_ENABLED": "true",
        "LS_RTMP_PORT": str(rtmp_port),
        "LS_TRANSCODE": "abr",
        "LS_TRANSCODE_MAX_HEIGHT": "360",
        "LS_RECONNECT_WINDOW_SECONDS": str(WINDOW_S),
        "LS_JOBS_RETRY_BASE_SECONDS": "0.2",
    }
    server = start_server(tmp_path, **env)
    publisher: subprocess.Popen[bytes] | None = None
    api = httpx.Client(base_url=server.base_url, timeout=10)
    try:
        assert api.post(
            "/api/auth/register", json={"username": "crashy", "email": "crashy@example.com", "password": PASSWORD}
        ).is_success
        token = api.post("/api/auth/login", json={"login": "crashy", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        key = api.get("/api/users/me/stream-key", headers=headers).json()["stream_key"]
        command = ffmpeg_synthetic(rtmp_url(rtmp_port, key), seconds=60, size="640x360")
        started = time.monotonic()
        publisher = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def live_stream() -> dict[str, Any] | None:
            items = api.get("/api/streams", params={"status": "live"}).json()["items"]
            return items[0] if items and items[0]["media_state"] == "live" else None

        stream = wait_until("the stream to go live", live_stream, server)
        live_at = time.monotonic()
        time.sleep(8)  # media keeps arriving; last_ingest_at is written every few seconds
        os.kill(server.process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        server.process.wait(timeout=10)
        publisher.kill()
        publisher.wait(timeout=10)
    finally:
        api.close()
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
        server.stop()

    # The same database and media directory, a new process.
    restarted = start_server(tmp_path, **env)
    api = httpx.Client(base_url=restarted.base_url, timeout=10)
    try:
        sid = stream["stream_id"]

        def archive_ready() -> dict[str, Any] | None:
            current = api.get(f"/api/streams/{sid}").json()
            link = current["archive"]
            assert link is None or link["status"] != "failed", link
            return current if link is not None and link["status"] == "ready" else None

        ended = wait_until("the archive after the restart", archive_ready, restarted, timeout=90)
        assert ended["status"] == "ended"
        archive = api.get(f"/api/archives/{ended['archive']['archive_id']}").json()
        # What was recorded up to the kill: at least what was live before it, at most what was sent.
        assert killed_at - live_at - 2 <= archive["duration"] <= killed_at - started + 1, archive
        stored = tmp_path / "media" / "archives" / archive["archive_id"]
        assert abs(probe_duration(stored / "master.m3u8") - archive["duration"]) <= 1
        assert not (tmp_path / "media" / "live" / sid).exists()
    finally:
        api.close()
        restarted.stop()
