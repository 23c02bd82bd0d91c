"""Start-up reconciliation of streams a crash left live."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.media.ingest import IngestManager
from livestream.streams.models import Stream
from livestream.users.models import User
from tests.conftest import SECRET
from tests.media.helpers import eventually

WINDOW_S = 4
RECENT_S = 1.0  # the recent stream's last media: its window ends WINDOW_S - RECENT_S after the test starts


def _settings(tmp_path: Path, sqlite_template: Path, window: int) -> Settings:
    db = tmp_path / "r.db"
    shutil.copy(sqlite_template, db)
    return Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{db}",
        secret_key=SECRET,
        var_dir=tmp_path,
        media_dir=tmp_path / "media",
        rtmp_enabled=False,
        reconnect_window_seconds=window,
    )


async def _stream(db: Database, *, last_ingest_ago: float | None) -> uuid.UUID:
    async with db.sessionmaker() as session:
        user = User(username=f"u{uuid.uuid4().hex[:8]}", email=f"{uuid.uuid4().hex[:8]}@example.com", password_hash="x")
        session.add(user)
        await session.flush()
        now = utcnow()
        stream = Stream(
            user_id=user.user_id,
            title="t",
            status="live",
            media_state="live",
            started_at=now - timedelta(hours=1),
            last_ingest_at=None if last_ingest_ago is None else now - timedelta(seconds=last_ingest_ago),
        )
        session.add(stream)
        await session.commit()
        return stream.stream_id


async def _get(db: Database, stream_id: uuid.UUID) -> Stream:
    async with db.sessionmaker() as session:
        stream = await session.get(Stream, stream_id)
        assert stream is not None
        return stream


async def test_reconciler_ends_stale_streams_and_waits_out_recent_ones(tmp_path: Path, sqlite_template: Path) -> None:
    # The recent stream's deadline is WINDOW_S - RECENT_S after its creation: room for a slow start-up before
    # reconcile() runs, and the wait for the end is polled, not slept, so a busy machine only makes it slower.
    settings = _settings(tmp_path, sqlite_template, window=WINDOW_S)
    db = Database(settings.database_url)
    manager = IngestManager(settings, db)
    try:
        stale = await _stream(db, last_ingest_ago=600)
        recent = await _stream(db, last_ingest_ago=RECENT_S)
        waiting = await _stream(db, last_ingest_ago=None)
        await manager.reconcile()
        ended = await _get(db, stale)
        assert ended.status == "ended"
        assert ended.ended_at is not None
        assert ended.last_ingest_at is not None
        assert ended.ended_at <= ended.last_ingest_at + timedelta(seconds=1)
        pending = await _get(db, recent)
        assert (pending.status, pending.media_state) == ("live", "reconnecting")
        assert pending.last_ingest_at is not None
        deadline = pending.last_ingest_at + timedelta(seconds=WINDOW_S)
        assert (await _get(db, waiting)).status == "live"

        async def recent_ended() -> bool:
            return (await _get(db, recent)).status == "ended"

        await eventually(recent_ended, seconds=WINDOW_S + 30)
        # Re-read after the wait: ended no earlier than its window allowed, and nothing else moved.
        done = await _get(db, recent)
        assert (done.status, done.media_state) == ("ended", "ended")
        assert done.ended_at is not None
        assert done.ended_at >= deadline - timedelta(seconds=0.1)
        assert (await _get(db, waiting)).status == "live"
        assert (await _get(db, stale)).ended_at == ended.ended_at
    finally:
        await manager.close()
        await db.dispose()
