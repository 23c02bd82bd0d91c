"""The periodic ``last_ingest_at`` write happens beside the RTMP reads, never in their way."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from livestream.config import Settings
from livestream.db import Database
from livestream.media import ingest
from livestream.media.ingest import VIDEO, IngestManager, IngestSession
from livestream.media.rtmp.session import PublisherControl
from livestream.media.rtmp.stats import IngestStats
from livestream.streams.keys import StreamKeyCipher
from livestream.streams.models import Stream
from livestream.streams.repository import StreamKeyRepository
from livestream.streams.service import StreamKeyService
from livestream.users.models import User
from tests.conftest import SECRET
from tests.media.helpers import eventually

TOUCH_EVERY_S = 0.1
TAG_EVERY_S = 0.02
# SQLite's busy timeout is 5 s (livestream.db): a write behind a lock waits that long before it fails.
MAX_TAG_S = 0.5


class FakeTranscoder:
    """Takes the FLV bytes as fast as they come; the test is about what happens around it."""

    first_playlist_at = None

    def __init__(self) -> None:
        self.written = 0

    async def write(self, data: bytes) -> None:
        self.written += len(data)

    async def finish(self, timeout: float | None = None) -> None:  # noqa: ASYNC109 - the real signature
        pass

    async def kill(self) -> None:
        pass


@dataclass
class Publishing:
    manager: IngestManager
    session: IngestSession
    db: Database
    db_path: Path
    stream_id: uuid.UUID
    disconnects: list[str]


@pytest.fixture
async def publishing(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Publishing]:
    monkeypatch.setattr(ingest, "TOUCH_EVERY_S", TOUCH_EVERY_S)
    db_path = tmp_path / "touch.db"
    shutil.copy(sqlite_template, db_path)
    settings = Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{db_path}",
        secret_key=SECRET,
        var_dir=tmp_path,
        media_dir=tmp_path / "media",
        rtmp_enabled=False,
    )
    db = Database(settings.database_url)
    manager = IngestManager(settings, db)
    try:
        async with db.sessionmaker() as session:
            user = User(
                username=f"u{uuid.uuid4().hex[:8]}", email=f"{uuid.uuid4().hex[:8]}@example.com", password_hash="x"
            )
            session.add(user)
            await session.flush()
            key, _ = await StreamKeyService(StreamKeyRepository(session), StreamKeyCipher(SECRET)).rotate(user.user_id)
            await session.commit()
        disconnects: list[str] = []

        async def disconnect(reason: str) -> None:
            disconnects.append(reason)

        control = PublisherControl(disconnect, IngestStats(), client="127.0.0.1:1935", app="live")
        publisher = await manager.authorize("live", key, control.client, control)
        assert isinstance(publisher, IngestSession)
        publisher.pipeline.transcoder = FakeTranscoder()  # type: ignore[assignment]
        yield Publishing(manager, publisher, db, db_path, publisher.pipeline.stream_id, disconnects)
    finally:
        await manager.close()
        await db.dispose()


async def last_ingest_at(db: Database, stream_id: uuid.UUID) -> datetime | None:
    async with db.sessionmaker() as session:
        stream = await session.get(Stream, stream_id)
        assert stream is not None
        return stream.last_ingest_at


async def feed_for(session: IngestSession, seconds: float, first_ts: int = 0) -> list[float]:
    """Tags as a publisher sends them, for ``seconds``: how long each ``on_tag`` (the read loop's await) took."""
    durations: list[float] = []
    ts = first_ts
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        await session.on_tag(VIDEO, ts, b"\x27\x01\x00\x00\x00" + bytes(500))
        durations.append(time.monotonic() - started)
        ts += 33
        await asyncio.sleep(max(0.0, started + TAG_EVERY_S - time.monotonic()))
    return durations


async def test_the_touch_writes_last_ingest_at_while_tags_flow(publishing: Publishing) -> None:
    opened = await last_ingest_at(publishing.db, publishing.stream_id)
    assert opened is not None
    await feed_for(publishing.session, 3 * TOUCH_EVERY_S)

    async def touched() -> bool:
        value = await last_ingest_at(publishing.db, publishing.stream_id)
        return value is not None and value > opened

    await eventually(touched)


async def test_a_locked_database_does_not_stall_the_reads(publishing: Publishing) -> None:
    before = await last_ingest_at(publishing.db, publishing.stream_id)
    assert before is not None
    # Another writer holds SQLite's write lock for two seconds: every write of ours waits behind it.
    blocker = sqlite3.connect(publishing.db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        durations = await feed_for(publishing.session, 10 * TOUCH_EVERY_S + 1.0)
        assert await last_ingest_at(publishing.db, publishing.stream_id) == before  # reads still work
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    assert len(durations) > 20
    assert max(durations) < MAX_TAG_S, f"a tag waited {max(durations):.2f} s for the database"
    assert publishing.disconnects == []
    # The lock gone, the touch catches up (the tags kept flowing, so the stream is still due one).
    await feed_for(publishing.session, 3 * TOUCH_EVERY_S, first_ts=100_000)

    async def touched() -> bool:
        value = await last_ingest_at(publishing.db, publishing.stream_id)
        return value is not None and value > before

    await eventually(touched, seconds=15)
