"""Tips in the browser with the test payment provider: a viewer tips ¥500 and a second viewer sees it in chat;
the decline card is declined, and Try again starts over."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PageProblems, open_page
from tests.e2e.test_web_flow import PASSWORD, register
from tests.support.live_server import LiveServer, start_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tips_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server taking test payments (the same code path as Stripe's: intents, signed webhooks)."""
    server = start_server(tmp_path_factory.mktemp("tips-web"), LS_PAYMENTS="test", LS_RTMP_ENABLED="false")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    problems = PageProblems()
    with open_page(browser, problems) as tab:
        yield tab
    assert problems.errors == []


def creator_with_stream(base: str, username: str) -> tuple[str, str]:
    """A creator (through the API) and a live stream of theirs: their access token and the stream's id."""
    with httpx.Client(base_url=base, timeout=10) as api:
        registered = api.post(
            "/api/auth/register", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        token = api.post("/api/auth/login", json={"login": username, "password": PASSWORD}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = api.post("/api/streams", json={"title": "Tip jar night"}, headers=auth)
        assert created.status_code == 201, created.text
        return token, str(created.json()["stream_id"])


def pay(page: Page, card: str) -> None:
    form = page.get_by_test_id("test-card-form")
    expect(form).to_be_visible()
    form.get_by_label("Card number").fill(card)
    form.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    form.get_by_label("CVC").fill("123")
    form.get_by_test_id("pay-button").click()


def test_a_viewer_tips_and_another_sees_it_in_chat(page: Page, second_page: Page, tips_server: LiveServer) -> None:
    base = tips_server.base_url
    token, stream_id = creator_with_stream(base, "ada_tipjar")
    register(page, base, "bob_tipper")
    register(second_page, base, "cy_watcher")
    for tab in (page, second_page):
        tab.goto(f"{base}/watch/{stream_id}")
        expect(tab.get_by_test_id("chat-input")).to_be_enabled()

    page.get_by_test_id("tip-button").click()
    expect(page.get_by_role("dialog", name="Tip ada_tipjar")).to_be_visible()
    # Its title changes with its state ("Tip sent"): follow it by test id from here.
    dialog = page.get_by_test_id("tip-dialog")
    dialog.get_by_role("button", name="¥500", exact=True).click()
    expect(dialog.get_by_test_id("tip-amount")).to_have_value("500")
    dialog.get_by_test_id("tip-message").fill("Keep the synth going!")
    dialog.get_by_test_id("tip-submit").click()
    expect(dialog.get_by_test_id("test-card-hint")).to_contain_text("4242 4242 4242 4242")
    pay(page, "4242 4242 4242 4242")
    expect(dialog.get_by_test_id("tip-success")).to_contain_text("Thanks! Your tip of ¥500 was sent.", timeout=20_000)

    # Everyone watching sees it in the chat, highlighted, with its message; the tipper too.
    for tab in (second_page, page):
        tip = tab.get_by_test_id("chat-tip")
        expect(tip).to_have_count(1)
        expect(tip).to_contain_text("@bob_tipper tipped ¥500")
        expect(tip).to_contain_text("Keep the synth going!")

    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    # The creator's earnings count it once.
    with httpx.Client(base_url=base, timeout=10) as api:
        earnings = api.get(
            "/api/users/me/earnings", params={"stream_id": stream_id}, headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert [(c["currency"], c["succeeded"]) for c in earnings["currencies"]] == [("JPY", {"count": 1, "amount": 500})]

    # The decline card: the reason, and Try again opens a new payment (the declined one is final).
    page.get_by_test_id("tip-button").click()
    dialog = page.get_by_test_id("tip-dialog")
    dialog.get_by_test_id("tip-submit").click()
    pay(page, "4000 0000 0000 0002")
    declined = dialog.get_by_test_id("tip-declined")
    expect(declined).to_contain_text("Payment declined.")
    expect(declined).to_contain_text("declined")
    declined.get_by_test_id("tip-retry").click()
    expect(dialog.get_by_test_id("test-card-form")).to_be_visible()
    expect(dialog.get_by_label("Card number")).to_have_value("")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # No second tip reached the chat.
    page.wait_for_timeout(500)
    expect(second_page.get_by_test_id("chat-tip")).to_have_count(1)
