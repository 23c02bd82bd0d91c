"""Two ``livestream worker`` processes keep the reminder job: each follower is reminded once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from livestream.db import Database
from livestream.follows.models import Follow
from livestream.migrate import upgrade
from livestream.notifications.models import Notification
from livestream.schedules.models import Schedule
from livestream.users.models import User
from tests.conftest import SECRET
from tests.support import services

pytestmark = pytest.mark.redis

FOLLOWERS = 200


@pytest.fixture
def database() -> Iterator[str]:
    url = services.create_postgres_database()
    try:
        upgrade(url)
        yield url
    finally:
        services.drop_postgres_database(url)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    try:
        return subprocess.Popen([sys.executable, "-m", "livestream", "worker"], env=env, stdout=out, stderr=out)
    finally:
        out.close()


async def test_a_reminder_goes_out_once_with_two_workers(database: str, redis_url: str, tmp_path: Path) -> None:
    db = Database(database)
    creator = uuid.uuid4()
    followers = [uuid.uuid4() for _ in range(FOLLOWERS)]
    schedule_id = uuid.uuid4()
    try:
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
                [{"follow_id": uuid.uuid4(), "follower_id": u, "following_id": creator} for u in followers],
            )
            session.add(
                Schedule(
                    schedule_id=schedule_id,
                    user_id=creator,
                    title="Due soon",
                    starts_at=datetime.now(UTC) + timedelta(minutes=10),
                )
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LS_")} | {
            "LS_ENV": "test",
            "LS_SECRET_KEY": SECRET,
            "LS_DATABASE_URL": database,
            "LS_REDIS_URL": redis_url,
            "LS_JOBS_QUEUE": f"test:jobs:{uuid.uuid4().hex}",
            "LS_VAR_DIR": str(tmp_path),
            "LS_MEDIA_DIR": str(tmp_path / "media"),
            "LS_SCHEDULE_REMINDER_CHECK_SECONDS": "1",
            # Small batches: the fan-out takes several commits, so the two workers' periods overlap it.
            "LS_NOTIFICATION_FAN_OUT_BATCH": "20",
        }
        workers = [start_worker(env, tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            deadline = time.monotonic() + 60
            reminded = None
            while time.monotonic() < deadline:
                async with db.sessionmaker() as session:
                    reminded = await session.scalar(
                        select(Schedule.reminded_at).where(Schedule.schedule_id == schedule_id)
                    )
                if reminded is not None:
                    break
                assert all(w.poll() is None for w in workers), "a worker exited"
                await asyncio.sleep(0.2)
            assert reminded is not None, "no reminder within 60 s"
            # Both workers keep looking for several more periods.
            await asyncio.sleep(3)
            assert all(w.poll() is None for w in workers)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait(timeout=5)
        async with db.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Notification.user_id, func.count())
                    .where(Notification.type == "schedule_reminder")
                    .group_by(Notification.user_id)
                )
            ).all()
        assert len(rows) == FOLLOWERS
        assert {count for _, count in rows} == {1}
        assert {user for user, _ in rows} == set(followers)
        logs = "".join((tmp_path / f"worker{n}.log").read_text() for n in range(2))
        assert logs.count('"schedule_reminders_sent"') == 1
    finally:
        await db.dispose()
