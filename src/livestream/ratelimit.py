"""Fixed-window failure counters for throttling: in memory for one process, Redis for many.

A counter starts its window at the first hit and expires with it, so a lock can never outlast the
window, whatever an attacker keeps sending (the real owner is back within ``window`` seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True)
class CounterState:
    count: int
    retry_after: int  # seconds until the window ends


class Counters(Protocol):
    async def hit(self, key: str, window: int) -> CounterState: ...

    async def peek(self, key: str) -> CounterState: ...

    async def reset(self, key: str) -> None: ...

    async def release(self, key: str) -> None:
        """Give one hit back (never below zero, never extending the window)."""
        ...

    async def close(self) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float]] = {}

    def _now(self) -> float:
        return time.monotonic()

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] <= self._now():
            del self._entries[key]
            return None
        return entry

    async def hit(self, key: str, window: int) -> CounterState:
        entry = self._live(key)
        count, expires = (entry[0] + 1, entry[1]) if entry else (1, self._now() + window)
        self._entries[key] = (count, expires)
        if len(self._entries) > 100_000:
            self._sweep()
        return CounterState(count, max(1, int(expires - self._now() + 0.999)))

    async def peek(self, key: str) -> CounterState:
        entry = self._live(key)
        if entry is None:
            return CounterState(0, 0)
        return CounterState(entry[0], max(1, int(entry[1] - self._now() + 0.999)))

    async def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    async def release(self, key: str) -> None:
        entry = self._live(key)
        if entry is not None:
            if entry[0] <= 1:
                del self._entries[key]
            else:
                self._entries[key] = (entry[0] - 1, entry[1])

    def _sweep(self) -> None:
        now = self._now()
        for key in [k for k, (_, exp) in self._entries.items() if exp <= now]:
            del self._entries[key]

    async def close(self) -> None:
        self._entries.clear()


class RedisCounters:
    # INCR and the first-hit EXPIRE in one script, so a crash between them cannot leave a counter
    # without an expiry (which would lock an account for ever).
    _HIT = """
    local n = redis.call('INCR', KEYS[1])
    if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
    local ttl = redis.call('TTL', KEYS[1])
    if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
    return {n, ttl}
    """

    _RELEASE = """
    local n = tonumber(redis.call('GET', KEYS[1]) or '0')
    if n <= 1 then redis.call('DEL', KEYS[1]) else redis.call('DECR', KEYS[1]) end
    return n
    """

    def __init__(self, redis: Redis, prefix: str = "ls:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._hit_script = redis.register_script(self._HIT)
        self._release_script = redis.register_script(self._RELEASE)

    async def hit(self, key: str, window: int) -> CounterState:
        count, ttl = await self._hit_script(keys=[self._prefix + key], args=[window])
        return CounterState(int(count), max(1, int(ttl)))

    async def peek(self, key: str) -> CounterState:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._prefix + key)
        pipe.ttl(self._prefix + key)
        value, ttl = await pipe.execute()
        if value is None:
            return CounterState(0, 0)
        return CounterState(int(value), max(1, int(ttl)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def release(self, key: str) -> None:
        await self._release_script(keys=[self._prefix + key])

    async def close(self) -> None:
        await self._redis.aclose()
