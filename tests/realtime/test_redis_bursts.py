"""A burst of joins and leaves (every viewer reconnecting after a restart) must wait for Redis, not fail."""

from __future__ import annotations

import asyncio

import pytest

from livestream.realtime.engine import PresenceEntry
from livestream.realtime.redis import MAX_CONNECTIONS
from tests.realtime.conftest import RedisEngines

pytestmark = pytest.mark.redis


async def test_more_concurrent_calls_than_pooled_connections_all_succeed(redis_engines: RedisEngines) -> None:
    engine = await redis_engines()
    burst = MAX_CONNECTIONS * 6
    entries = [PresenceEntry(f"c{n}", f"a:{n}") for n in range(burst)]
    await asyncio.gather(*(engine.presence_refresh("stream:burst", [entry], 30) for entry in entries))
    assert (await engine.presence_count("stream:burst")).count == burst
    await asyncio.gather(*(engine.presence_remove("stream:burst", [entry.connection_id]) for entry in entries))
    assert (await engine.presence_count("stream:burst")).count == 0
