"""Archives in the web app end to end: ffmpeg publishes over RTMP, the creator ends the stream, the job builds
the replay; Chromium plays it on the stream's watch page (VOD: seekable, with its renditions), the channel page
shows its card and the creator deletes it from the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PageProblems
from tests.support.live_server import LiveServer, free_port, start_server
from tests.support.published_archive import publish_and_archive
from tests.support.services import unavailable

pytestmark = pytest.mark.browser

PASSWORD = "Sunlit-Harbor-4821"
USERNAME = "vod_caster"
H264_AAC = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"'
PUBLISH_SECONDS = 8
# 480p: the ABR ladder makes two renditions of it (480p and 360p), so the player has a quality menu. A 640x360
# source would get one rendition, and the player shows no menu for a single one.
SOURCE_SIZE = "854x480"
RENDITIONS = ["480p", "360p"]
VIDEO = "document.querySelector('[data-testid=player]')"


@dataclass
class Replay:
    server: LiveServer
    stream_id: str
    archive: dict[str, Any]

    @property
    def base_url(self) -> str:
        return self.server.base_url


def storage_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Local storage, or a fresh bucket on the S3 test server (the player then fetches segments from there)."""
    if request.param == "local":
        return {}
    from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY, make_bucket

    endpoint: str = request.getfixturevalue("s3_endpoint")
    return {
        "LS_STORAGE": "s3",
        "LS_S3_BUCKET": make_bucket(endpoint),
        "LS_S3_ENDPOINT_URL": endpoint,
        "LS_S3_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module", params=["local", "s3"])
def replay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    """A real server (RTMP ingest, ABR ladder, local or S3 storage); a creator published ~8 s and ended the
    stream, and its archive is ready."""
    workdir = tmp_path_factory.mktemp("archives-web")
    rtmp_port = free_port()
    server = start_server(
        workdir,
        LS_RTMP_ENABLED="true",
        LS_RTMP_PORT=str(rtmp_port),
        LS_RECONNECT_WINDOW_SECONDS="5",
        **storage_env(request),
    )
    try:
        published = publish_and_archive(
            server,
            workdir,
            username=USERNAME,
            rtmp_port=rtmp_port,
            seconds=PUBLISH_SECONDS,
            size=SOURCE_SIZE,
            password=PASSWORD,
        )
        with httpx.Client(base_url=server.base_url, timeout=10) as api:
            archive = api.get(f"/api/archives/{published.link['archive_id']}").json()
        yield Replay(server=server, stream_id=published.stream_id, archive=archive)
    finally:
        server.stop()


def clock(seconds: int) -> str:
    """The web app's formatClock: 0:00:08."""
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def current_time(page: Page) -> float:
    return float(page.evaluate(f"() => {VIDEO}.currentTime"))


def assert_advancing(page: Page, at_least: float) -> None:
    first = current_time(page)
    page.wait_for_timeout(700)
    second = current_time(page)
    assert first >= at_least, f"played from {first}, not from {at_least} or later"
    assert second > first, f"the video did not advance: {first} → {second}"


def test_a_replay_plays_seeks_shows_on_the_channel_and_is_deleted_from_the_dashboard(
    page: Page, page_problems: PageProblems, replay: Replay
) -> None:
    base, archive, stream_id = replay.base_url, replay.archive, replay.stream_id
    archive_id, duration = archive["archive_id"], archive["duration"]
    assert archive["status"] == "ready", archive
    assert abs(duration - PUBLISH_SECONDS) <= 1, archive

    page.goto(f"{base}/")
    if not page.evaluate("(type) => typeof MediaSource !== 'undefined' && MediaSource.isTypeSupported(type)", H264_AAC):
        unavailable(f"a Chromium that plays {H264_AAC} through Media Source Extensions")

    # The ended stream's watch page plays the replay with the player in VOD mode: no "ended" stage, no LIVE badge.
    page.goto(f"{base}/watch/{stream_id}")
    expect(page.get_by_test_id("replay")).to_be_visible()
    player = page.get_by_test_id("player")
    expect(player).to_have_attribute("data-mode", "vod")
    expect(page.get_by_test_id("stream-ended")).to_have_count(0)
    expect(page.get_by_test_id("live-badge")).to_have_count(0)
    expect(page.get_by_test_id("ended-pill")).to_have_text("Replay")
    expect(page.get_by_test_id("replay-duration")).to_have_text(clock(duration))
    page.wait_for_function(f"() => {VIDEO}?.currentTime > 0.2", timeout=20_000)
    assert_advancing(page, 0.2)
    video_duration = float(page.evaluate(f"() => {VIDEO}.duration"))
    assert abs(video_duration - PUBLISH_SECONDS) <= 1, video_duration
    assert page.evaluate(f"() => {VIDEO}.seekable.length") == 1
    assert page.evaluate(f"() => {VIDEO}.seekable.end(0)") >= PUBLISH_SECONDS - 1

    # Seeking: the video jumps to 5 s and plays on from there.
    page.evaluate(f"() => {{ {VIDEO}.currentTime = 5; }}")
    page.wait_for_function(
        f"() => {{ const v = {VIDEO}; return !v.seeking && !v.paused && v.readyState >= 3 && v.currentTime > 5.05; }}",
        timeout=10_000,
    )
    assert_advancing(page, 5)

    # The quality menu lists Auto and the renditions, best first.
    page.get_by_test_id("quality-button").click()
    menu = page.get_by_test_id("quality-menu")
    expect(menu.get_by_role("menuitemradio")).to_have_text(["Auto", *RENDITIONS])
    expect(menu.get_by_role("menuitemradio", name="Auto")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    assert page_problems.errors == []

    # The channel page's Archives grid: the card with its poster (loaded) and its length, linking to the replay.
    page.goto(f"{base}/u/{USERNAME}")
    card = page.get_by_test_id("channel-archives").get_by_test_id("archive-card")
    expect(card).to_have_count(1)
    card.scroll_into_view_if_needed()
    poster = card.locator("img")
    expect(poster).to_have_attribute("src", archive["thumbnail_url"])
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=archive-card] img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=10_000,
    )
    expect(card.get_by_test_id("archive-duration")).to_have_text(clock(duration))
    expect(card.get_by_test_id("archive-card-title")).to_have_text(archive["title"])
    expect(card.get_by_test_id("archive-card-title")).to_have_attribute("href", f"/watch/{stream_id}")

    # The creator signs in; the dashboard lists the archive as ready, and deletes it after confirming.
    page.goto(f"{base}/login")
    page.get_by_label("Email or username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-menu-button")).to_have_accessible_name(f"Account menu for {USERNAME}")
    page.goto(f"{base}/dashboard")
    row = page.get_by_test_id("archives").locator(f"[data-testid=archive-row][data-archive-id='{archive_id}']")
    expect(row).to_have_attribute("data-status", "ready")
    expect(row.get_by_test_id("archive-status")).to_have_text("Ready")
    expect(row.get_by_test_id("archive-title")).to_have_text(archive["title"])
    expect(row.get_by_test_id("archive-duration")).to_contain_text(clock(duration))
    row.get_by_test_id("archive-delete").click()
    confirm = row.get_by_test_id("archive-delete-confirm")
    expect(confirm).to_be_visible()
    # Cancel first: nothing happens.
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(row).to_have_attribute("data-status", "ready")
    row.get_by_test_id("archive-delete").click()
    confirm.get_by_role("button", name="Yes, delete").click()
    expect(row).to_have_count(0)
    expect(page.get_by_test_id("archives")).to_contain_text("No archives yet.")

    with httpx.Client(base_url=base, timeout=10) as api:
        gone = api.get(f"/api/archives/{archive_id}")
        assert gone.status_code == 404, gone.text
        assert gone.json()["code"] == "ARCHIVE_NOT_FOUND"
        assert api.get(f"/vod/{archive_id}/master.m3u8").status_code == 404
        assert api.get(f"/api/streams/{stream_id}").json()["archive"] is None
    assert page_problems.errors == []
