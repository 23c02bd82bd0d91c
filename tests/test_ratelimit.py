"""One contract for the failure counters, run against memory and the real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from livestream.ratelimit import Counters, MemoryCounters, RedisCounters


@pytest.fixture(params=["memory", "redis"])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[Counters]:
    if request.param == "memory":
        impl: Counters = MemoryCounters()
    else:
        url: str = request.getfixturevalue("redis_url")
        impl = RedisCounters(Redis.from_url(url))
    try:
        yield impl
    finally:
        await impl.close()


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


async def test_hits_count_up_within_a_window(counters: Counters) -> None:
    key = _key()
    states = [await counters.hit(key, 60) for _ in range(3)]
    assert [s.count for s in states] == [1, 2, 3]
    assert all(1 <= s.retry_after <= 60 for s in states)
    assert (await counters.peek(key)).count == 3


async def test_window_expires_and_never_extends(counters: Counters) -> None:
    key = _key()
    await counters.hit(key, 1)
    await asyncio.sleep(0.6)
    state = await counters.hit(key, 1)
    # Further hits do not push the expiry out, so a lock ends when its window does.
    assert state.retry_after <= 1
    await asyncio.sleep(1.1)
    assert (await counters.peek(key)).count == 0


async def test_reset_and_peek_of_unknown_key(counters: Counters) -> None:
    key = _key()
    assert (await counters.peek(key)).count == 0
    await counters.hit(key, 60)
    await counters.reset(key)
    assert (await counters.peek(key)).count == 0


async def test_keys_are_independent(counters: Counters) -> None:
    a, b = _key(), _key()
    await counters.hit(a, 60)
    await counters.hit(a, 60)
    assert (await counters.hit(b, 60)).count == 1


async def test_release_gives_one_hit_back_without_going_negative(counters: Counters) -> None:
    key = _key()
    await counters.hit(key, 60)
    await counters.hit(key, 60)
    await counters.release(key)
    assert (await counters.peek(key)).count == 1
    await counters.release(key)
    await counters.release(key)
    assert (await counters.peek(key)).count == 0
    assert (await counters.hit(key, 60)).count == 1
