"""The web app end to end: sign up, profile, follow, sign out, with tokens kept out of Web Storage."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "Sunlit-Harbor-4821"
AUTH_RESPONSES = re.compile(r"/api/auth/(login|refresh)$")


class TokenWatch:
    """Every access token the server hands the page (login and refresh responses)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.tokens: set[str] = set()
        # A route sees the body before the page does, so no token is missed; a "response" listener
        # runs later and can find the body gone after the next navigation.
        page.route(AUTH_RESPONSES, self._on_route)

    def _on_route(self, route: Route) -> None:
        response = route.fetch()
        if response.status == 200:
            token = response.json()["access_token"]
            assert isinstance(token, str)
            assert len(token) > 20
            self.tokens.add(token)
        route.fulfill(response=response)

    def collect(self) -> set[str]:
        return set(self.tokens)

    def assert_not_stored(self) -> None:
        """Web Storage stays empty, and no token shows up in it, in script-readable cookies or in the URL."""
        tokens = self.collect()
        state = self.page.evaluate(
            """() => ({
                local: localStorage.length,
                session: sessionStorage.length,
                dump: JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage}),
                cookies: document.cookie,
            })"""
        )
        assert state["local"] == 0
        assert state["session"] == 0
        for token in tokens:
            assert token not in state["dump"]
            assert token not in state["cookies"]
            assert token not in self.page.url


def signed_in_as(page: Page, username: str) -> None:
    expect(page.get_by_test_id("user-menu-button")).to_have_accessible_name(f"Account menu for {username}")


def signed_out(page: Page) -> None:
    expect(page.get_by_test_id("auth-status")).to_have_attribute("data-status", "anonymous")
    expect(page.get_by_test_id("auth-status").get_by_role("link", name="Log in")).to_be_visible()


def register(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    # A new account is signed in straight away and lands on its channel page.
    expect(page).to_have_url(f"{base_url}/u/{username}")
    expect(page.get_by_test_id("profile-username")).to_have_text(f"@{username}")
    signed_in_as(page, username)


def log_out(page: Page) -> None:
    page.get_by_test_id("user-menu-button").click()
    page.get_by_role("button", name="Log out").click()
    signed_out(page)


def test_sign_up_profile_follow_and_sign_out(page: Page, live_server: LiveServer) -> None:
    base = live_server.base_url
    watch = TokenWatch(page)

    page.goto(base)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Go live in minutes")
    signed_out(page)
    watch.assert_not_stored()

    # Two accounts, made through the UI.
    register(page, base, "ada_streams")
    watch.assert_not_stored()
    log_out(page)
    register(page, base, "bob_plays")
    log_out(page)
    watch.assert_not_stored()

    # A wrong password shows the server's message; then a real login.
    page.goto(f"{base}/login")
    page.get_by_label("Email or username").fill("ada_streams")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    signed_in_as(page, "ada_streams")
    assert len(watch.collect()) >= 3  # two sign-ups (each signs in) and this login
    watch.assert_not_stored()

    # Edit the profile.
    page.get_by_test_id("user-menu-button").click()
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(f"{base}/settings/profile")
    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("Bio").fill("Live-coding analytical engines every Tuesday.")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    page.goto(f"{base}/u/ada_streams")
    expect(page.get_by_test_id("profile-display-name")).to_have_text("Ada Lovelace")
    expect(page.get_by_test_id("profile-bio")).to_have_text("Live-coding analytical engines every Tuesday.")
    expect(page.get_by_role("link", name="Edit profile")).to_be_visible()
    watch.assert_not_stored()

    # A reload loses the in-memory token; the refresh cookie brings the session back.
    before = set(watch.collect())
    page.reload()
    signed_in_as(page, "ada_streams")
    expect(page.get_by_role("link", name="Edit profile")).to_be_visible()
    assert watch.collect() - before, "the session was not restored through /api/auth/refresh"
    watch.assert_not_stored()

    # Follow bob: the counts move.
    page.goto(f"{base}/u/bob_plays")
    expect(page.get_by_test_id("follower-count")).to_have_text("0")
    page.get_by_role("button", name="Follow", exact=True).click()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    expect(page.get_by_test_id("follower-count")).to_have_text("1")
    page.reload()
    expect(page.get_by_test_id("follower-count")).to_have_text("1")
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()

    # Ada is in bob's followers, and bob in ada's following.
    page.get_by_test_id("followers-link").click()
    expect(page).to_have_url(f"{base}/u/bob_plays/followers")
    items = page.get_by_test_id("follow-list-item")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Ada Lovelace")
    expect(items.first).to_contain_text("@ada_streams")
    page.goto(f"{base}/u/ada_streams/following")
    expect(page.get_by_test_id("follow-list-item")).to_have_count(1)
    expect(page.get_by_test_id("follow-list-item").first).to_contain_text("@bob_plays")
    watch.assert_not_stored()

    # Unfollow.
    page.goto(f"{base}/u/bob_plays")
    page.get_by_role("button", name="Unfollow").click()
    expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()
    expect(page.get_by_test_id("follower-count")).to_have_text("0")
    page.get_by_test_id("followers-link").click()
    expect(page.get_by_text("No followers yet.")).to_be_visible()

    # Log out: the refresh cookie is gone too, so a reload stays signed out.
    log_out(page)
    expect(page).to_have_url(f"{base}/")
    page.reload()
    signed_out(page)
    watch.assert_not_stored()


def test_register_shows_server_errors_inline(page: Page, live_server: LiveServer) -> None:
    base = live_server.base_url
    page.goto(f"{base}/register")
    page.get_by_label("Username").fill("common_pw_user")
    page.get_by_label("Email").fill("common_pw_user@example.com")
    page.get_by_label("Password").fill("password123")
    page.get_by_role("button", name="Create account").click()
    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(f"{base}/register")


def test_settings_needs_a_session(page: Page, live_server: LiveServer) -> None:
    base = live_server.base_url
    page.goto(f"{base}/settings/profile")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fsettings%2Fprofile$"))
    page.goto(f"{base}/u/nobody_here")
    expect(page.get_by_role("heading", name="User not found")).to_be_visible()
