"""A per-process cache of values that may be a moment old.

* Each value is served at most ``max_age`` seconds after its load *started*.
* One load per key runs at a time; readers who find no value wait for it together.
* Past ``refresh_after`` (0.8 of ``max_age`` by default) a reader still gets the value at once and starts a
  load in the background: under steady traffic nobody waits for the database, and the hard limit still holds.
  (Late, so that a hot key costs few reads: on SQLite each read is several thread hand-offs that take the GIL
  from the event loop.)
* ``invalidate`` drops values at once, and what loads already running when it was called would have stored.

It holds what every reader may see (public views); whatever depends on who asks must not go in it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ShortCache(Generic[K, V]):
    def __init__(
        self,
        max_age: float,
        *,
        refresh_after: float | None = None,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age < 0:
            raise ValueError("max_age must not be negative")
        self.max_age = max_age
        self.refresh_after = min(max_age, max_age * 0.8 if refresh_after is None else refresh_after)
        self.max_entries = max_entries
        self._clock = clock
        self._values: dict[K, tuple[V, float, float]] = {}  # value, served until, refreshed from
        self._loads: dict[K, asyncio.Task[V]] = {}  # the current load of each key
        self._running: set[asyncio.Task[V]] = set()  # every load not finished (an invalidated one too)
        # Bumped by every invalidation: a load that started before one must not store what it read.
        self._generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value of ``key``, or what ``load()`` returns (shared with concurrent readers of the key).

        A failed load stores nothing; its exception reaches every reader who waited for it.
        """
        found = self._values.get(key)
        if found is not None:
            value, served_until, refresh_from = found
            now = self._clock()
            if now < served_until:
                if now >= refresh_from and key not in self._loads:
                    self._start(key, load)
                return value
        task = self._loads.get(key) or self._start(key, load)
        # Shielded: a reader who goes away (a closed connection) does not cancel the others' load.
        return await asyncio.shield(task)

    def _start(self, key: K, load: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        task = asyncio.ensure_future(self._load(key, load))
        self._loads[key] = task
        self._running.add(task)
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        generation, started = self._generation, self._clock()
        value = await load()
        if self.max_age > 0 and generation == self._generation:
            if len(self._values) >= self.max_entries:
                self._evict()
            self._values[key] = (value, started + self.max_age, started + self.refresh_after)
        return value

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        self._running.discard(task)
        if self._loads.get(key) is task:
            del self._loads[key]
        if not task.cancelled():
            task.exception()  # retrieved here too: every reader may have gone away

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (_, served_until, _) in self._values.items() if served_until <= now]:
            del self._values[key]
        if len(self._values) >= self.max_entries:
            self._values.clear()

    def invalidate(self, key: K | None = None) -> None:
        """Drop ``key`` (every key when None); loads running now will not store what they read."""
        self._generation += 1
        if key is None:
            self._values.clear()
            self._loads.clear()
        else:
            self._values.pop(key, None)
            self._loads.pop(key, None)

    async def close(self) -> None:
        """Cancel the loads still running (at shutdown, before the database they read closes)."""
        tasks = list(self._running)
        self.invalidate()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._values)
