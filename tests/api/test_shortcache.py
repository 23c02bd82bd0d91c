"""ShortCache: the age limit, shared loads, refreshes ahead of the limit, and invalidation during a load."""

from __future__ import annotations

import asyncio

import pytest

from livestream.shortcache import ShortCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """Counts its loads; each returns the next number, optionally after a gate opens."""

    def __init__(self) -> None:
        self.loads = 0
        self.gate: asyncio.Event | None = None

    async def load(self) -> int:
        self.loads += 1
        number = self.loads
        if self.gate is not None:
            await self.gate.wait()
        return number


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_value_is_never_served_past_its_age() -> None:
    clock, source = Clock(), Source()
    cache: ShortCache[str, int] = ShortCache(0.5, clock=clock)
    assert await cache.get("k", source.load) == 1
    clock.now += 0.2
    assert await cache.get("k", source.load) == 1  # fresh: no load
    assert source.loads == 1
    clock.now += 0.3  # 0.5 s after the load started: too old, the reader waits for a new one
    assert await cache.get("k", source.load) == 2


async def test_late_in_its_age_a_reader_gets_it_at_once_and_starts_a_refresh() -> None:
    clock, source = Clock(), Source()
    cache: ShortCache[str, int] = ShortCache(0.5, clock=clock)
    assert await cache.get("k", source.load) == 1
    clock.now += 0.3
    assert await cache.get("k", source.load) == 1
    await settle()
    assert source.loads == 1  # not yet: refreshes start at 0.8 of the age
    clock.now += 0.15
    source.gate = asyncio.Event()
    assert await cache.get("k", source.load) == 1  # not waiting for the refresh
    assert await cache.get("k", source.load) == 1
    await settle()
    assert source.loads == 2  # one refresh for both readers
    source.gate.set()
    await settle()
    assert await cache.get("k", source.load) == 2
    # The refreshed value's age counts from its own load's start.
    clock.now += 0.39
    assert await cache.get("k", source.load) == 2
    await settle()
    assert source.loads == 2


async def test_readers_without_a_value_share_one_load() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache: ShortCache[str, int] = ShortCache(0.5)
    readers = [asyncio.ensure_future(cache.get("k", source.load)) for _ in range(10)]
    await settle()
    source.gate.set()
    assert await asyncio.gather(*readers) == [1] * 10
    assert source.loads == 1


async def test_a_failed_load_reaches_its_readers_and_stores_nothing() -> None:
    cache: ShortCache[str, int] = ShortCache(0.5)

    async def broken() -> int:
        raise LookupError("gone")

    with pytest.raises(LookupError):
        await cache.get("k", broken)
    assert len(cache) == 0


async def test_invalidation_drops_the_value_and_what_a_running_load_read() -> None:
    source = Source()
    cache: ShortCache[str, int] = ShortCache(0.5)
    assert await cache.get("k", source.load) == 1
    source.gate = asyncio.Event()
    early = asyncio.ensure_future(cache.get("other", source.load))  # a load running across the change
    await settle()
    cache.invalidate("k")
    source.gate.set()
    assert await early == 2  # its reader gets what it read...
    assert len(cache) == 0  # ...but it is not kept: it may predate the change
    source.gate = None
    assert await cache.get("k", source.load) == 3


async def test_a_reader_who_goes_away_does_not_cancel_the_load() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache: ShortCache[str, int] = ShortCache(0.5)
    first = asyncio.ensure_future(cache.get("k", source.load))
    await settle()
    second = asyncio.ensure_future(cache.get("k", source.load))
    await settle()
    first.cancel()
    source.gate.set()
    assert await second == 1
    assert source.loads == 1


async def test_close_cancels_running_loads() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache: ShortCache[str, int] = ShortCache(0.5)
    reader = asyncio.ensure_future(cache.get("k", source.load))
    await settle()
    await cache.close()
    with pytest.raises(asyncio.CancelledError):
        await reader
