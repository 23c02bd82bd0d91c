from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.tips.support import wire_test_provider


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"payments": "test"}


@pytest.fixture
async def tips_client(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The API client, with the test provider's webhook deliveries routed back into this app."""
    if container_has_test_provider(app):
        wire_test_provider(app)
    return client


def container_has_test_provider(app: FastAPI) -> bool:
    return app.state.container.tipping.test_provider is not None
