"""Background work: jobs on a taskiq broker, retried with backoff, and supervised tasks.

One process (``livestream serve``): taskiq's in-memory broker runs each job as a task in this process. With
``LS_REDIS_URL``: a Redis list queue, consumed by ``livestream serve`` (unless ``LS_JOBS_IN_PROCESS=false``) and
by any number of ``livestream worker`` processes.

The database row is the truth and the queue only a hint (docs/decisions.md, D15): a job is enqueued after the
commit that makes it due, it is idempotent, and a periodic reconciler enqueues again whatever a crash, a lost
message or a full retry budget left behind. So ``enqueue`` never raises: a broker that refuses a message is
logged and the reconciler catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker

from livestream.logging import get_logger

log = get_logger("livestream.jobs")

JobFunction = Callable[..., Awaitable[None]]
GiveUp = Callable[[dict[str, Any], BaseException], Awaitable[None]]


class RetryLater(Exception):
    """The job cannot do its work yet (its input is still being written): run it again after ``delay`` seconds.

    Does not count against the job's attempts; the job itself decides when waiting longer makes no sense.
    """

    def __init__(self, reason: str, delay: float = 1.0) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    function: JobFunction
    attempts: int
    on_give_up: GiveUp | None


class JobRuntime:
    """Registers jobs, enqueues them, runs them with retries; also the supervisor of background tasks."""

    def __init__(
        self,
        broker: AsyncBroker,
        *,
        consume: bool = True,
        retry_base_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
        default_attempts: int = 5,
    ) -> None:
        self.broker = broker
        # In memory the broker runs what it is given; with Redis this process takes jobs off the queue only
        # when asked to (serve with LS_JOBS_IN_PROCESS, or a worker).
        self.consume = consume
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.default_attempts = default_attempts
        self._specs: dict[str, JobSpec] = {}
        self._tasks: dict[str, Any] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._receiver: asyncio.Task[None] | None = None
        self._started = False
        self._closing = False

    @property
    def in_memory(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    @classmethod
    def for_settings(
        cls,
        *,
        redis_url: str | None,
        queue: str,
        consume: bool,
        retry_base_seconds: float,
        default_attempts: int,
    ) -> JobRuntime:
        broker: AsyncBroker
        if redis_url is None:
            broker = InMemoryBroker(max_stored_results=1, propagate_exceptions=False)
        else:
            from livestream.jobs.redis_queue import RedisJobQueue

            broker = RedisJobQueue(redis_url, queue_name=queue)
        return cls(broker, consume=consume, retry_base_seconds=retry_base_seconds, default_attempts=default_attempts)

    # --- registration and enqueueing ---------------------------------------------------------------------

    def register(
        self, name: str, function: JobFunction, *, attempts: int | None = None, on_give_up: GiveUp | None = None
    ) -> None:
        """``function(**payload)``; ``on_give_up(payload, error)`` once the last attempt has failed."""
        if name in self._specs:
            raise ValueError(f"job {name!r} is registered twice")
        spec = JobSpec(name, function, attempts or self.default_attempts, on_give_up)
        self._specs[name] = spec

        async def run(payload: dict[str, Any], attempt: int = 1) -> None:
            await self._run(spec, payload, attempt)

        run.__name__ = name.replace(".", "_")
        self._tasks[name] = self.broker.register_task(run, task_name=name)

    async def enqueue(self, name: str, **payload: Any) -> bool:
        """Send the job; False (logged) when the broker refused it: the reconcilers enqueue it again later."""
        return await self._kick(name, payload, attempt=1)

    async def _kick(self, name: str, payload: dict[str, Any], *, attempt: int) -> bool:
        if name not in self._tasks:
            raise KeyError(f"unknown job {name!r}")
        if self._closing:
            log.info("job_not_sent_closing", job=name)
            return False
        try:
            await self._tasks[name].kiq(payload=payload, attempt=attempt)
        except Exception as exc:
            log.error("job_enqueue_failed", job=name, error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    async def _run(self, spec: JobSpec, payload: dict[str, Any], attempt: int) -> None:
        try:
            await spec.function(**payload)
        except RetryLater as wait:
            log.info("job_waiting", job=spec.name, reason=str(wait), delay=wait.delay)
            self._later(wait.delay, spec.name, payload, attempt)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt < spec.attempts:
                delay = min(self.retry_base_seconds * 2 ** (attempt - 1), self.retry_max_seconds)
                log.warning("job_failed_retrying", job=spec.name, attempt=attempt, delay=delay, error=error)
                self._later(delay, spec.name, payload, attempt + 1)
                return
            log.error("job_gave_up", job=spec.name, attempts=attempt, error=error)
            if spec.on_give_up is not None:
                try:
                    await spec.on_give_up(payload, exc)
                except Exception as hook_error:
                    log.error("job_give_up_hook_failed", job=spec.name, error=repr(hook_error))

    def _later(self, delay: float, name: str, payload: dict[str, Any], attempt: int) -> None:
        # A sleeping retry lost with the process is the reconcilers' to pick up (the row still says so).
        async def again() -> None:
            await asyncio.sleep(delay)
            await self._kick(name, payload, attempt=attempt)

        self.spawn(again(), name=f"retry:{name}")

    # --- supervised background tasks ---------------------------------------------------------------------

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run a side effect in the background: its failure is logged, it is cancelled when the app closes."""
        task = asyncio.create_task(coroutine, name=name)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("background_task_failed", task=task.get_name(), error=f"{type(exc).__name__}: {exc}")

    # --- lifetime ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.broker.startup()
        if self.consume and not self.in_memory:
            from taskiq.api import run_receiver_task

            self._receiver = asyncio.create_task(
                run_receiver_task(self.broker, max_async_tasks=20, run_startup=False), name="jobs-receiver"
            )

    async def idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a bound for tests
        """Wait until no job or background task of this process is running (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while True:
                running = set(self._background)
                if isinstance(self.broker, InMemoryBroker):
                    running |= set(self.broker._running_tasks)
                current = asyncio.current_task()
                if current is not None:
                    running.discard(current)
                if not running:
                    return
                await asyncio.wait(running)

    async def close(self, grace: float = 2.0) -> None:
        """Stop: jobs running in this process get ``grace`` seconds to finish, then everything is cancelled
        (an interrupted job is idempotent: its retry or a reconciler runs it again)."""
        self._closing = True
        if isinstance(self.broker, InMemoryBroker) and self.broker._running_tasks:
            await asyncio.wait(list(self.broker._running_tasks), timeout=grace)
        pending = list(self._background)
        if isinstance(self.broker, InMemoryBroker):
            pending += list(self.broker._running_tasks)
        if self._receiver is not None:
            pending.append(self._receiver)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._started:
            with contextlib.suppress(Exception):
                await self.broker.shutdown()
