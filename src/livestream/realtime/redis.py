"""The realtime engine for many processes sharing one Redis.

Fan-out: each process holds ONE pub/sub connection and at most one SUBSCRIBE per channel, however many viewers
it serves; a single reader task hands every publication to the process's listener (the local hub), which fans
it out to sockets. Redis therefore sends each publication once per interested process, not once per viewer.

History and presence live in sorted sets scored by the Redis server's clock (``TIME`` inside the scripts), so
processes with skewed clocks agree on what has expired. Presence is never a counter: every connection is an
entry with an expiry that its process keeps pushing forward, so a process that dies simply stops refreshing and
its viewers drop out after one ttl; there is nothing to decrement and no phantom viewer can remain.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from livestream.logging import get_logger
from livestream.ratelimit import Counters, RedisCounters
from livestream.realtime.engine import Listener, PresenceCount, PresenceEntry

log = get_logger("livestream.realtime")

# Lua's unpack() has a stack limit of a few thousand values; bulk HDEL/ZREM go in slices of this size.
_LUA_CHUNK = """
local function chunked(cmd, key, list)
  for i = 1, #list, 500 do
    redis.call(cmd, key, unpack(list, i, math.min(i + 499, #list)))
  end
end
"""

# Scores are integer microseconds formatted with %.0f: Redis converts Lua numbers to strings with %.14g,
# which would round a 16-digit timestamp. A score never goes below the newest one so that two messages in the
# same microsecond keep their publish order.
_PUBLISH_WITH_HISTORY = (
    _LUA_CHUNK
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local score = now
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) >= score then score = tonumber(newest[2]) + 1 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[1], string.format('%.0f', score), ARGV[2])
local cutoff = string.format('%.0f', now - tonumber(ARGV[4]))
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if #stale > 0 then
  chunked('HDEL', KEYS[2], stale)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[1], ARGV[3])
"""
)

_HISTORY = (
    _LUA_CHUNK
    + """
local t = redis.call('TIME')
local cutoff = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]) - tonumber(ARGV[1]))
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if #stale > 0 then
  chunked('HDEL', KEYS[2], stale)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local payloads = {}
for i = 1, #ids, 500 do
  local values = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 499, #ids)))
  for _, value in ipairs(values) do
    if value then payloads[#payloads + 1] = value end
  end
end
return payloads
"""
)

_DELETE_WITH_NOTICE = """
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[1], ARGV[3])
return 1
"""

# Key lifetimes only ever grow here: another process may refresh the same channel with a longer ttl, and
# shortening the key's expiry would drop its live entries with the key.
_PRESENCE_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = string.format('%.0f', now + tonumber(ARGV[1]))
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], expires, ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
local keep = tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
end
"""

_PRESENCE_REMOVE = (
    _LUA_CHUNK
    + """
chunked('ZREM', KEYS[1], ARGV)
chunked('HDEL', KEYS[2], ARGV)
"""
)

_PRESENCE_COUNT = (
    _LUA_CHUNK
    + """
local t = redis.call('TIME')
local now = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #gone > 0 then
  chunked('HDEL', KEYS[2], gone)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
local seen, count = {}, 0
for _, member in ipairs(redis.call('HVALS', KEYS[2])) do
  if not seen[member] then
    seen[member] = true
    count = count + 1
  end
end
local peak = tonumber(redis.call('GET', KEYS[3]) or '0')
if count > peak then
  peak = count
  redis.call('SET', KEYS[3], peak, 'PX', ARGV[1])
elseif peak > 0 then
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return {count, peak}
"""
)

_PRESENCE_CLEAR = """
local peak = redis.call('GET', KEYS[3])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return tonumber(peak or '0')
"""

#: Presence keys outlive their newest entry by this much, then an abandoned channel's keys vanish on their own.
PRESENCE_KEY_GRACE_MS = 1_000
#: The peak outlives the entries on purpose: an audience that drops to nobody for a minute mid-stream must not
#: reset the stream's peak. It still expires, a day after the last count, if ``presence_clear`` never comes.
PEAK_KEEP_MS = 86_400_000
#: How long ``subscribe`` waits for Redis to confirm before returning anyway (the channel stays wanted and is
#: subscribed on the next reconnect).
SUBSCRIBE_CONFIRM_TIMEOUT = 5.0
MAX_CONNECTIONS = 64
POOL_WAIT_SECONDS = 10.0
_RECONNECT_MIN_DELAY = 0.05
_RECONNECT_MAX_DELAY = 5.0


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisEngine:
    """Pub/sub, history and presence shared by every process on the same Redis (and ``prefix``)."""

    def __init__(self, redis_url: str, prefix: str = "ls:rt:") -> None:
        # A blocking pool: a burst of joins (every viewer reconnecting after a restart) waits for a free
        # connection instead of failing with "Too many connections".
        pool = BlockingConnectionPool.from_url(
            redis_url, decode_responses=True, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_SECONDS
        )
        self._client = Redis.from_pool(pool)  # the client owns the pool: closing it closes the connections
        self._prefix = prefix
        # Redis pub/sub channels are global to the server, not per database: the prefix keeps deployments (and
        # tests) sharing a server apart.
        self._channel_prefix = f"{prefix}ch:"
        self.counters: Counters = RedisCounters(self._client, prefix=f"{prefix}rl:")
        self._publish_with_history = self._client.register_script(_PUBLISH_WITH_HISTORY)
        self._history = self._client.register_script(_HISTORY)
        self._delete_with_notice = self._client.register_script(_DELETE_WITH_NOTICE)
        self._presence_refresh = self._client.register_script(_PRESENCE_REFRESH)
        self._presence_remove = self._client.register_script(_PRESENCE_REMOVE)
        self._presence_count = self._client.register_script(_PRESENCE_COUNT)
        self._presence_clear = self._client.register_script(_PRESENCE_CLEAR)

        self._listener: Listener | None = None
        # The channels this process wants, whatever the connection's state: the source of truth for resubscribing.
        self._wanted: set[str] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        # Serialises SUBSCRIBE/UNSUBSCRIBE with the reader's resync after a reconnect.
        self._lock = asyncio.Lock()
        self._closed = False

    # --- keys ----------------------------------------------------------------------------------------
    # The channel name is the hash tag: all keys of one channel land in the same cluster slot, as a multi-key
    # script requires.
    def _history_keys(self, channel: str) -> list[str]:
        return [f"{self._prefix}{{{channel}}}:hist:ids", f"{self._prefix}{{{channel}}}:hist:msgs"]

    def _presence_keys(self, channel: str) -> list[str]:
        base = f"{self._prefix}{{{channel}}}:pres"
        return [f"{base}:exp", f"{base}:members", f"{base}:peak"]

    def _redis_channel(self, channel: str) -> str:
        return self._channel_prefix + channel

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._lock:
            if self._closed:
                raise RuntimeError("RedisEngine is closed")
            if self._reader is not None:
                return
            pubsub = self._client.pubsub()
            connected = True
            try:
                # Connect now so the reader has a connection to block on before the first subscribe.
                await pubsub.connect()  # type: ignore[no-untyped-call]
            except (OSError, RedisError) as exc:
                # Start anyway: /readyz reports Redis down, and the reader connects once Redis is back.
                log.warning("realtime_redis_unreachable", error=type(exc).__name__)
                connected = False
            except BaseException:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            self._pubsub = pubsub
            self._reader = asyncio.create_task(self._read_forever(connected), name="realtime-redis-reader")

    async def close(self) -> None:
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            # wait() rather than await: the reader's CancelledError is expected, while one aimed at close()
            # itself must still propagate.
            await asyncio.wait([reader])
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            for confirmation in self._confirmations.values():
                if not confirmation.done():
                    confirmation.set_result(None)
            self._confirmations.clear()
            self._wanted.clear()
        # Also the counters' client, shared on purpose: one pool per process.
        await self._client.aclose()

    # --- pub/sub -------------------------------------------------------------------------------------
    def set_listener(self, listener: Listener) -> None:
        self._listener = listener

    def _connected_pubsub(self) -> PubSub | None:
        """The pub/sub object when its connection is up; None while the reader is (or is about to be) recovering.

        Commands are only sent on a live connection: sending on a dead one would make redis-py reconnect from
        this task while the reader may be doing the same, and the reader's resync covers the channel anyway.
        """
        pubsub = self._pubsub
        if pubsub is None or pubsub.connection is None or not pubsub.connection.is_connected:
            return None
        return pubsub

    async def subscribe(self, channel: str) -> None:
        """Returns once Redis has confirmed the subscription, so a publication that follows is received.

        When the connection is down the channel still counts as wanted and the call returns without raising
        (after at most ``SUBSCRIBE_CONFIRM_TIMEOUT``): the reader subscribes it as soon as the connection is
        back, and viewers should not fail to join meanwhile.
        """
        await self.start()
        async with self._lock:
            if channel in self._wanted:
                return
            self._wanted.add(channel)
            confirmation = self._confirmations.get(channel)
            if confirmation is None:
                confirmation = asyncio.get_running_loop().create_future()
                self._confirmations[channel] = confirmation
            pubsub = self._connected_pubsub()
            if pubsub is not None:
                try:
                    await pubsub.subscribe(self._redis_channel(channel))
                except (RedisError, OSError) as exc:
                    log.warning("realtime_subscribe_deferred", channel=channel, error=type(exc).__name__)
        try:
            # shield: a cancelled caller must not cancel the future another subscriber may be waiting on.
            await asyncio.wait_for(asyncio.shield(confirmation), SUBSCRIBE_CONFIRM_TIMEOUT)
        except TimeoutError:
            log.warning("realtime_subscribe_unconfirmed", channel=channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._lock:
            if channel not in self._wanted:
                return
            # Dropped from the wanted set first: the reader stops delivering the channel at once, even for
            # publications Redis sends before it processes the UNSUBSCRIBE.
            self._wanted.discard(channel)
            confirmation = self._confirmations.pop(channel, None)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(None)
            pubsub = self._connected_pubsub()
            if pubsub is not None:
                try:
                    await pubsub.unsubscribe(self._redis_channel(channel))
                except (RedisError, OSError) as exc:
                    # The reader's resync unsubscribes every channel no longer wanted.
                    log.warning("realtime_unsubscribe_deferred", channel=channel, error=type(exc).__name__)

    async def publish(self, channel: str, payload: str) -> None:
        await self._client.publish(self._redis_channel(channel), payload)

    async def _read_forever(self, connected: bool = True) -> None:
        """The one reader of the pub/sub connection, for as long as the engine lives."""
        failures = 0
        if not connected:
            await self._recover(2)
        while True:
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                message = await pubsub.get_message(timeout=None)
            except Exception as exc:
                # Whatever broke, the reader must not die: a dead reader silently stops every channel.
                failures += 1
                log.warning("realtime_pubsub_lost", error=type(exc).__name__, detail=str(exc))
                await self._recover(failures)
                continue
            failures = 0
            if message is not None:
                self._handle(message)

    async def _recover(self, failures: int) -> None:
        """Reconnect and resubscribe, retrying with backoff until it works.

        The first attempt is immediate: redis-py has usually reconnected in its own error handler already, and
        publications that reached the new connection since are waiting in its buffer, so the same connection is
        kept rather than replaced.
        """
        attempt = failures
        while True:
            if attempt > 1:
                await asyncio.sleep(min(_RECONNECT_MIN_DELAY * 2 ** (attempt - 2), _RECONNECT_MAX_DELAY))
            try:
                await self._resync()
            except Exception as exc:
                log.warning("realtime_pubsub_reconnect_failed", error=type(exc).__name__, detail=str(exc))
                attempt += 1
                continue
            log.info("realtime_pubsub_resubscribed", channels=len(self._wanted))
            return

    async def _resync(self) -> None:
        """Make the connection's subscriptions exactly ``_wanted``.

        redis-py replays its own record of subscriptions on reconnect, which can still hold a channel whose
        UNSUBSCRIBE was lost with the old connection, and lacks any channel whose SUBSCRIBE was deferred or
        lost: ``_wanted`` is the source of truth. Subscribing an already subscribed channel is a no-op in Redis.
        """
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return
            await pubsub.connect()  # type: ignore[no-untyped-call]
            wanted = {self._redis_channel(c) for c in self._wanted}
            stale = [c for c in pubsub.channels if c not in wanted]
            if stale:
                await pubsub.unsubscribe(*stale)
            if wanted:
                await pubsub.subscribe(*wanted)

    def _handle(self, message: dict[str, Any]) -> None:
        redis_channel = message.get("channel")
        if not isinstance(redis_channel, str) or not redis_channel.startswith(self._channel_prefix):
            return
        channel = redis_channel[len(self._channel_prefix) :]
        kind = message.get("type")
        if kind == "message":
            if self._listener is None or channel not in self._wanted:
                return
            try:
                self._listener(channel, message["data"])
            except Exception:
                # One faulty listener call must not kill the reader, which serves every channel.
                log.exception("realtime_listener_failed", channel=channel)
        elif kind == "subscribe":
            confirmation = self._confirmations.pop(channel, None)
            if confirmation is not None and not confirmation.done():
                confirmation.set_result(None)

    # --- history -------------------------------------------------------------------------------------
    async def publish_with_history(self, channel: str, message_id: str, payload: str, keep_seconds: float) -> None:
        await self._publish_with_history(
            keys=self._history_keys(channel),
            args=[
                self._redis_channel(channel),
                message_id,
                payload,
                math.ceil(keep_seconds * 1_000_000),
                _ms(keep_seconds),
            ],
        )

    async def history(self, channel: str, keep_seconds: float) -> list[str]:
        payloads = await self._history(keys=self._history_keys(channel), args=[math.ceil(keep_seconds * 1_000_000)])
        return [str(p) for p in payloads]

    async def delete_with_notice(self, channel: str, message_id: str, notice: str) -> bool:
        deleted = await self._delete_with_notice(
            keys=self._history_keys(channel), args=[self._redis_channel(channel), message_id, notice]
        )
        return bool(deleted)

    # --- presence ------------------------------------------------------------------------------------
    async def presence_refresh(self, channel: str, entries: Sequence[PresenceEntry], ttl: float) -> None:
        if not entries:
            return
        ttl_ms = _ms(ttl)
        args: list[str | int] = [ttl_ms, ttl_ms + PRESENCE_KEY_GRACE_MS]
        for entry in entries:
            args += [entry.connection_id, entry.member]
        await self._presence_refresh(keys=self._presence_keys(channel)[:2], args=args)

    async def presence_remove(self, channel: str, connection_ids: Sequence[str]) -> None:
        if not connection_ids:
            return
        await self._presence_remove(keys=self._presence_keys(channel)[:2], args=list(connection_ids))

    async def presence_count(self, channel: str) -> PresenceCount:
        count, peak = await self._presence_count(keys=self._presence_keys(channel), args=[PEAK_KEEP_MS])
        return PresenceCount(count=int(count), peak=int(peak))

    async def presence_clear(self, channel: str) -> int:
        return int(await self._presence_clear(keys=self._presence_keys(channel)))
