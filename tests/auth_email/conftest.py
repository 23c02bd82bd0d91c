"""Fixtures for the account-email tests: the app pointed at a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import pytest

from tests.api.helpers import use_fast_hashing
from tests.e2e.conftest import browser, page, page_problems  # noqa: F401 - the browser tests' fixtures, shared
from tests.support.smtp_server import SmtpServer


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, smtp_server: SmtpServer) -> dict[str, object]:
    """SMTP on (the point of these tests); a module may add settings with ``extra_settings``."""
    extra: dict[str, object] = dict(getattr(request, "param", None) or {})
    # Retries after a refused or failed send come quickly, so an outage test waits for tenths of a second.
    return smtp_server.settings(jobs_retry_base_seconds=0.05, **extra)


@pytest.fixture(autouse=True)
def _fast_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(request, monkeypatch)
