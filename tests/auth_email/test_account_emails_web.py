"""The web app with a server that sends email (Chromium, a live server, a local SMTP server): sign up by link,
then forget the password and reset it by link."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PageProblems, open_page
from tests.support.live_server import LiveServer, start_server
from tests.support.smtp_server import SENDER, Received, SmtpServer, running_smtp_server

pytestmark = pytest.mark.browser

PASSWORD = "Sunlit-Harbor-4821"
NEW_PASSWORD = "Quiet-Meadow-7395"
LINK = re.compile(r"(https?://\S+/(verify-email|reset-password)\?token=[A-Za-z0-9_\-]+)")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def mailing_server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("live-mail"), LS_SMTP_HOST=smtp.host, LS_SMTP_PORT=str(smtp.port), LS_SMTP_FROM=SENDER
    )
    try:
        yield server
    finally:
        server.stop()


def mailed_link(smtp: SmtpServer, address: str, page_name: str, count: int = 1) -> str:
    deadline = time.monotonic() + 15
    while True:
        got: list[Received] = smtp.to(address)
        if len(got) >= count:
            found = [m.group(1) for m in LINK.finditer(got[count - 1].part("plain")) if m.group(2) == page_name]
            assert len(found) == 1, got[count - 1].part("plain")
            return found[0]
        assert time.monotonic() < deadline, f"no email to {address}"
        time.sleep(0.05)


def log_in(page: Page, server: LiveServer, login: str, password: str) -> None:
    page.goto(f"{server.base_url}/login")
    page.get_by_label("Email or username").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_sign_up_by_link_then_reset_the_password(
    page: Page, browser: Browser, page_problems: PageProblems, mailing_server: LiveServer, smtp: SmtpServer
) -> None:
    base = mailing_server.base_url
    page.goto(f"{base}/register")
    page.get_by_label("Username").fill("linked_up")
    page.get_by_label("Email").fill("linked@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("register-check-email")).to_contain_text("linked@example.com")

    # Before the link: no account, whatever the password.
    log_in(page, mailing_server, "linked_up", PASSWORD)
    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(page.get_by_test_id("login-signup-hint")).to_be_visible()

    page.goto(mailed_link(smtp, "linked@example.com", "verify-email"))
    expect(page).to_have_url(re.compile(r"/verify-email$"))  # out of the address bar and history
    # Opening the link (as a mail scanner does) spends nothing: one click confirms.
    confirm = page.get_by_test_id("verify-email").get_by_role("button", name="Confirm my address")
    expect(confirm).to_be_visible()
    expect(page.get_by_test_id("verify-email")).not_to_contain_text("is ready")
    confirm.click()
    expect(page.get_by_test_id("verify-email")).to_contain_text("is ready")
    page.get_by_test_id("verify-email").get_by_role("link", name="Log in").click()
    page.get_by_label("Email or username").fill("linked_up")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-menu-button")).to_have_accessible_name("Account menu for linked_up")

    # Another browser forgets the password; the reset signs this one out.
    with open_page(browser, page_problems) as other:
        log_in(other, mailing_server, "linked_up", "not the password")
        other.get_by_role("link", name="Forgot password?").click()
        other.get_by_label("Email").fill("linked@example.com")
        other.get_by_role("button", name="Send me a link").click()
        expect(other.get_by_test_id("forgot-sent")).to_contain_text("linked@example.com")
        other.goto(mailed_link(smtp, "linked@example.com", "reset-password", 2))
        expect(other).to_have_url(re.compile(r"/reset-password$"))  # out of the address bar and history
        other.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        other.get_by_label("New password, again").fill(NEW_PASSWORD)
        other.get_by_role("button", name="Change my password").click()
        expect(other.get_by_test_id("reset-done")).to_be_visible()
        log_in(other, mailing_server, "linked_up", NEW_PASSWORD)
        expect(other.get_by_test_id("user-menu-button")).to_have_accessible_name("Account menu for linked_up")

    # The first browser's session ended with the reset: a reload cannot refresh it.
    page.reload()
    expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    expect(page.get_by_test_id("user-menu-button")).to_have_count(0)
