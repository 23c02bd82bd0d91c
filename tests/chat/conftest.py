"""Fixtures shared by the chat tests: the API tests' cheap Argon2 and settings overrides."""

from __future__ import annotations

import pytest

from tests.api.helpers import overrides_from, use_fast_hashing


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return overrides_from(request)


@pytest.fixture(autouse=True)
def _fast_argon2(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_hashing(request, monkeypatch)


@pytest.fixture
def real_argon2() -> None:
    """Requested by tests that must run with the production Argon2 parameters."""
