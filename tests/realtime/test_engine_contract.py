"""One contract for the realtime engine, run against memory and the real Redis; then what only Redis can show
(several processes, one SUBSCRIBE per channel, surviving a dropped pub/sub connection)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from livestream.realtime.engine import PresenceCount, PresenceEntry
from livestream.realtime.factory import make_engine
from livestream.realtime.memory import MemoryEngine
from livestream.realtime.redis import PRESENCE_KEY_GRACE_MS, RedisEngine
from tests.realtime.conftest import Harness, Received, RedisEngines, eventually

# Short enough to wait out on the real Redis. Nothing below depends on a wait being short: expiry is awaited
# (``eventually``) after at least the time it needs, and an entry is only expected alive right after its refresh.
TTL = 0.5


def _channel() -> str:
    return f"stream:{uuid.uuid4().hex[:8]}"


def _entry(connection_id: str, member: str) -> PresenceEntry:
    return PresenceEntry(connection_id=connection_id, member=member)


async def _flush(rt: Harness, channel: str) -> None:
    """Publish a marker on ``channel`` (subscribed) and wait for it: whatever was published before has arrived."""
    marker = f"marker-{uuid.uuid4().hex}"
    await rt.engine.publish(channel, marker)
    await eventually(lambda: marker in rt.received.payloads(channel))


# --- pub/sub -----------------------------------------------------------------------------------------


async def test_publications_arrive_in_order_only_for_subscribed_channels(rt: Harness) -> None:
    watched, other = _channel(), _channel()
    await rt.engine.subscribe(watched)
    for i in range(20):
        await rt.engine.publish(watched, f'{{"n":{i}}}')
        await rt.engine.publish(other, f"other-{i}")
    await rt.received.wait_for(20)
    await _flush(rt, watched)
    assert rt.received.payloads(watched)[:20] == [f'{{"n":{i}}}' for i in range(20)]
    assert rt.received.payloads(other) == []


async def test_subscribe_is_idempotent_and_unsubscribe_stops_delivery(rt: Harness) -> None:
    channel, marker_channel = _channel(), _channel()
    for _ in range(3):
        await rt.engine.subscribe(channel)
    await rt.engine.subscribe(marker_channel)
    await rt.engine.publish(channel, "once")
    await _flush(rt, marker_channel)
    # Three subscribe calls are one subscription: the publication arrives once, not three times.
    assert rt.received.payloads(channel) == ["once"]

    await rt.engine.unsubscribe(channel)
    await rt.engine.unsubscribe(channel)
    await rt.engine.publish(channel, "after-unsubscribe")
    await _flush(rt, marker_channel)
    assert rt.received.payloads(channel) == ["once"]

    await rt.engine.subscribe(channel)
    await rt.engine.publish(channel, "again")
    await _flush(rt, marker_channel)
    assert rt.received.payloads(channel) == ["once", "again"]


async def test_a_failing_listener_call_does_not_stop_delivery(rt: Harness) -> None:
    channel = _channel()
    delivered: list[str] = []

    def listener(ch: str, payload: str) -> None:
        if payload == "boom":
            raise ValueError("listener bug")
        delivered.append(payload)

    rt.engine.set_listener(listener)
    await rt.engine.subscribe(channel)
    for payload in ("a", "boom", "b"):
        await rt.engine.publish(channel, payload)
    await eventually(lambda: len(delivered) >= 2)
    assert delivered == ["a", "b"]


# --- history -----------------------------------------------------------------------------------------


async def test_history_is_published_and_kept_in_order(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.subscribe(channel)
    for i in range(5):
        await rt.engine.publish_with_history(channel, f"m{i}", f"payload-{i}", keep_seconds=60)
    await rt.received.wait_for(5)
    assert rt.received.payloads(channel) == [f"payload-{i}" for i in range(5)]
    assert await rt.engine.history(channel, keep_seconds=60) == [f"payload-{i}" for i in range(5)]


async def test_history_drops_entries_older_than_the_keep_window(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.publish_with_history(channel, "old", "old", keep_seconds=0.5)
    await rt.advance(0.7)
    # Pruned on write: the old entry is gone even when read with a window that would still cover it.
    await rt.engine.publish_with_history(channel, "new", "new", keep_seconds=0.5)
    assert await rt.engine.history(channel, keep_seconds=60) == ["new"]

    await rt.engine.publish_with_history(channel, "newer", "newer", keep_seconds=60)
    await rt.advance(0.7)
    # Pruned on read: a shorter window on read drops what the writer would still keep.
    assert await rt.engine.history(channel, keep_seconds=0.5) == []
    assert await rt.engine.history(_channel(), keep_seconds=60) == []


async def test_delete_with_notice_publishes_only_when_the_message_existed(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.subscribe(channel)
    await rt.engine.publish_with_history(channel, "m1", "first", keep_seconds=60)
    await rt.engine.publish_with_history(channel, "m2", "second", keep_seconds=60)

    assert await rt.engine.delete_with_notice(channel, "m1", "deleted-m1") is True
    assert await rt.engine.delete_with_notice(channel, "m1", "deleted-m1-again") is False
    assert await rt.engine.delete_with_notice(channel, "nope", "deleted-nope") is False
    await _flush(rt, channel)

    assert rt.received.payloads(channel)[:3] == ["first", "second", "deleted-m1"]
    assert "deleted-m1-again" not in rt.received.payloads(channel)
    assert "deleted-nope" not in rt.received.payloads(channel)
    assert await rt.engine.history(channel, keep_seconds=60) == ["second"]


# --- presence ----------------------------------------------------------------------------------------


async def test_presence_counts_unique_members(rt: Harness) -> None:
    channel = _channel()
    assert await rt.engine.presence_count(channel) == PresenceCount(count=0, peak=0)
    await rt.engine.presence_refresh(
        channel,
        [_entry("c1", "u:1"), _entry("c2", "u:1"), _entry("c3", "a:guest")],  # u:1 has two tabs open
        ttl=60,
    )
    assert (await rt.engine.presence_count(channel)).count == 2
    # Other channels are separate.
    assert (await rt.engine.presence_count(_channel())).count == 0


async def _count_becomes(rt: Harness, channel: str, expected: int) -> None:
    async def reached() -> bool:
        return (await rt.engine.presence_count(channel)).count == expected

    await eventually(reached)


async def test_presence_expires_without_refresh(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.presence_refresh(channel, [_entry("c1", "u:1"), _entry("c2", "u:2")], ttl=60)
    await rt.engine.presence_refresh(channel, [_entry("c3", "u:3")], ttl=TTL)
    assert (await rt.engine.presence_count(channel)).count == 3
    await rt.advance(TTL)
    # A busy machine may make it later, never earlier; the 60-second entries are still there.
    await _count_becomes(rt, channel, 2)


async def test_presence_refresh_keeps_entries_alive(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.presence_refresh(channel, [_entry("c1", "u:1"), _entry("c2", "u:2")], ttl=TTL)
    for _ in range(2):
        await rt.advance(TTL * 0.6)
        await rt.engine.presence_refresh(channel, [_entry("c1", "u:1")], ttl=TTL)
    # c2 was last refreshed at least 1.2 ttl ago; c1 an instant ago.
    assert (await rt.engine.presence_count(channel)).count == 1
    await rt.advance(TTL)
    await _count_becomes(rt, channel, 0)


async def test_presence_remove(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.presence_refresh(channel, [_entry("c1", "u:1"), _entry("c2", "u:1"), _entry("c3", "u:2")], ttl=60)
    await rt.engine.presence_remove(channel, ["c1"])
    assert (await rt.engine.presence_count(channel)).count == 2  # u:1 is still there on c2
    await rt.engine.presence_remove(channel, ["c2", "c3", "never-there"])
    assert (await rt.engine.presence_count(channel)).count == 0
    await rt.engine.presence_remove(channel, [])
    await rt.engine.presence_remove(_channel(), ["c1"])
    assert (await rt.engine.presence_count(channel)).count == 0


async def test_presence_peak_is_the_highest_count_returned(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.presence_refresh(channel, [_entry(f"c{i}", f"u:{i}") for i in range(3)], ttl=60)
    assert await rt.engine.presence_count(channel) == PresenceCount(count=3, peak=3)
    await rt.engine.presence_remove(channel, ["c0", "c1"])
    assert await rt.engine.presence_count(channel) == PresenceCount(count=1, peak=3)
    await rt.engine.presence_refresh(channel, [_entry(f"d{i}", f"u:d{i}") for i in range(4)], ttl=60)
    assert await rt.engine.presence_count(channel) == PresenceCount(count=5, peak=5)


async def test_presence_clear_returns_the_peak_and_forgets_the_channel(rt: Harness) -> None:
    channel = _channel()
    await rt.engine.presence_refresh(channel, [_entry("c1", "u:1"), _entry("c2", "u:2")], ttl=60)
    await rt.engine.presence_count(channel)
    await rt.engine.presence_remove(channel, ["c2"])
    await rt.engine.presence_count(channel)
    assert await rt.engine.presence_clear(channel) == 2
    assert await rt.engine.presence_count(channel) == PresenceCount(count=0, peak=0)
    assert await rt.engine.presence_clear(channel) == 0


# --- counters ----------------------------------------------------------------------------------------


async def test_counters_count_hits_within_a_window(rt: Harness) -> None:
    key = f"chat:{uuid.uuid4().hex}"
    states = [await rt.engine.counters.hit(key, 1) for _ in range(3)]
    assert [s.count for s in states] == [1, 2, 3]
    assert all(s.retry_after == 1 for s in states)
    await asyncio.sleep(1.1)  # counters run on real time in both engines
    assert (await rt.engine.counters.peek(key)).count == 0
    assert (await rt.engine.counters.hit(key, 1)).count == 1


# --- factory -----------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_make_engine_picks_redis_only_with_a_url(redis_url: str) -> None:
    memory = make_engine(None)
    redis = make_engine(redis_url)
    try:
        assert isinstance(memory, MemoryEngine)
        assert isinstance(redis, RedisEngine)
        assert isinstance(make_engine(""), MemoryEngine)
    finally:
        await memory.close()
        await redis.close()


# --- Redis only: several processes -------------------------------------------------------------------


async def _numsub(admin: Redis, engine: RedisEngine, channel: str) -> int:
    result = await admin.pubsub_numsub(engine._redis_channel(channel))
    return int(result[0][1])


async def _wait_numsub(admin: Redis, engine: RedisEngine, channel: str, expected: int) -> None:
    async def matches() -> bool:
        return await _numsub(admin, engine, channel) == expected

    await eventually(matches, seconds=10)


async def _pubsub_clients(admin: Redis, name: str) -> list[dict[str, str]]:
    clients: list[dict[str, str]] = await admin.client_list()
    return [c for c in clients if c.get("name") == name and int(c.get("sub", "0")) > 0]


@pytest.mark.redis
async def test_a_publication_reaches_every_process(redis_engines: RedisEngines) -> None:
    one, two = await redis_engines(), await redis_engines()
    got_one, got_two = Received(), Received()
    one.set_listener(got_one)
    two.set_listener(got_two)
    channel = _channel()
    await one.subscribe(channel)
    await two.subscribe(channel)

    await one.publish(channel, "from-one")
    await two.publish_with_history(channel, "m1", "from-two", keep_seconds=60)
    assert await got_one.wait_for(2) == [(channel, "from-one"), (channel, "from-two")]
    assert await got_two.wait_for(2) == [(channel, "from-one"), (channel, "from-two")]
    assert await one.history(channel, keep_seconds=60) == ["from-two"]


@pytest.mark.redis
async def test_presence_sums_across_processes_and_stays_unique(redis_engines: RedisEngines) -> None:
    one, two = await redis_engines(), await redis_engines()
    channel = _channel()
    await one.presence_refresh(channel, [_entry("p1-c1", "u:1"), _entry("p1-c2", "u:2")], ttl=60)
    await two.presence_refresh(channel, [_entry("p2-c1", "u:3"), _entry("p2-c2", "u:1")], ttl=60)
    # u:1 is connected through both processes and counts once.
    assert await one.presence_count(channel) == PresenceCount(count=3, peak=3)
    assert await two.presence_count(channel) == PresenceCount(count=3, peak=3)


@pytest.mark.redis
async def test_a_dead_process_leaves_no_phantom_viewers(redis_engines: RedisEngines) -> None:
    survivor, doomed = await redis_engines(), await redis_engines()
    channel = _channel()
    # The survivor keeps its entry alive throughout (as its hub would, every third of the ttl).
    await survivor.presence_refresh(channel, [_entry("s-c1", "u:1")], ttl=60)
    await doomed.presence_refresh(channel, [_entry("d-c1", "u:2"), _entry("d-c2", "u:3")], ttl=2 * TTL)
    assert (await survivor.presence_count(channel)).count == 3

    # SIGKILL: the process vanishes without presence_remove; only its refreshes stop.
    await doomed.close()
    await asyncio.sleep(2 * TTL)
    counts: list[PresenceCount] = []

    async def only_the_survivor() -> bool:
        counts.append(await survivor.presence_count(channel))
        return counts[-1].count == 1

    await eventually(only_the_survivor)
    assert counts[-1] == PresenceCount(count=1, peak=3)
    assert all(c.count >= 1 for c in counts)

    # A late removal of entries that already expired must not push the count below the truth.
    await survivor.presence_remove(channel, ["d-c1", "d-c2"])
    assert (await survivor.presence_count(channel)).count == 1


@pytest.mark.redis
async def test_history_and_presence_keys_expire_on_their_own(redis_engines: RedisEngines, redis_admin: Redis) -> None:
    engine = await redis_engines()
    channel = _channel()
    await engine.publish_with_history(channel, "m1", "payload", keep_seconds=30)
    await engine.presence_refresh(channel, [_entry("c1", "u:1")], ttl=TTL)
    await engine.presence_count(channel)
    for key in engine._history_keys(channel):
        assert 0 < await redis_admin.pttl(key) <= 30_000
    expires, members, peak = engine._presence_keys(channel)
    for key in (expires, members):
        assert 0 < await redis_admin.pttl(key) <= TTL * 1000 + PRESENCE_KEY_GRACE_MS
    assert await redis_admin.pttl(peak) > 0

    # A channel abandoned by every process disappears from Redis without anyone cleaning up.
    await asyncio.sleep(TTL + PRESENCE_KEY_GRACE_MS / 1000)

    async def gone() -> bool:
        return await redis_admin.exists(expires, members) == 0

    await eventually(gone)


@pytest.mark.redis
async def test_one_connection_and_one_subscribe_per_channel_per_process(
    redis_engines: RedisEngines, redis_admin: Redis
) -> None:
    name_one, name_two = f"rt-{uuid.uuid4().hex[:8]}", f"rt-{uuid.uuid4().hex[:8]}"
    one, two = await redis_engines(name_one), await redis_engines(name_two)
    channels = [_channel() for _ in range(3)]
    for _ in range(4):  # as if four viewers joined each channel
        for channel in channels:
            await one.subscribe(channel)
    await two.subscribe(channels[0])
    await two.subscribe(channels[0])

    assert await _numsub(redis_admin, one, channels[0]) == 2  # one per process
    assert await _numsub(redis_admin, one, channels[1]) == 1
    assert await _numsub(redis_admin, one, channels[2]) == 1
    # All of a process's channels share its single pub/sub connection.
    [connection] = await _pubsub_clients(redis_admin, name_one)
    assert connection["sub"] == "3"

    await one.unsubscribe(channels[1])
    await _wait_numsub(redis_admin, one, channels[1], 0)
    assert await _numsub(redis_admin, one, channels[0]) == 2


@pytest.mark.redis
async def test_pubsub_reconnects_and_resubscribes_after_the_connection_is_killed(
    redis_engines: RedisEngines, redis_admin: Redis
) -> None:
    name = f"rt-{uuid.uuid4().hex[:8]}"
    engine = await redis_engines(name)
    received = Received()
    engine.set_listener(received)
    kept, dropped = _channel(), _channel()
    await engine.subscribe(kept)
    await engine.subscribe(dropped)
    await engine.unsubscribe(dropped)
    await _wait_numsub(redis_admin, engine, dropped, 0)

    for round_ in range(2):  # recovering once must leave the engine able to recover again
        [before] = await _pubsub_clients(redis_admin, name)
        assert await redis_admin.client_kill_filter(_id=before["id"]) == 1
        await _wait_numsub(redis_admin, engine, kept, 1)
        [after] = await _pubsub_clients(redis_admin, name)
        assert after["id"] != before["id"]
        # Only the channel still wanted came back.
        assert await _numsub(redis_admin, engine, dropped) == 0

        await engine.publish(dropped, "not-wanted")
        await engine.publish(kept, f"after-reconnect-{round_}")
        await received.wait_for(round_ + 1)
    assert received.items == [(kept, "after-reconnect-0"), (kept, "after-reconnect-1")]

    # Subscriptions keep working on the recovered connection.
    fresh = _channel()
    await engine.subscribe(fresh)
    await engine.publish(fresh, "fresh")
    await received.wait_for(3)
    assert received.items[-1] == (fresh, "fresh")
