"""A creator publishes a synthetic source over RTMP to a live server, ends the stream, and waits for its archive
to be ready: the flow the archive tests that need a real server share."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveServer
from tests.support.rtmp_clients import ffmpeg_synthetic, rtmp_url

PASSWORD = "correct horse battery"


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


@dataclass(frozen=True)
class PublishedArchive:
    stream_id: str
    headers: dict[str, str]  # the creator's bearer token
    link: dict[str, Any]  # the stream's `archive` link, ready


def publish_and_archive(
    server: LiveServer,
    workdir: Path,
    *,
    username: str,
    rtmp_port: int,
    seconds: int,
    size: str,
    password: str = PASSWORD,
) -> PublishedArchive:
    """Register ``username``, publish ``seconds`` of ``size`` video, end the stream, wait for the archive."""
    with httpx.Client(base_url=server.base_url, timeout=10) as api:
        made = api.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert made.status_code == 201, made.text
        login = api.post("/api/auth/login", json={"login": username, "password": password})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        key = api.get("/api/users/me/stream-key", headers=headers).json()["stream_key"]
        with (workdir / "ffmpeg.log").open("wb") as log:
            ffmpeg = subprocess.Popen(
                ffmpeg_synthetic(rtmp_url(rtmp_port, key), seconds=seconds, size=size),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:

            def live() -> str | None:
                items = api.get("/api/streams", params={"status": "live"}).json()["items"]
                mine = [s for s in items if s["user"]["username"] == username and s["media_state"] == "live"]
                return str(mine[0]["stream_id"]) if mine else None

            stream_id: str = wait_for("the stream to go live", live, server)
            assert ffmpeg.wait(timeout=seconds + 20) == 0, (workdir / "ffmpeg.log").read_text()
        finally:
            if ffmpeg.poll() is None:
                ffmpeg.kill()
                ffmpeg.wait(timeout=10)
        ended = api.put(f"/api/streams/{stream_id}/end", headers=headers)
        assert ended.status_code == 200, ended.text

        def ready() -> dict[str, Any] | None:
            link = api.get(f"/api/streams/{stream_id}").json()["archive"]
            if link is not None and link["status"] == "failed":
                failed = api.get(f"/api/archives/{link['archive_id']}").json()
                pytest.fail(f"the archive failed: {failed['failure_reason']}\n{server.log()[-4000:]}")
            return link if link is not None and link["status"] == "ready" else None

        link = wait_for("the archive to be ready", ready, server, timeout=45)
    return PublishedArchive(stream_id=stream_id, headers=headers, link=link)
