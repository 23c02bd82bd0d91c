"""Live chat in two browsers: messages both ways, the viewer count, markup shown as text, moderation."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.e2e.conftest import PageProblems, open_page
from tests.e2e.test_web_flow import PASSWORD, register
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    """Another browser context: another person, with its own cookies."""
    problems = PageProblems()
    with open_page(browser, problems) as tab:
        yield tab
    assert problems.errors == []


def test_two_viewers_chat_and_markup_stays_text(page: Page, second_page: Page, live_server: LiveServer) -> None:
    base = live_server.base_url
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    for tab in (page, second_page):
        tab.on("dialog", on_dialog)

    # Ada is the creator: she signs up in the browser and opens a stream (through the API, to keep this
    # test about chat); Bob watches.
    register(page, base, "ada_chats")
    register(second_page, base, "bob_chats")
    with httpx.Client(base_url=base, timeout=10) as api:
        token = api.post("/api/auth/login", json={"login": "ada_chats", "password": PASSWORD}).json()["access_token"]
        created = api.post("/api/streams", json={"title": "Chat night"}, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text
        stream_id = created.json()["stream_id"]
    for tab in (page, second_page):
        tab.goto(f"{base}/watch/{stream_id}")
        expect(tab.get_by_test_id("chat-panel")).to_be_visible()
        expect(tab.get_by_test_id("chat-input")).to_be_enabled()

    # Two different people watching: the count says so on both pages.
    for tab in (page, second_page):
        expect(tab.get_by_test_id("viewer-count")).to_contain_text(re.compile(r"\b2\b"), timeout=15_000)

    page.get_by_test_id("chat-input").fill("Hello from Ada")
    page.get_by_test_id("chat-input").press("Enter")
    expect(second_page.get_by_test_id("chat-message").filter(has_text="Hello from Ada")).to_be_visible()
    expect(page.get_by_test_id("chat-message").filter(has_text="Hello from Ada")).to_be_visible()

    second_page.get_by_test_id("chat-input").fill(XSS)
    second_page.get_by_test_id("chat-send").click()
    for tab in (page, second_page):
        row = tab.get_by_test_id("chat-message").filter(has_text=XSS)
        expect(row).to_be_visible()
        expect(row).to_contain_text("bob_chats")
        # Shown as the characters typed; no element was made from it, no handler ran.
        assert tab.get_by_test_id("chat-panel").locator("img").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []

    # Too long: the composer marks it and will not send it.
    page.get_by_test_id("chat-input").fill("x" * 501)
    expect(page.get_by_test_id("chat-input")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("chat-send")).to_be_disabled()
    page.get_by_test_id("chat-input").press("Enter")
    expect(second_page.get_by_test_id("chat-message").filter(has_text="x" * 501)).to_have_count(0)

    # The server's refusals show inline: a fourth message within two seconds is rate limited.
    for n in range(4):
        page.get_by_test_id("chat-input").fill(f"burst {n}")
        page.get_by_test_id("chat-input").press("Enter")
    expect(page.get_by_test_id("chat-error")).to_be_visible()
    expect(page.get_by_test_id("chat-error")).to_contain_text(re.compile(r"fast|wait|slow", re.IGNORECASE))

    # The creator's moderation menu: deleting Bob's message removes it from Bob's page too.
    bobs = page.get_by_test_id("chat-message").filter(has_text=XSS)
    bobs.get_by_test_id("chat-mod-menu").click()
    page.get_by_test_id("chat-delete").click()
    expect(page.get_by_test_id("chat-message").filter(has_text=XSS)).to_have_count(0)
    expect(second_page.get_by_test_id("chat-message").filter(has_text=XSS)).to_have_count(0)
    # Bob has no moderation menu on Ada's messages.
    ada_line = second_page.get_by_test_id("chat-message").filter(has_text="Hello from Ada")
    expect(ada_line.get_by_test_id("chat-mod-menu")).to_have_count(0)

    # A newcomer sees the last minutes of chat.
    second_page.reload()
    expect(second_page.get_by_test_id("chat-message").filter(has_text="Hello from Ada")).to_be_visible()
