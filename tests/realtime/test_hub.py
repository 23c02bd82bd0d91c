"""The hub's joins on the memory engine: batched presence, one count and history read per batch, no gap between
the history and the publications, and failures and shutdowns that leave nobody waiting."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence

import pytest

from livestream.realtime.engine import PresenceCount, PresenceEntry
from livestream.realtime.hub import JOIN_EXACT_BELOW, Hub, Outgoing
from livestream.realtime.memory import MemoryEngine
from tests.realtime.conftest import eventually

_ids = itertools.count()


class Viewer:
    def __init__(self, member: str = "") -> None:
        self.connection_id = f"c{next(_ids)}"
        self.member = member or f"a:{self.connection_id}"
        self.received: list[str] = []

    def deliver(self, message: Outgoing) -> None:
        self.received.append(message.text)


class CountingEngine(MemoryEngine):
    """The memory engine, counting the calls a join makes; ``fail`` makes presence refreshes raise."""

    def __init__(self) -> None:
        super().__init__()
        self.refreshes: list[int] = []
        self.counts = 0
        self.histories = 0
        self.fail = False
        self.gate: asyncio.Event | None = None  # when set, refreshes wait for it

    async def presence_refresh(self, channel: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        self.refreshes.append(len(entries))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("engine unreachable")
        await super().presence_refresh(channel, entries, ttl)

    async def presence_count(self, channel: str) -> PresenceCount:
        self.counts += 1
        return await super().presence_count(channel)

    async def history(self, channel: str, keep_seconds: float) -> list[str]:
        self.histories += 1
        return await super().history(channel, keep_seconds)


@pytest.fixture
async def engine() -> CountingEngine:
    return CountingEngine()


@pytest.fixture
async def hub(engine: CountingEngine) -> AsyncIterator[Hub]:
    hub = Hub(engine, presence_ttl=30, count_frame=lambda n: f'{{"type":"viewers","count":{n}}}')
    await hub.start()
    try:
        yield hub
    finally:
        await hub.close()


async def test_concurrent_joins_share_one_refresh_count_and_history_read(hub: Hub, engine: CountingEngine) -> None:
    await engine.publish_with_history("stream:a", "m1", '{"id":"m1"}', keep_seconds=60)
    engine.gate = asyncio.Event()
    first = asyncio.create_task(hub.join("stream:a", Viewer(), history_seconds=60))
    await eventually(lambda: engine.refreshes == [1])
    # These arrive while the first batch is with the engine: they wait for the next one, together.
    rest = [asyncio.create_task(hub.join("stream:a", Viewer(), history_seconds=60)) for _ in range(20)]
    await asyncio.sleep(0)
    engine.gate.set()
    joined = await asyncio.gather(first, *rest)
    assert engine.refreshes == [1, 20]
    assert engine.counts == 2
    assert engine.histories == 2
    assert joined[0].count == 1
    assert {j.count for j in joined[1:]} == {21}
    assert all(j.history == ['{"id":"m1"}'] for j in joined)
    assert (await engine.presence_count("stream:a")).count == 21


async def test_a_big_audience_gathers_joins_into_few_batches(hub: Hub, engine: CountingEngine) -> None:
    viewers = [Viewer() for _ in range(JOIN_EXACT_BELOW)]
    for viewer in viewers:
        await hub.join("stream:big", viewer)
    engine.refreshes.clear()
    joined = await asyncio.gather(*(hub.join("stream:big", Viewer()) for _ in range(50)))
    assert sum(engine.refreshes) == 50
    assert len(engine.refreshes) <= 2
    assert all(j.count >= 1 for j in joined)


async def test_history_and_publications_overlap_without_a_gap(hub: Hub, engine: CountingEngine) -> None:
    """A message published while a viewer joins is in its history, or reaches it as a subscriber, or both."""
    await hub.join("stream:g", Viewer())  # the channel is subscribed
    engine.gate = asyncio.Event()
    viewer = Viewer()
    joining = asyncio.create_task(hub.join("stream:g", viewer, history_seconds=60))
    await eventually(lambda: len(engine.refreshes) == 2)
    await engine.publish_with_history("stream:g", "m1", '{"id":"m1"}', keep_seconds=60)
    engine.gate.set()
    joined = await joining
    await eventually(lambda: bool(viewer.received))
    assert joined.history == ['{"id":"m1"}']
    assert viewer.received == ['{"id":"m1"}']  # the gateway drops such duplicates by id


async def test_a_failing_engine_fails_every_joiner_of_the_batch(hub: Hub, engine: CountingEngine) -> None:
    engine.fail = True
    results = await asyncio.gather(*(hub.join("stream:f", Viewer()) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    engine.fail = False
    assert (await hub.join("stream:f", Viewer())).count >= 1


async def test_closing_the_hub_leaves_no_joiner_waiting(engine: CountingEngine) -> None:
    hub = Hub(engine, presence_ttl=30, count_frame=str)
    await hub.start()
    engine.gate = asyncio.Event()
    joins = [asyncio.create_task(hub.join("stream:c", Viewer())) for _ in range(3)]
    await eventually(lambda: bool(engine.refreshes))
    await hub.close()
    done, pending = await asyncio.wait(joins, timeout=5)
    assert not pending
    assert all(task.cancelled() for task in done)


async def test_leave_soon_removes_the_viewer_and_a_closing_hub_waits_for_it(engine: CountingEngine) -> None:
    hub = Hub(engine, presence_ttl=30, count_frame=str)
    await hub.start()
    stays, goes = Viewer(), Viewer()
    await hub.join("stream:l", stays)
    await hub.join("stream:l", goes)
    hub.leave_soon("stream:l", goes)
    await eventually(lambda: engine._presence["stream:l"].keys() == {stays.connection_id})
    hub.leave_soon("stream:l", stays)
    await hub.close()  # waits for that leave: nothing is left of the channel
    assert "stream:l" not in engine._presence


async def test_watchers_see_publications_before_the_viewers(hub: Hub, engine: CountingEngine) -> None:
    viewer = Viewer()
    await hub.join("stream:w", viewer)
    seen: list[tuple[str, str, int]] = []
    hub.watch(lambda channel, payload: seen.append((channel, payload, len(viewer.received))))
    await engine.publish("stream:w", "news")
    await eventually(lambda: viewer.received == ["news"])
    assert seen == [("stream:w", "news", 0)]
