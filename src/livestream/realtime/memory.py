"""The realtime engine for a single process: everything lives in dicts on the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from livestream.logging import get_logger
from livestream.ratelimit import Counters, MemoryCounters
from livestream.realtime.engine import Listener, PresenceCount, PresenceEntry

log = get_logger("livestream.realtime")


class MemoryEngine:
    """Pub/sub, history and presence for one process.

    Publications reach the listener through ``loop.call_soon``, never synchronously inside ``publish``: a
    listener that publishes again cannot recurse, and callers see the same "delivered later" behaviour as with
    Redis. ``call_soon`` callbacks run first in, first out, so the listener receives publications in publish
    order. Delivery checks the subscription when the callback runs, so nothing arrives after ``unsubscribe``.

    ``clock`` (monotonic seconds) drives history and presence expiry; tests pass a fake one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.counters: Counters = MemoryCounters()
        self._clock = clock
        self._listener: Listener | None = None
        self._channels: set[str] = set()
        # message_id -> (published_at, payload); dicts keep insertion order, which is publish order.
        self._history: dict[str, dict[str, tuple[float, str]]] = {}
        # connection_id -> (member, expires_at)
        self._presence: dict[str, dict[str, tuple[str, float]]] = {}
        self._peaks: dict[str, int] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._channels.clear()
        self._history.clear()
        self._presence.clear()
        self._peaks.clear()
        await self.counters.close()

    # --- pub/sub -----------------------------------------------------------------------------------
    def set_listener(self, listener: Listener) -> None:
        self._listener = listener

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, channel: str, payload: str) -> None:
        self._send(channel, payload)

    def _send(self, channel: str, payload: str) -> None:
        if channel in self._channels:
            asyncio.get_running_loop().call_soon(self._deliver, channel, payload)

    def _deliver(self, channel: str, payload: str) -> None:
        if self._listener is None or channel not in self._channels:
            return
        try:
            self._listener(channel, payload)
        except Exception:
            # One faulty listener call must not stop later publications from being delivered.
            log.exception("realtime_listener_failed", channel=channel)

    # --- history -----------------------------------------------------------------------------------
    async def publish_with_history(self, channel: str, message_id: str, payload: str, keep_seconds: float) -> None:
        entries = self._history.setdefault(channel, {})
        # Re-publishing an id moves it to the end, as ZADD does with a newer score in the Redis engine.
        entries.pop(message_id, None)
        entries[message_id] = (self._clock(), payload)
        self._prune_history(channel, keep_seconds)
        self._send(channel, payload)

    async def history(self, channel: str, keep_seconds: float) -> list[str]:
        self._prune_history(channel, keep_seconds)
        return [payload for _, payload in self._history.get(channel, {}).values()]

    async def delete_with_notice(self, channel: str, message_id: str, notice: str) -> bool:
        entries = self._history.get(channel)
        if entries is None or entries.pop(message_id, None) is None:
            return False
        self._send(channel, notice)
        return True

    def _prune_history(self, channel: str, keep_seconds: float) -> None:
        entries = self._history.get(channel)
        if entries is None:
            return
        cutoff = self._clock() - keep_seconds
        # Entries are in publish order, so the old ones are a prefix.
        stale = []
        for message_id, (published_at, _) in entries.items():
            if published_at > cutoff:
                break
            stale.append(message_id)
        for message_id in stale:
            del entries[message_id]
        if not entries:
            del self._history[channel]

    # --- presence ----------------------------------------------------------------------------------
    async def presence_refresh(self, channel: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        if not entries:
            return
        expires = self._clock() + ttl
        live = self._presence.setdefault(channel, {})
        for entry in entries:
            live[entry.connection_id] = (entry.member, expires)

    async def presence_remove(self, channel: str, connection_ids: Sequence[str]) -> None:
        live = self._presence.get(channel)
        if live is None:
            return
        for connection_id in connection_ids:
            live.pop(connection_id, None)
        if not live:
            del self._presence[channel]

    async def presence_count(self, channel: str) -> PresenceCount:
        now = self._clock()
        live = self._presence.get(channel, {})
        for connection_id in [c for c, (_, expires) in live.items() if expires <= now]:
            del live[connection_id]
        if not live:
            self._presence.pop(channel, None)
        count = len({member for member, _ in live.values()})
        peak = max(count, self._peaks.get(channel, 0))
        if peak:
            self._peaks[channel] = peak
        return PresenceCount(count=count, peak=peak)

    async def presence_clear(self, channel: str) -> int:
        self._presence.pop(channel, None)
        return self._peaks.pop(channel, 0)
