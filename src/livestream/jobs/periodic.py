"""Periodic jobs (reconcilers, purges): every process that runs jobs keeps the schedule, one of them runs each period.

A period is a slot of wall-clock time (``floor(now / period)``); the process that inserts the ``periodic_runs`` row
for (job, slot) runs it, the others find the row taken and skip. The database is the arbiter, so this holds for
one process on SQLite and for many on PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from livestream.db import Database, add_unless_conflict, utcnow
from livestream.jobs.models import PeriodicRun
from livestream.logging import get_logger

log = get_logger("livestream.jobs.periodic")

# Claims are kept this long (a day of 1-minute periods is 1,440 rows per job), then purged.
KEEP_CLAIMS = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str
    period: float
    function: Callable[[], Awaitable[None]]


def slot_of(now: float, period: float) -> datetime:
    return datetime.fromtimestamp(now // period * period, UTC)


class PeriodicRunner:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._jobs: dict[str, Periodic] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, name: str, period: float, function: Callable[[], Awaitable[None]]) -> None:
        if name in self._jobs:
            raise ValueError(f"periodic job {name!r} is registered twice")
        self._jobs[name] = Periodic(name, period, function)

    @property
    def names(self) -> list[str]:
        return sorted(self._jobs)

    async def claim(self, name: str, slot: datetime) -> bool:
        async with self.db.unit_of_work() as session:
            return await add_unless_conflict(session, PeriodicRun(name=name, slot=slot))

    async def run_once(self, name: str, *, now: float | None = None) -> bool:
        """Run ``name`` for the current period unless another process already has; True when it ran here."""
        job = self._jobs[name]
        slot = slot_of(time.time() if now is None else now, job.period)
        try:
            if not await self.claim(name, slot):
                return False
        except Exception as exc:
            log.warning("periodic_claim_failed", job=name, error=f"{type(exc).__name__}: {exc}")
            return False
        started = time.monotonic()
        try:
            await job.function()
        except Exception as exc:
            log.error("periodic_job_failed", job=name, error=f"{type(exc).__name__}: {exc}")
        else:
            log.info("periodic_job_ran", job=name, seconds=round(time.monotonic() - started, 3))
        return True

    async def purge_claims(self) -> None:
        async with self.db.unit_of_work() as session:
            await session.execute(delete(PeriodicRun).where(PeriodicRun.claimed_at < utcnow() - KEEP_CLAIMS))

    def start(self) -> None:
        for job in self._jobs.values():
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"periodic:{job.name}"))

    async def _loop(self, job: Periodic) -> None:
        # The current period at start-up (a restart repairs at once), then each period boundary.
        while True:
            await self.run_once(job.name)
            now = time.time()
            await asyncio.sleep((now // job.period + 1) * job.period - now + 0.05)

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
