"""A real ``livestream worker`` process killed (SIGKILL) in the middle of a go-live fan-out to 1,000 followers, and a
second one started: every follower ends with exactly one notification.

The kill point is made deterministic without a knob in the app: the test holds an uncommitted notification row for
a follower of the fan-out's fourth batch, so that batch's INSERT … ON CONFLICT waits on the row lock; the worker is
killed while it waits, with three batches (150 rows) committed.

What this shows about the queue: the Redis list is popped (BRPOP), so the message of a job a killed worker was
running is gone; no other worker would ever run it. The notifications reconciler (``NotificationJobs.reconcile``)
finds a live stream whose fan-out left a follower untold and enqueues the fan-out again; the second worker runs it.
The reconciler's own rules are tested in-process on SQLite and PostgreSQL below.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import delete, func, insert, select, text, update

from livestream.db import Database, utcnow
from livestream.follows.models import Follow
from livestream.jobs.runtime import JobRuntime
from livestream.migrate import upgrade
from livestream.notifications.models import Notification, NotificationSettings
from livestream.notifications.tasks import GRACE, STREAM_STARTED, stream_started_key
from livestream.streams.models import Stream
from livestream.users.models import User
from tests.api.helpers import container
from tests.conftest import SECRET
from tests.support import services

FOLLOWERS = 1000
BATCH = 50
# The follower (in follow_id order) whose row the test holds: in the fourth batch, so three batches commit first.
HELD = 3 * BATCH + BATCH // 2
DEADLINE_S = 90.0


# --- the process test ---------------------------------------------------------------------------------------------


@pytest.fixture
def throwaway_postgres() -> Iterator[str]:
    """A database of its own, migrated: the worker processes share it with the test, nothing else does."""
    url = services.create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        services.drop_postgres_database(url)


@pytest.fixture
def queue() -> str:
    return f"test:jobs:{uuid.uuid4().hex}"


@pytest.fixture
async def db(throwaway_postgres: str) -> AsyncIterator[Database]:
    database = Database(throwaway_postgres)
    try:
        yield database
    finally:
        await database.dispose()


class Worker:
    """``livestream worker`` as a child process; its JSON log lines in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livestream", "worker"], env=env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def events(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [e for e in self.lines() if e.get("event") == name and all(e.get(k) == v for k, v in match.items())]

    def assert_running(self) -> None:
        assert self.process.poll() is None, f"worker exited ({self.process.returncode}):\n{self.log.read_text()}"

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit status."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._out.close()
        return self.process.returncode


async def until(condition: Any, what: str, worker: Worker, seconds: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            tail = worker.log.read_text(errors="replace")[-4000:]
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}; the worker's log ends:\n{tail}")
        await asyncio.sleep(0.05)


async def seed(db: Database) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A creator followed by 1,000 users (for an hour), live for ten minutes; returns the stream and the
    followers in follow_id order (the fan-out's order)."""
    creator = uuid.uuid4()
    followers = [uuid.uuid4() for _ in range(FOLLOWERS)]
    follow_ids = sorted(uuid.uuid4() for _ in range(FOLLOWERS))
    an_hour_ago = utcnow() - timedelta(hours=1)
    stream_id = uuid.uuid4()
    async with db.unit_of_work() as session:
        await session.execute(
            insert(User),
            [
                {"user_id": u, "username": f"u{u.hex[:20]}", "email": f"{u.hex}@example.com", "password_hash": "x"}
                for u in [creator, *followers]
            ],
        )
        await session.execute(
            insert(Follow),
            [
                {"follow_id": f, "follower_id": u, "following_id": creator, "created_at": an_hour_ago}
                for f, u in zip(follow_ids, followers, strict=True)
            ],
        )
        session.add(
            Stream(
                stream_id=stream_id,
                user_id=creator,
                title="Killed mid-way",
                status="live",
                media_state="live",
                started_at=utcnow() - timedelta(minutes=10),
            )
        )
    return stream_id, followers


async def enqueue_stream_started(redis_url: str, queue: str, stream_id: uuid.UUID) -> None:
    """What the serving process does when the stream's video arrives: the job onto the shared queue."""
    runtime = JobRuntime.for_settings(
        redis_url=redis_url, queue=queue, consume=False, retry_base_seconds=1.0, default_attempts=1
    )

    async def not_run_here(**_: Any) -> None:
        raise AssertionError("the test process only sends this job")

    runtime.register(STREAM_STARTED, not_run_here)
    await runtime.start()
    try:
        assert await runtime.enqueue(STREAM_STARTED, stream_id=str(stream_id))
    finally:
        await runtime.close()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_worker_killed_mid_fan_out_and_another_started_tell_each_of_1000_followers_once(
    db: Database, throwaway_postgres: str, redis_url: str, queue: str, tmp_path: Path
) -> None:
    stream_id, followers = await seed(db)
    key = stream_started_key(stream_id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LS_")} | {
        "LS_ENV": "test",
        "LS_SECRET_KEY": SECRET,
        "LS_DATABASE_URL": throwaway_postgres,
        "LS_REDIS_URL": redis_url,
        "LS_JOBS_QUEUE": queue,
        "LS_MEDIA_DIR": str(tmp_path / "media"),
        "LS_VAR_DIR": str(tmp_path),
        "LS_LOG_JSON": "true",
        "LS_NOTIFICATION_FAN_OUT_BATCH": str(BATCH),
        "LS_JOBS_RETRY_BASE_SECONDS": "0.5",
    }
    database = throwaway_postgres.rsplit("/", 1)[1]

    async def committed() -> int:
        async with db.sessionmaker() as session:
            return int(await session.scalar(select(func.count()).where(Notification.event_key == key)) or 0)

    async def waiting_on_a_lock() -> list[int]:
        async with db.sessionmaker() as session:
            rows = await session.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock' "
                    "AND query ILIKE 'INSERT INTO notifications%'"
                ),
                {"db": database},
            )
            return [int(r[0]) for r in rows]

    redis = aioredis.Redis.from_url(redis_url)
    holder = await db.engine.connect()
    workers: list[Worker] = []
    try:
        # The row the fourth batch will wait on, uncommitted.
        held = await holder.begin()
        await holder.execute(
            insert(Notification).values(
                notification_id=uuid.uuid4(),
                user_id=followers[HELD],
                type="stream_started",
                payload={},
                event_key=key,
                created_at=utcnow(),
            )
        )

        # No reconciler in the first worker: the job the test sends is the only fan-out.
        first = Worker(env | {"LS_JOBS_PERIODIC": "false"}, tmp_path / "first.log")
        workers.append(first)

        async def listening() -> bool:
            first.assert_running()
            return bool(first.events("worker_started"))

        # (Sent once the worker listens: the message spends no time alone in the shared test Redis.)
        await until(listening, "the first worker to start", first)
        await enqueue_stream_started(redis_url, queue, stream_id)

        async def blocked_after_three_batches() -> bool:
            first.assert_running()
            return await committed() == 3 * BATCH and bool(await waiting_on_a_lock())

        await until(blocked_after_three_batches, "the fan-out to wait on the held row after three batches", first)
        first.kill()
        assert first.process.returncode == -signal.SIGKILL

        written = await committed()
        assert 0 < written < FOLLOWERS
        assert written == 3 * BATCH
        # The killed worker had popped the job off the list: the queue has nothing left to give another worker.
        assert await redis.llen(queue) == 0
        # Let the killed worker's waiting INSERT go: it can never commit (its client is gone), and the follower
        # whose row the test held has not been told.
        await held.rollback()
        await holder.close()
        assert await committed() == 3 * BATCH

        # A second worker, with its reconcilers: it finds the live stream's fan-out unfinished and runs it again.
        second = Worker(env | {"LS_JOBS_PERIODIC": "true", "LS_RECONCILE_INTERVAL_SECONDS": "1"}, tmp_path / "2.log")
        workers.append(second)

        async def everyone_told() -> bool:
            second.assert_running()
            return await committed() == FOLLOWERS

        await until(everyone_told, f"all {FOLLOWERS} followers' rows after the restart", second)

        async with db.sessionmaker() as session:
            rows = (await session.execute(select(Notification.user_id).where(Notification.event_key == key))).all()
            stale = await session.scalar(
                select(func.count()).select_from(Notification).where(Notification.event_key != key)
            )
        recipients = [row[0] for row in rows]
        assert len(recipients) == FOLLOWERS
        assert sorted(recipients) == sorted(followers)  # each follower once, nobody else
        assert stale == 0

        # A finished fan-out is left alone: once a pass that may have begun before the end is over, two more
        # passes enqueue nothing.
        def passes() -> int:
            return len(second.events("periodic_job_ran", job="notifications.reconcile"))

        async def passes_after(count: int) -> bool:
            second.assert_running()
            return passes() >= count

        done_at = passes()
        await until(lambda: passes_after(done_at + 1), "a reconciler pass after the fan-out ended", second, 30)
        told_so_far = len(second.events("reconciler_fan_out_unfinished"))
        done_at = passes()
        await until(lambda: passes_after(done_at + 2), "two more reconciler passes", second, 30)
        assert len(second.events("reconciler_fan_out_unfinished")) == told_so_far
        enqueued = second.events("reconciler_fan_out_unfinished", stream_id=str(stream_id))
        # (A pass that came while the rerun was still going enqueued another run beside it: they share the work.)
        assert enqueued

        async def every_run_logged() -> bool:
            return len(second.events("notifications_fanned_out", event_key=key)) == len(enqueued)

        await until(every_run_logged, "a log line from each fan-out run", second, 30)
        # The reruns wrote only the 850 missing rows between them: those committed before the kill were skipped.
        runs = second.events("notifications_fanned_out", event_key=key)
        assert sum(run["rows"] for run in runs) == FOLLOWERS - 3 * BATCH
        assert await committed() == FOLLOWERS
        assert second.stop() == 0
    finally:
        for worker in workers:
            worker.stop()
        if not holder.closed:
            await holder.close()
        await redis.delete(queue)
        await redis.aclose()


# --- the reconciler's rules, in-process on SQLite and PostgreSQL --------------------------------------------------


async def add_users(app: FastAPI, count: int) -> list[uuid.UUID]:
    users = [uuid.uuid4() for _ in range(count)]
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            insert(User),
            [
                {"user_id": u, "username": f"u{u.hex[:20]}", "email": f"{u.hex}@example.com", "password_hash": "x"}
                for u in users
            ],
        )
    return users


async def add_follows(
    app: FastAPI, creator: uuid.UUID, followers: list[uuid.UUID], at: datetime, **values: Any
) -> None:
    async with container(app).db.unit_of_work() as session:
        await session.execute(
            insert(Follow),
            [{"follower_id": u, "following_id": creator, "created_at": at, **values} for u in followers],
        )


async def add_stream(app: FastAPI, creator: uuid.UUID, started: datetime, **values: Any) -> uuid.UUID:
    stream = Stream(user_id=creator, title="t", status="live", media_state="live", started_at=started)
    for name, value in values.items():
        setattr(stream, name, value)
    async with container(app).db.unit_of_work() as session:
        session.add(stream)
        await session.flush()
        return stream.stream_id


async def told(app: FastAPI, stream_id: uuid.UUID) -> set[uuid.UUID]:
    async with container(app).db.sessionmaker() as session:
        rows = await session.execute(
            select(Notification.user_id).where(Notification.event_key == stream_started_key(stream_id))
        )
        return {row[0] for row in rows}


async def test_the_reconciler_reruns_only_unfinished_fan_outs_of_live_streams(app: FastAPI) -> None:
    c = container(app)
    now = utcnow()
    an_hour_ago, ten_minutes_ago = now - timedelta(hours=1), now - timedelta(minutes=10)
    lost, opening, ended, finished, old = await add_users(app, 5)
    fans = await add_users(app, 6)
    for creator in (lost, opening, ended, finished, old):
        await add_follows(app, creator, fans[:3], an_hour_ago)
    # Lost: its job never ran. A follower who muted the creator and one who turned go-live notices off are skipped.
    await add_follows(app, lost, [fans[3]], an_hour_ago, notify=False)
    await add_follows(app, lost, [fans[4]], an_hour_ago)
    async with c.db.unit_of_work() as session:
        session.add(NotificationSettings(user_id=fans[4], stream_started=False))
    lost_stream = await add_stream(app, lost, ten_minutes_ago)
    # Opened within the grace period: its fan-out may still be running.
    opening_stream = await add_stream(app, opening, now - GRACE / 2)
    # Ended: news of a go-live is no use any more.
    ended_stream = await add_stream(
        app, ended, ten_minutes_ago, status="ended", media_state="ended", ended_at=now - timedelta(minutes=1)
    )
    # Opened more than six hours ago.
    old_stream = await add_stream(app, old, now - timedelta(hours=7))
    # Finished: everyone who followed before it opened was told; someone who followed since was not, and is not
    # a reason to run it again.
    finished_stream = await add_stream(app, finished, ten_minutes_ago)
    await c.notification_jobs.stream_started(str(finished_stream))
    await add_follows(app, finished, [fans[5]], now - timedelta(minutes=1))
    # Still waiting for its video: nobody is told yet.
    waiting = (await add_users(app, 1))[0]
    await add_follows(app, waiting, fans[:3], an_hour_ago)
    waiting_stream = await add_stream(app, waiting, ten_minutes_ago, media_state="waiting")

    await c.notification_jobs.reconcile()
    await c.jobs.idle(30)

    assert await told(app, lost_stream) == set(fans[:3])
    assert await told(app, finished_stream) == set(fans[:3])
    for untouched in (opening_stream, ended_stream, old_stream, waiting_stream):
        assert await told(app, untouched) == set()
    # A reconnecting stream is still on: a fan-out cut short is finished there too.
    async with c.db.unit_of_work() as session:
        await session.execute(
            delete(Notification).where(
                Notification.user_id == fans[2], Notification.event_key == stream_started_key(lost_stream)
            )
        )
        await session.execute(update(Stream).where(Stream.stream_id == lost_stream).values(media_state="reconnecting"))
    await c.notification_jobs.reconcile()
    await c.jobs.idle(30)
    assert await told(app, lost_stream) == set(fans[:3])
