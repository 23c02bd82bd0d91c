"""The notification bell end to end: a follower's open page hears the creator go live over RTMP (ffmpeg publishing
to the server's ingest) and the bell's count rises through the page's /ws/me socket, not a poll."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.support.live_server import LiveServer, free_port, start_server
from tests.support.rtmp_clients import ffmpeg_synthetic, rtmp_url

pytestmark = pytest.mark.browser

PASSWORD = "Sunlit-Harbor-4821"
UNREAD_COUNT = "/api/notifications/unread-count"


@dataclass
class MediaServer:
    server: LiveServer
    rtmp_port: int


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """A real server with the RTMP ingest on, copying the publisher's video straight to HLS (no transcode)."""
    rtmp_port = free_port()
    server = start_server(
        tmp_path_factory.mktemp("bell"),
        LS_RTMP_ENABLED="true",
        LS_RTMP_PORT=str(rtmp_port),
        LS_TRANSCODE="passthrough",
    )
    try:
        yield MediaServer(server=server, rtmp_port=rtmp_port)
    finally:
        server.stop()


def register(api: httpx.Client, username: str) -> tuple[str, dict[str, str]]:
    made = api.post(
        "/api/auth/register", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert made.status_code == 201, made.text
    login = api.post("/api/auth/login", json={"login": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    return str(body["user"]["user_id"]), {"Authorization": f"Bearer {body['access_token']}"}


def test_the_bell_counts_up_when_a_followed_creator_goes_live(
    page: Page, media_server: MediaServer, tmp_path: Path
) -> None:
    server = media_server.server
    with httpx.Client(base_url=server.base_url, timeout=10) as api:
        creator_id, creator = register(api, "bell_caster")
        _, fan = register(api, "bell_fan")
        followed = api.post("/api/follows", json={"following_id": creator_id}, headers=fan)
        assert followed.status_code == 201, followed.text
        stream_key = api.get("/api/users/me/stream-key", headers=creator).json()["stream_key"]

    polls: list[str] = []

    def on_request(request: Request) -> None:
        if request.url.endswith(UNREAD_COUNT):
            polls.append(request.url)

    page.on("request", on_request)
    page.goto(f"{server.base_url}/login")
    page.get_by_label("Email or username").fill("bell_fan")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    bell = page.get_by_test_id("notification-bell")
    # The page's /ws/me socket is signed in: from now on new notifications come to it.
    expect(bell).to_have_attribute("data-live", "true")
    expect(bell).to_have_accessible_name("Notifications")
    expect(page.get_by_test_id("notification-badge")).to_have_count(0)
    polled = len(polls)
    assert polled >= 1  # the count was read once when the page loaded

    with (tmp_path / "ffmpeg.log").open("wb") as log:
        ffmpeg = subprocess.Popen(
            ffmpeg_synthetic(rtmp_url(media_server.rtmp_port, stream_key), seconds=60, size="320x240"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        badge = page.get_by_test_id("notification-badge")
        # The first video reaches the ingest, the fan-out job writes the row, the socket brings it: well within
        # the 120 s poll the bell keeps while its socket is live.
        expect(badge).to_have_text("1", timeout=45_000)
        expect(bell).to_have_accessible_name("Notifications, 1 unread")
        assert len(polls) == polled, "the count rose through a poll, not the socket"
        bell.click()
        item = page.get_by_test_id("notification-panel").get_by_test_id("notification")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("bell_caster is live")
        expect(item).to_have_attribute("data-unread", "true")
    finally:
        if ffmpeg.poll() is None:
            ffmpeg.kill()
        ffmpeg.wait(timeout=10)
