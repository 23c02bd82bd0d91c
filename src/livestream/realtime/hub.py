"""This process's side of the realtime engine: local subscribers per channel, fan-out, presence upkeep.

The engine delivers each publication once per process; the hub hands it to every local subscriber. The
payload is framed once (:class:`Outgoing`) and every subscriber gets the same bytes: per-viewer cost is a
buffer check and a socket write, as with ``websockets.broadcast``.

Presence entries of this process's connections are refreshed in one batch per channel every third of the
TTL, so a process that dies (SIGKILL included) stops refreshing and its viewers expire within one TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from livestream.logging import get_logger
from livestream.realtime.engine import Engine, PresenceEntry

log = get_logger(__name__)

# Small audiences get an exact count in every hello; in a big one, joins within half a second share a read.
JOIN_EXACT_BELOW = 100
JOIN_COUNT_MAX_AGE = 0.5


def text_frame(data: bytes) -> bytes:
    """An unmasked, uncompressed, final WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + data
    return struct.pack("!BBQ", 0x81, 127, size) + data


class Outgoing:
    """One frame for many sockets: encoded to UTF-8 and framed once, however many receive it."""

    __slots__ = ("frame", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.frame = text_frame(text.encode())


class Subscriber(Protocol):
    connection_id: str
    member: str

    def deliver(self, message: Outgoing) -> None:
        """Queue or write the frame without blocking; a subscriber that cannot keep up drops itself."""
        ...


@dataclass
class _Channel:
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    last_count: int | None = None  # as last sent in a viewers frame
    # The count as last read, for hellos: counting reads every entry, so in a big audience a burst of joins
    # shares one read per JOIN_COUNT_MAX_AGE instead of costing one each (the viewers frame corrects it).
    counted: int = 0
    counted_at: float = float("-inf")


class Hub:
    def __init__(
        self,
        engine: Engine,
        *,
        presence_ttl: float,
        count_frame: Callable[[int], str],
        count_interval: float = 2.0,
    ) -> None:
        self.engine = engine
        self.count_frame = count_frame
        self.presence_ttl = presence_ttl
        self.count_interval = count_interval
        self._channels: dict[str, _Channel] = {}
        # Serialises the first-join subscribe and the last-leave unsubscribe of a channel.
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.engine.set_listener(self._on_publication)
        await self.engine.start()
        self._tasks = [
            asyncio.create_task(self._every(self.presence_ttl / 3, self._refresh_presence), name="presence"),
            asyncio.create_task(self._every(self.count_interval, self._broadcast_counts), name="viewer-counts"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for channel, state in list(self._channels.items()):
            # A clean shutdown takes its viewers out at once instead of waiting for the TTL.
            with contextlib.suppress(Exception):
                await self.engine.presence_remove(channel, list(state.subscribers))
        self._channels.clear()
        await self.engine.close()

    async def join(self, channel: str, subscriber: Subscriber) -> int:
        """Subscribe (first local viewer only), register presence, and return the viewer count for the hello."""
        async with self._lock:
            state = self._channels.get(channel)
            if state is None:
                state = self._channels[channel] = _Channel()
                await self.engine.subscribe(channel)
            state.subscribers[subscriber.connection_id] = subscriber
        await self.engine.presence_refresh(channel, [self._entry(subscriber)], self.presence_ttl)
        now = time.monotonic()
        if len(state.subscribers) < JOIN_EXACT_BELOW or now - state.counted_at > JOIN_COUNT_MAX_AGE:
            state.counted_at = now
            state.counted = (await self.engine.presence_count(channel)).count
        # A viewer always counts itself, even when the shared read predates it.
        return max(state.counted, 1)

    async def update_member(self, channel: str, subscriber: Subscriber) -> None:
        """The connection signed in (or switched account): it now counts as that user."""
        await self.engine.presence_refresh(channel, [self._entry(subscriber)], self.presence_ttl)

    async def leave(self, channel: str, subscriber: Subscriber) -> None:
        async with self._lock:
            state = self._channels.get(channel)
            if state is None or state.subscribers.pop(subscriber.connection_id, None) is None:
                return
            if not state.subscribers:
                del self._channels[channel]
                await self.engine.unsubscribe(channel)
        await self.engine.presence_remove(channel, [subscriber.connection_id])

    def send_local(self, channel: str, text: str) -> None:
        self._fan_out(channel, Outgoing(text))

    # --- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _entry(subscriber: Subscriber) -> PresenceEntry:
        return PresenceEntry(subscriber.connection_id, subscriber.member)

    def _on_publication(self, channel: str, payload: str) -> None:
        self._fan_out(channel, Outgoing(payload))

    def _fan_out(self, channel: str, message: Outgoing) -> None:
        state = self._channels.get(channel)
        if state is None:
            return
        # A copy: a subscriber that falls behind removes itself while we iterate.
        for subscriber in list(state.subscribers.values()):
            subscriber.deliver(message)

    async def _every(self, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the engine may be briefly unreachable; try again next round
                log.warning("realtime_upkeep_failed", job=getattr(job, "__name__", "job"), error=str(exc))

    async def _refresh_presence(self) -> None:
        for channel, state in list(self._channels.items()):
            entries = [self._entry(s) for s in list(state.subscribers.values())]
            if entries:
                await self.engine.presence_refresh(channel, entries, self.presence_ttl)

    async def _broadcast_counts(self) -> None:
        for channel, state in list(self._channels.items()):
            count = (await self.engine.presence_count(channel)).count
            if count != state.last_count:
                state.last_count = count
                self._fan_out(channel, Outgoing(self.count_frame(count)))
