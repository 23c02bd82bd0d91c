"""Periodic jobs run once per period, whichever of several processes gets there first."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from livestream.db import Database
from livestream.jobs.periodic import PeriodicRunner


async def test_one_run_per_period_across_runners(database_url: str) -> None:
    runs: list[str] = []
    name = f"test.reconcile.{uuid.uuid4().hex}"
    databases = [Database(database_url) for _ in range(4)]
    try:
        runners = [PeriodicRunner(db) for db in databases]
        for i, runner in enumerate(runners):

            async def job(i: int = i) -> None:
                runs.append(f"runner{i}")

            runner.every(name, 60, job)
        now = 1_800_000_000.0
        ran = await asyncio.gather(*(runner.run_once(name, now=now) for runner in runners))
        assert sum(ran) == 1
        assert len(runs) == 1
        # The same period again: nobody; the next period: exactly one more.
        assert not any(await asyncio.gather(*(r.run_once(name, now=now + 30) for r in runners)))
        assert sum(await asyncio.gather(*(r.run_once(name, now=now + 61) for r in runners))) == 1
        assert len(runs) == 2
    finally:
        for db in databases:
            await db.dispose()


async def test_a_failing_periodic_job_is_logged_and_the_schedule_goes_on(tmp_path: Path, database_url: str) -> None:
    db = Database(database_url)
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("reconciler bug")

    runner = PeriodicRunner(db)
    name = f"test.broken.{uuid.uuid4().hex}"
    runner.every(name, 60, broken)
    try:
        assert await runner.run_once(name, now=1_800_000_000.0)
        assert await runner.run_once(name, now=1_800_000_060.0)
        assert calls == 2
        await runner.purge_claims()
    finally:
        await db.dispose()
