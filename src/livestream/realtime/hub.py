"""This process's side of the realtime engine: local subscribers per channel, fan-out, presence upkeep.

The engine delivers each publication once per process; the hub hands it to every local subscriber. The
payload is framed once (:class:`Outgoing`) and every subscriber gets the same bytes: per-viewer cost is a
buffer check and a socket write, as with ``websockets.broadcast``.

Presence entries of this process's connections are refreshed in one batch per channel every third of the
TTL, so a process that dies (SIGKILL included) stops refreshing and its viewers expire within one TTL.

Joins are batched too (a raid is thousands of viewers arriving within seconds): the joins of a channel that
arrive while its previous batch is with the engine wait for the next one, which registers all their presence
entries in one call and reads the count and the history once for all of them. A batch starts only after every
one of its joiners was registered here, so its history read cannot miss a publication that the joiner did not
receive as a subscriber.
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
from livestream.realtime.engine import Engine, Listener, PresenceEntry

log = get_logger(__name__)

# Small audiences get an exact count in every hello; in a big one, joins within half a second share a read.
JOIN_EXACT_BELOW = 100
JOIN_COUNT_MAX_AGE = 0.5
# In a big audience, when the engine takes a while (a Redis round trip), a join batch waits up to this long for
# more joiners, as long as they keep coming (JOIN_GATHER_STEP), before it goes to the engine: a raid's joins then
# cost a few engine calls per burst rather than per viewer or two. The memory engine answers in microseconds:
# its batches never wait.
JOIN_GATHER_SECONDS = 0.005
JOIN_GATHER_STEP = 0.001
JOIN_GATHER_IF_FLUSH_TOOK = 0.0002


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


@dataclass(slots=True)
class Joined:
    """What a joining viewer's hello needs: the viewer count, and the channel's history (oldest first)."""

    count: int
    history: list[str]


@dataclass(slots=True)
class _JoinBatch:
    done: asyncio.Future[tuple[int, list[str]]]
    entries: list[PresenceEntry] = field(default_factory=list)
    history_seconds: float = 0.0


@dataclass
class _Channel:
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    last_count: int | None = None  # as last sent in a viewers frame
    # The count as last read, for hellos: counting reads every entry, so in a big audience a burst of joins
    # shares one read per JOIN_COUNT_MAX_AGE instead of costing one each (the viewers frame corrects it).
    counted: int = 0
    counted_at: float = float("-inf")
    # Joins waiting for the next batch, whether a batch is with the engine now, and how long the last one took.
    joining: _JoinBatch | None = None
    flushing: bool = False
    flush_took: float = 0.0
    # False for a channel this process only listens to (``Hub.listen``): no presence entries, no viewer counts.
    presence: bool = True


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
        self._flushes: set[asyncio.Task[None]] = set()  # join batches with the engine
        self._leaves: set[asyncio.Task[None]] = set()  # leave_soon()s not done yet
        self._watchers: list[Listener] = []

    def watch(self, watcher: Listener) -> None:
        """Also hand every publication this process receives to ``watcher`` (before its fan-out); it runs on the
        event loop for every message of every channel, so it must be cheap and must not raise."""
        self._watchers.append(watcher)

    async def start(self) -> None:
        self.engine.set_listener(self._on_publication)
        await self.engine.start()
        self._tasks = [
            asyncio.create_task(self._every(self.presence_ttl / 3, self._refresh_presence), name="presence"),
            asyncio.create_task(self._every(self.count_interval, self._broadcast_counts), name="viewer-counts"),
        ]

    async def close(self) -> None:
        # The sockets closed by the server's shutdown are leaving: let them (each is one engine call).
        if self._leaves:
            await asyncio.wait(list(self._leaves), timeout=5)
        tasks = [*self._tasks, *self._flushes, *self._leaves]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for channel, state in list(self._channels.items()):
            if not state.presence:
                continue
            # A clean shutdown takes its viewers out at once instead of waiting for the TTL.
            with contextlib.suppress(Exception):
                await self.engine.presence_remove(channel, list(state.subscribers))
        self._channels.clear()
        await self.engine.close()

    async def join(self, channel: str, subscriber: Subscriber, *, history_seconds: float = 0.0) -> Joined:
        """Subscribe (first local viewer only), register presence, and return what the hello needs: the viewer
        count and, with ``history_seconds``, the history (of at least that many seconds). Publications on the
        channel reach ``subscriber`` from the moment this is called, so history and publications overlap rather
        than leave a gap: the caller drops the duplicates."""
        state = self._channels.get(channel)
        if state is None:
            async with self._lock:
                state = self._channels.get(channel)
                if state is None:
                    # Listed only once subscribed: a joiner that finds the channel never reads history before
                    # this process receives the channel's publications.
                    await self.engine.subscribe(channel)
                    state = self._channels[channel] = _Channel()
        # No await between finding the channel and registering: a last leave cannot remove it in between.
        state.subscribers[subscriber.connection_id] = subscriber
        batch = state.joining
        if batch is None:
            batch = state.joining = _JoinBatch(asyncio.get_running_loop().create_future())
            if not state.flushing:
                state.flushing = True
                task = asyncio.create_task(self._flush_joins(channel, state))
                self._flushes.add(task)
                task.add_done_callback(self._flushes.discard)
        batch.entries.append(self._entry(subscriber))
        batch.history_seconds = max(batch.history_seconds, history_seconds)
        # shield: a joiner that gives up (its socket closed) must not cancel the batch the others wait for.
        count, history = await asyncio.shield(batch.done)
        # A viewer always counts itself, even when the shared read predates it.
        return Joined(max(count, 1), history)

    async def _flush_joins(self, channel: str, state: _Channel) -> None:
        """Serve the channel's join batches one after another until no joiner waits."""
        batch: _JoinBatch | None = None
        try:
            while state.joining is not None:
                if len(state.subscribers) >= JOIN_EXACT_BELOW and state.flush_took >= JOIN_GATHER_IF_FLUSH_TOOK:
                    await self._gather(state)
                batch = state.joining
                if batch is None:
                    break
                state.joining = None
                started = time.monotonic()
                try:
                    await self.engine.presence_refresh(channel, batch.entries, self.presence_ttl)
                    now = time.monotonic()
                    if len(state.subscribers) < JOIN_EXACT_BELOW or now - state.counted_at > JOIN_COUNT_MAX_AGE:
                        state.counted_at = now
                        state.counted = (await self.engine.presence_count(channel)).count
                    history = await self.engine.history(channel, batch.history_seconds) if batch.history_seconds else []
                except Exception as exc:  # every joiner of the batch hears of it (the engine is unreachable)
                    if not batch.done.done():
                        batch.done.set_exception(exc)
                    continue
                finally:
                    state.flush_took = time.monotonic() - started
                if not batch.done.done():
                    batch.done.set_result((state.counted, history))
        finally:
            state.flushing = False
            # Cancelled (the hub is closing): nobody may be left waiting for a batch that will never be served.
            for unserved in (batch, state.joining):
                if unserved is not None and not unserved.done.done():
                    unserved.done.cancel()
            state.joining = None

    async def listen(self, channel: str, subscriber: Subscriber) -> None:
        """Receive ``channel``'s publications in ``subscriber``, without presence or viewer counts (a process's
        dispatcher for a channel of its own, such as the notifications'). The engine subscription is shared with
        every other local subscriber of the channel, and dropped by the last ``unlisten``."""
        async with self._lock:
            state = self._channels.get(channel)
            if state is None:
                await self.engine.subscribe(channel)
                state = self._channels[channel] = _Channel(presence=False)
            state.subscribers[subscriber.connection_id] = subscriber

    async def unlisten(self, channel: str, subscriber: Subscriber) -> None:
        async with self._lock:
            state = self._channels.get(channel)
            if state is None or state.subscribers.pop(subscriber.connection_id, None) is None:
                return
            if not state.subscribers:
                del self._channels[channel]
                await self.engine.unsubscribe(channel)

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

    @staticmethod
    async def _gather(state: _Channel) -> None:
        """Let the next batch grow while joiners keep arriving, for at most JOIN_GATHER_SECONDS."""
        deadline = time.monotonic() + JOIN_GATHER_SECONDS
        size = len(state.joining.entries) if state.joining else 0
        while time.monotonic() < deadline:
            await asyncio.sleep(JOIN_GATHER_STEP)
            grown = len(state.joining.entries) if state.joining else 0
            if grown == size:
                return
            size = grown

    def leave_soon(self, channel: str, subscriber: Subscriber) -> None:
        """``leave`` from a callback that cannot await (a socket's end, seen by its protocol)."""
        task = asyncio.create_task(self._leave_quietly(channel, subscriber))
        self._leaves.add(task)
        task.add_done_callback(self._leaves.discard)

    async def _leave_quietly(self, channel: str, subscriber: Subscriber) -> None:
        try:
            await self.leave(channel, subscriber)
        except Exception as exc:  # its presence entry then expires by TTL, as after a crash
            log.warning("realtime_leave_failed", channel=channel, error=type(exc).__name__)

    def send_local(self, channel: str, text: str) -> None:
        self._fan_out(channel, Outgoing(text))

    # --- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _entry(subscriber: Subscriber) -> PresenceEntry:
        return PresenceEntry(subscriber.connection_id, subscriber.member)

    def _on_publication(self, channel: str, payload: str) -> None:
        for watcher in self._watchers:
            watcher(channel, payload)
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
            if not state.presence:
                continue
            entries = [self._entry(s) for s in list(state.subscribers.values())]
            if entries:
                await self.engine.presence_refresh(channel, entries, self.presence_ttl)

    async def _broadcast_counts(self) -> None:
        for channel, state in list(self._channels.items()):
            if not state.presence:
                continue
            count = (await self.engine.presence_count(channel)).count
            if count != state.last_count:
                state.last_count = count
                self._fan_out(channel, Outgoing(self.count_frame(count)))
