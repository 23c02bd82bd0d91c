"""Both realtime engines behind one harness, so one test body runs against memory and the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from livestream.realtime.engine import Engine
from livestream.realtime.memory import MemoryEngine
from livestream.realtime.redis import RedisEngine


class Received:
    """A listener that records publications in arrival order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, channel: str, payload: str) -> None:
        self.items.append((channel, payload))

    def payloads(self, channel: str) -> list[str]:
        return [p for c, p in self.items if c == channel]

    async def wait_for(self, count: int) -> list[tuple[str, str]]:
        """Wait until ``count`` publications arrived; delivery is asynchronous in both engines."""
        await eventually(lambda: len(self.items) >= count)
        return self.items


async def eventually(condition: Callable[[], bool | Awaitable[bool]], seconds: float = 5.0) -> None:
    """Poll ``condition`` until true; fails with TimeoutError after ``seconds``."""
    async with asyncio.timeout(seconds):
        while True:
            result = condition()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.005)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    engine: Engine
    received: Received
    #: Let ``seconds`` pass for expiry: the memory engine's fake clock jumps, Redis (whose scripts read the
    #: server's clock) really sleeps.
    advance: Callable[[float], Awaitable[None]]


@pytest.fixture
async def redis_admin(redis_url: str) -> AsyncIterator[Redis]:
    """A third client, for looking at Redis from outside the engines (PUBSUB NUMSUB, CLIENT LIST, PTTL)."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


class RedisEngines:
    """Starts Redis engines ("processes") sharing one fresh key prefix; ``close`` stops them and deletes the prefix."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"test:rt:{uuid.uuid4().hex[:12]}:"
        self.engines: list[RedisEngine] = []

    async def __call__(self, client_name: str | None = None) -> RedisEngine:
        # client_name lets a test find this engine's connections in CLIENT LIST.
        url = f"{self.url}?client_name={client_name}" if client_name else self.url
        engine = RedisEngine(url, prefix=self.prefix)
        self.engines.append(engine)
        await engine.start()
        return engine

    async def close(self) -> None:
        for engine in self.engines:
            await engine.close()
        client = Redis.from_url(self.url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{self.prefix}*", count=500)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


@pytest.fixture
async def redis_engines(redis_url: str) -> AsyncIterator[RedisEngines]:
    engines = RedisEngines(redis_url)
    try:
        yield engines
    finally:
        await engines.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def rt(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    received = Received()
    if request.param == "memory":
        clock = FakeClock()
        memory = MemoryEngine(clock=clock)

        async def advance(seconds: float) -> None:
            clock.now += seconds
            await asyncio.sleep(0)

        memory.set_listener(received)
        await memory.start()
        try:
            yield Harness(memory, received, advance)
        finally:
            await memory.close()
        return

    engines = RedisEngines(request.getfixturevalue("redis_url"))
    try:
        engine = await engines()
        engine.set_listener(received)
        yield Harness(engine, received, asyncio.sleep)
    finally:
        await engines.close()
