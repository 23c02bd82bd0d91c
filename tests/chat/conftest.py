"""The chat tests use the API tests' fixtures: cheap Argon2 and settings overrides (imported to register them).

Modules that run a real server define their own ``server`` fixture (each with its settings); ``api`` and
``ws_base`` reach whichever one the module defines.
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api.conftest import _fast_argon2, real_argon2, settings_overrides
from tests.support.live_server import LiveServer

__all__ = ["_fast_argon2", "api", "real_argon2", "settings_overrides", "ws_base"]


@pytest.fixture
async def api(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def ws_base(server: LiveServer) -> str:
    return server.base_url.replace("http://", "ws://")
