from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_stripe import FakeStripe, running_fake_stripe


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    """A fresh local Stripe per test (it starts in milliseconds), so no state leaks between tests."""
    with running_fake_stripe() as fake:
        yield fake
