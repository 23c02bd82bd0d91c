"""Chromium through Playwright (sync API) for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.support.live_server import WEB_DIST
from tests.support.services import CHROMIUM_ARGS, require_chromium, unavailable


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_chromium()
    if not (WEB_DIST / "index.html").is_file():
        unavailable(f"the built web app ({WEB_DIST}/index.html: run `make web`)")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@dataclass
class PageProblems:
    """What the page complained about: uncaught errors and Content-Security-Policy violations."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.errors.append(f"CSP: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@contextmanager
def open_page(browser: Browser, problems: PageProblems) -> Iterator[Page]:
    """A fresh browser context (no cookies): one person. Reports CSP violations and page errors to ``problems``."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("console", problems.on_console)
    tab.on("pageerror", problems.on_page_error)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, page_problems: PageProblems) -> Iterator[Page]:
    """A fresh browser context per test; fails the test on CSP violations or page errors."""
    with open_page(browser, page_problems) as tab:
        yield tab
    assert page_problems.errors == []
