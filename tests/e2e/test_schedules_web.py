"""Stream schedules end to end: a creator in New York plans a stream on the dashboard; a follower in Tokyo sees it
on the channel page (in Tokyo time, with a countdown that ticks) and on the home page; the "Add to calendar" link
serves the iCalendar feed; cancelling takes it off the channel and marks it cancelled in the feed. And a plan
that the creator goes live for (over RTMP) turns into "Live now" with the way to the stream."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PageProblems
from tests.e2e.test_watch_page import MediaServer, media_server, publisher, wait_for  # noqa: F401 (fixtures)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "Sunlit-Harbor-4821"
CREATOR = "sched_creator"
FOLLOWER = "sched_follower"
TITLE = "Modular synth night"
CREATOR_ZONE = "America/New_York"
FOLLOWER_ZONE = "Asia/Tokyo"


@contextmanager
def person(browser: Browser, problems: PageProblems, zone: str) -> Iterator[Page]:
    """One person's browser (no cookies), with its clock in ``zone``."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id=zone)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("console", problems.on_console)
    tab.on("pageerror", problems.on_page_error)
    try:
        yield tab
    finally:
        context.close()


def register(api: httpx.Client, username: str) -> tuple[str, str]:
    """A new account; its user id and an access token."""
    answer = api.post(
        "/api/auth/register", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    login = api.post("/api/auth/login", json={"login": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(answer.json()["user_id"]), str(login.json()["access_token"])


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-menu-button")).to_have_accessible_name(f"Account menu for {username}")


def shown_as(instant: datetime, zone: str) -> str:
    """How the page writes an instant in ``zone`` (en-US), without the zone's name: "Tue, Dec 8, 2026, 3:00 AM"."""
    local = instant.astimezone(ZoneInfo(zone))
    hour = local.hour % 12 or 12
    return f"{local:%a}, {local:%b} {local.day}, {local.year}, {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def test_a_planned_stream_reaches_a_follower_with_a_countdown_and_a_calendar_feed(
    browser: Browser, page_problems: PageProblems, live_server: LiveServer
) -> None:
    base = live_server.base_url
    with httpx.Client(base_url=base, timeout=10) as api:
        creator_id, _ = register(api, CREATOR)
        _, follower_token = register(api, FOLLOWER)
        follow = api.post(
            "/api/follows", json={"following_id": creator_id}, headers={"Authorization": f"Bearer {follower_token}"}
        )
        assert follow.status_code == 201, follow.text

    # 50 minutes ahead, on a whole minute: the countdown then shows seconds, so it visibly ticks.
    start = (datetime.now(UTC) + timedelta(minutes=51)).replace(second=0, microsecond=0)
    typed = start.astimezone(ZoneInfo(CREATOR_ZONE)).strftime("%Y-%m-%dT%H:%M")

    # The creator plans it on the dashboard, typing New York time.
    with person(browser, page_problems, CREATOR_ZONE) as page:
        log_in(page, base, CREATOR)
        page.goto(f"{base}/dashboard")
        card = page.get_by_test_id("schedule-card")
        expect(card.get_by_text("Nothing planned yet.")).to_be_visible()
        form = card.get_by_test_id("schedule-form")
        expect(form.get_by_text(f"In your time zone, {CREATOR_ZONE}.")).to_be_visible()
        # A time in the past is refused before anything is sent.
        form.get_by_label("Title").fill(TITLE)
        past = (datetime.now(UTC) - timedelta(hours=2)).astimezone(ZoneInfo(CREATOR_ZONE)).strftime("%Y-%m-%dT%H:%M")
        form.get_by_label("Starts at").fill(past)
        form.get_by_role("button", name="Add to schedule").click()
        expect(form.get_by_text("Pick a time in the future.")).to_be_visible()

        form.get_by_label("Starts at").fill(typed)
        form.get_by_label("Expected length (minutes)").fill("90")
        form.get_by_label("Description").fill("Patching a filter bank live.")
        form.get_by_role("button", name="Add to schedule").click()
        expect(card.get_by_test_id("schedule-created")).to_contain_text(TITLE)
        row = card.get_by_test_id("schedule-row")
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("schedule-title")).to_have_text(TITLE)
        expect(row.get_by_test_id("schedule-status")).to_have_text("Scheduled")
        expect(row.get_by_test_id("schedule-time")).to_contain_text(shown_as(start, CREATOR_ZONE))
        expect(row.get_by_test_id("schedule-countdown")).to_contain_text(re.compile(r"starts in (49|50|51) min"))

    # The server holds the UTC instant of what was typed in New York.
    with httpx.Client(base_url=base, timeout=10) as api:
        listed = api.get("/api/schedules", params={"user_id": creator_id})
        assert listed.status_code == 200, listed.text
        [entry] = listed.json()["items"]
        assert entry["title"] == TITLE
        assert datetime.fromisoformat(entry["starts_at"]) == start
        assert entry["expected_duration_minutes"] == 90
        schedule_id = entry["schedule_id"]

    with person(browser, page_problems, FOLLOWER_ZONE) as page:
        log_in(page, base, FOLLOWER)

        # The channel page: Tokyo time with its zone, and a countdown that moves by the second.
        page.goto(f"{base}/u/{CREATOR}")
        section = page.get_by_test_id("channel-schedule")
        expect(section.get_by_role("heading", name="Upcoming streams")).to_be_visible()
        item = section.get_by_test_id("schedule-entry")
        expect(item).to_have_count(1)
        expect(item.get_by_test_id("schedule-title")).to_have_text(TITLE)
        expect(item.get_by_test_id("schedule-time")).to_have_text(f"{shown_as(start, FOLLOWER_ZONE)} GMT+9")
        expect(item.get_by_test_id("schedule-length")).to_have_text(" · about 1 h 30 min")
        expect(section.get_by_test_id("schedule-zone")).to_have_text(f"Times are in your time zone ({FOLLOWER_ZONE}).")
        countdown = item.get_by_test_id("schedule-countdown")
        expect(countdown).to_have_text(re.compile(r"^starts in (49|50|51) min \d\d s$"))
        first = countdown.inner_text()
        expect(countdown).not_to_have_text(first, timeout=3_000)

        # "Add to calendar" serves the feed; "Subscribe" is the same feed over webcal://.
        feed_url = f"{base}/api/users/{creator_id}/schedule.ics"
        add = section.get_by_role("link", name="Add to calendar")
        expect(add).to_have_attribute("href", feed_url)
        expect(section.get_by_role("link", name="Subscribe")).to_have_attribute(
            "href", feed_url.replace("http://", "webcal://", 1)
        )
        feed = page.request.get(str(add.get_attribute("href")))
        assert feed.status == 200
        assert feed.headers["content-type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(feed.body())
        [event] = calendar.walk("VEVENT")
        assert str(event["SUMMARY"]) == TITLE
        assert event.decoded("DTSTART") == start
        assert str(event["STATUS"]) == "CONFIRMED"

        # The home page: "Upcoming from people you follow", whose stream it is, the same countdown.
        page.goto(f"{base}/")
        upcoming = page.get_by_test_id("following-schedules")
        expect(upcoming.get_by_role("heading", name="Upcoming from people you follow")).to_be_visible()
        home_item = upcoming.get_by_test_id("schedule-entry")
        expect(home_item).to_have_count(1)
        expect(home_item.get_by_test_id("schedule-title")).to_have_text(TITLE)
        expect(home_item.get_by_test_id("schedule-creator")).to_have_text(CREATOR)
        expect(home_item.get_by_test_id("schedule-creator")).to_have_attribute("href", f"/u/{CREATOR}")
        expect(home_item.get_by_test_id("schedule-countdown")).to_have_text(re.compile(r"^starts in (49|50|51) min"))

    # The creator cancels it (after confirming): it leaves the channel and the feed says CANCELLED.
    with person(browser, page_problems, CREATOR_ZONE) as page:
        log_in(page, base, CREATOR)
        page.goto(f"{base}/dashboard")
        row = page.get_by_test_id("schedule-card").locator(
            f"[data-testid=schedule-row][data-schedule-id='{schedule_id}']"
        )
        row.get_by_role("button", name=f"Cancel {TITLE}").click()
        row.get_by_role("button", name="Yes, cancel it").click()
        expect(row.get_by_test_id("schedule-status")).to_have_text("Cancelled")
        expect(row.get_by_test_id("schedule-cancel")).to_have_count(0)

        page.goto(f"{base}/u/{CREATOR}")
        expect(page.get_by_test_id("past-streams")).to_be_visible()
        expect(page.get_by_test_id("channel-schedule")).to_have_count(0)
        feed = page.request.get(f"{base}/api/users/{creator_id}/schedule.ics")
        [event] = icalendar.Calendar.from_ical(feed.body()).walk("VEVENT")
        assert str(event["STATUS"]) == "CANCELLED"

    assert page_problems.errors == []


def test_a_plan_the_creator_goes_live_for_links_to_the_stream(
    browser: Browser,
    page_problems: PageProblems,
    media_server: MediaServer,  # noqa: F811
    publisher: Callable[[str], subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    base, server = media_server.base_url, media_server.server
    with httpx.Client(base_url=base, timeout=10) as api:
        _, creator_token = register(api, "sched_live")
        creator = {"Authorization": f"Bearer {creator_token}"}
        start = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
        planned = api.post(
            "/api/schedules", json={"title": "Live soon", "starts_at": start.isoformat()}, headers=creator
        )
        assert planned.status_code == 201, planned.text
        schedule_id = planned.json()["schedule_id"]

        with person(browser, page_problems, "Europe/Paris") as page:
            page.goto(f"{base}/u/sched_live")
            item = page.get_by_test_id("channel-schedule").get_by_test_id("schedule-entry")
            expect(item).to_have_attribute("data-phase", "upcoming")
            expect(item.get_by_test_id("schedule-countdown")).to_have_text(re.compile(r"^starts in (9|10) min"))

            # Going live within 30 minutes of the plan links the stream to it.
            key = api.get("/api/users/me/stream-key", headers=creator).json()["stream_key"]
            ffmpeg = publisher(f"rtmp://127.0.0.1:{media_server.rtmp_port}/live/{key}")

            def linked() -> dict[str, Any] | None:
                if ffmpeg.poll() is not None:
                    pytest.fail(f"ffmpeg exited with {ffmpeg.returncode}\n{server.log()[-4000:]}")
                entry: dict[str, Any] = api.get(f"/api/schedules/{schedule_id}").json()
                return entry if entry["status"] == "live" else None

            entry = wait_for("the plan to be marked live", linked, server)
            stream_id = entry["stream_id"]
            assert stream_id

            # The page asks again by itself (a plan about to start is polled every 15 s).
            expect(item).to_have_attribute("data-phase", "live", timeout=25_000)
            watch = item.get_by_test_id("schedule-watch")
            expect(watch).to_have_text("Live now: watch")
            expect(watch).to_have_attribute("href", f"/watch/{stream_id}")
            watch.click()
            expect(page).to_have_url(f"{base}/watch/{stream_id}")
            expect(page.get_by_test_id("live-badge")).to_be_visible()

            # The stream ends: the plan is done, and the channel has nothing upcoming any more.
            ended = api.put(f"/api/streams/{stream_id}/end", headers=creator)
            assert ended.status_code == 200, ended.text
            wait_for(
                "the plan to be marked done",
                lambda: api.get(f"/api/schedules/{schedule_id}").json()["status"] == "done",
                server,
            )
            page.goto(f"{base}/u/sched_live")
            expect(page.get_by_test_id("past-streams")).to_be_visible()
            expect(page.get_by_test_id("channel-schedule")).to_have_count(0)
    assert page_problems.errors == []
