"""taskiq's Redis list queue, with a consumer that waits when Redis is unreachable.

taskiq-redis's ``ListQueueBroker.listen`` retries a lost connection at once, forever: with Redis down that is a
busy loop logging a warning per turn. This one backs off (0.1 s doubling to 5 s) and blocks at most a few
seconds per read, so a closing process is never stuck in BRPOP.

redis-py (8.x) reads with a 5-second socket timeout by default: a 5-second BRPOP on an empty queue then ended in
a client-side timeout instead of Redis's empty answer, logged as "unreachable" every 5 s by every idle worker, and a
job Redis handed over just as the client gave up was popped and lost. The socket waits longer than the block.

A job taken off the list is gone from Redis: a worker killed while running it takes it along. The database rows
say what is left to do, and each domain's reconciler enqueues it again (docs/decisions.md, D15).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq_redis import ListQueueBroker

from livestream.logging import get_logger

log = get_logger("livestream.jobs.redis")

READ_BLOCK_S = 5
# Longer than a read blocks, so an empty read ends with Redis's answer, not a client timeout.
SOCKET_TIMEOUT_S = READ_BLOCK_S + 5
BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0


class RedisJobQueue(ListQueueBroker):
    def __init__(self, url: str, *, queue_name: str, **connection: Any) -> None:
        connection.setdefault("socket_timeout", SOCKET_TIMEOUT_S)
        super().__init__(url, queue_name=queue_name, **connection)

    async def listen(self) -> AsyncGenerator[bytes, None]:
        delay = BACKOFF_START_S
        while True:
            try:
                async with Redis(connection_pool=self.connection_pool) as connection:
                    popped = await connection.brpop([self.queue_name], timeout=READ_BLOCK_S)
            except (RedisError, OSError) as exc:
                log.warning("job_queue_unreachable", error=f"{type(exc).__name__}: {exc}", retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            delay = BACKOFF_START_S
            if popped is not None:
                message = popped[1]
                yield message if isinstance(message, bytes) else str(message).encode()
