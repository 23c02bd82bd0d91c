"""The job runtime on its real brokers: taskiq's in-memory broker, and the Redis list queue."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import pytest

from livestream.jobs.runtime import JobRuntime, RetryLater


def runtime(redis_url: str | None = None, *, attempts: int = 3, base: float = 0.05) -> JobRuntime:
    return JobRuntime.for_settings(
        redis_url=redis_url,
        queue=f"test:jobs:{uuid.uuid4().hex}",
        consume=True,
        retry_base_seconds=base,
        default_attempts=attempts,
    )


async def test_a_job_runs_with_its_payload() -> None:
    jobs = runtime()
    seen: list[dict[str, Any]] = []

    async def job(**payload: Any) -> None:
        seen.append(payload)

    jobs.register("test.job", job)
    await jobs.start()
    try:
        assert await jobs.enqueue("test.job", archive_id="a", n=2)
        await jobs.idle(5)
        assert seen == [{"archive_id": "a", "n": 2}]
    finally:
        await jobs.close()


async def test_failures_retry_with_growing_delays_then_give_up_once() -> None:
    jobs = runtime(attempts=4, base=0.05)
    runs: list[float] = []
    gave_up: list[tuple[dict[str, Any], str]] = []

    async def flaky(**payload: Any) -> None:
        runs.append(time.monotonic())
        raise OSError("disk on fire")

    async def give_up(payload: dict[str, Any], error: BaseException) -> None:
        gave_up.append((payload, str(error)))

    jobs.register("test.flaky", flaky, on_give_up=give_up)
    await jobs.start()
    try:
        await jobs.enqueue("test.flaky", x=1)
        await jobs.idle(10)
    finally:
        await jobs.close()
    assert len(runs) == 4
    gaps = [b - a for a, b in itertools.pairwise(runs)]
    # 0.05, 0.1, 0.2 s: each wait at least its backoff, and growing.
    for gap, backoff in zip(gaps, (0.05, 0.1, 0.2), strict=True):
        assert gap >= backoff * 0.9
    assert gaps[2] > gaps[0]
    assert gave_up == [({"x": 1}, "disk on fire")]


async def test_a_job_that_succeeds_on_a_retry_does_not_give_up() -> None:
    jobs = runtime(attempts=3)
    runs = 0
    gave_up: list[object] = []

    async def second_time_lucky(**_: Any) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("transient")

    async def give_up(payload: dict[str, Any], error: BaseException) -> None:
        gave_up.append(error)

    jobs.register("test.lucky", second_time_lucky, on_give_up=give_up)
    await jobs.start()
    try:
        await jobs.enqueue("test.lucky")
        await jobs.idle(5)
    finally:
        await jobs.close()
    assert runs == 2
    assert gave_up == []


async def test_retry_later_waits_without_spending_attempts() -> None:
    jobs = runtime(attempts=1)
    runs = 0

    async def waits(**_: Any) -> None:
        nonlocal runs
        runs += 1
        if runs < 5:
            raise RetryLater("input still being written", delay=0.01)

    jobs.register("test.waits", waits)
    await jobs.start()
    try:
        await jobs.enqueue("test.waits")
        await jobs.idle(5)
    finally:
        await jobs.close()
    assert runs == 5


async def test_unknown_jobs_and_double_registration_are_programming_errors() -> None:
    jobs = runtime()

    async def job(**_: Any) -> None:
        return None

    jobs.register("test.once", job)
    with pytest.raises(ValueError, match="registered twice"):
        jobs.register("test.once", job)
    with pytest.raises(KeyError):
        await jobs.enqueue("test.nobody")
    await jobs.close()


async def test_a_failing_background_task_is_logged_and_forgotten() -> None:
    jobs = runtime()

    async def boom() -> None:
        raise RuntimeError("side effect failed")

    task = jobs.spawn(boom(), name="boom")
    await asyncio.gather(task, return_exceptions=True)
    await jobs.idle(1)  # returns: nothing is left running or tracked
    assert isinstance(task.exception(), RuntimeError)
    assert task not in jobs._background
    await jobs.close()


@pytest.mark.redis
async def test_redis_queue_carries_jobs_between_runtimes(redis_url: str) -> None:
    """One runtime only enqueues (an API process), another consumes (a worker): the payload arrives."""
    queue = f"test:jobs:{uuid.uuid4().hex}"
    sender = JobRuntime.for_settings(
        redis_url=redis_url, queue=queue, consume=False, retry_base_seconds=0.05, default_attempts=2
    )
    worker = JobRuntime.for_settings(
        redis_url=redis_url, queue=queue, consume=True, retry_base_seconds=0.05, default_attempts=2
    )
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def job(**payload: Any) -> None:
        await received.put(payload)

    async def never(**_: Any) -> None:
        raise AssertionError("the sender must not run jobs")

    sender.register("test.carried", never)
    worker.register("test.carried", job)
    await sender.start()
    await worker.start()
    try:
        for n in range(3):
            assert await sender.enqueue("test.carried", n=n)
        got = [await asyncio.wait_for(received.get(), 10) for _ in range(3)]
        assert sorted(p["n"] for p in got) == [0, 1, 2]
    finally:
        await sender.close()
        await worker.close()


@pytest.mark.redis
async def test_an_unreachable_redis_queue_backs_off_instead_of_spinning() -> None:
    from livestream.jobs.redis_queue import RedisJobQueue

    queue = RedisJobQueue("redis://127.0.0.1:1/0", queue_name="test:nowhere")
    listener = queue.listen()
    started = time.monotonic()
    attempts = 0

    async def pull() -> None:
        nonlocal attempts
        async for _ in listener:
            attempts += 1  # pragma: no cover - nothing can arrive

    task = asyncio.create_task(pull())
    await asyncio.sleep(1.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await queue.shutdown()
    # 0.1 + 0.2 + 0.4 s of backoff fit in a second: a handful of tries, not thousands.
    assert time.monotonic() - started < 2


@pytest.mark.redis
async def test_an_idle_redis_queue_waits_quietly_and_still_hands_over_a_late_job(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty read ends with Redis's empty answer, not a client timeout (redis-py reads with a 5 s socket
    timeout by default, as long as the read blocks): nothing logged as unreachable, and a job sent after it arrives."""
    import redis.asyncio as aioredis

    from livestream.jobs.redis_queue import READ_BLOCK_S, RedisJobQueue

    name = f"test:jobs:{uuid.uuid4().hex}"
    queue = RedisJobQueue(redis_url, queue_name=name)
    assert queue.connection_pool.connection_kwargs["socket_timeout"] > READ_BLOCK_S
    listener = queue.listen()
    pulled = asyncio.create_task(anext(listener))
    sender = aioredis.Redis.from_url(redis_url)
    try:
        await asyncio.sleep(READ_BLOCK_S + 1)  # one empty read over
        assert not pulled.done()
        await sender.lpush(name, b"late job")
        assert await asyncio.wait_for(pulled, 10) == b"late job"
    finally:
        pulled.cancel()
        await asyncio.gather(pulled, return_exceptions=True)
        await listener.aclose()
        await sender.delete(name)
        await sender.aclose()
        await queue.shutdown()
    assert "job_queue_unreachable" not in capsys.readouterr().out
