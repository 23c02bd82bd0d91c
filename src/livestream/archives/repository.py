"""All queries on archives."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.archives.models import Archive
from livestream.db import add_unless_conflict, utcnow
from livestream.pagination import Cursor
from livestream.streams.models import Stream
from livestream.users.models import User


class ArchiveRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, archive_id: uuid.UUID) -> Archive | None:
        return await self.session.get(Archive, archive_id)

    async def for_stream(self, stream_id: uuid.UUID) -> Archive | None:
        result = await self.session.execute(select(Archive).where(Archive.stream_id == stream_id))
        return result.scalar_one_or_none()

    async def get_full(self, archive_id: uuid.UUID) -> tuple[Archive, Stream, User] | None:
        row = (
            await self.session.execute(
                select(Archive, Stream, User)
                .join(Stream, Stream.stream_id == Archive.stream_id)
                .join(User, User.user_id == Archive.user_id)
                .where(Archive.archive_id == archive_id)
            )
        ).first()
        return (row[0], row[1], row[2]) if row else None

    async def page(
        self, user_id: uuid.UUID, *, statuses: tuple[str, ...], limit: int, cursor: Cursor | None
    ) -> list[tuple[Archive, Stream, User]]:
        """A creator's archives, newest first, keyset-paginated on (created_at, archive_id)."""
        query = (
            select(Archive, Stream, User)
            .join(Stream, Stream.stream_id == Archive.stream_id)
            .join(User, User.user_id == Archive.user_id)
            .where(Archive.user_id == user_id, Archive.status.in_(statuses))
            .order_by(Archive.created_at.desc(), Archive.archive_id.desc())
            .limit(limit)
        )
        if cursor is not None:
            query = query.where(
                or_(
                    Archive.created_at < cursor.created_at,
                    and_(Archive.created_at == cursor.created_at, Archive.archive_id < cursor.id),
                )
            )
        return [(row[0], row[1], row[2]) for row in (await self.session.execute(query)).all()]

    async def add(self, archive: Archive) -> bool:
        """Insert; False when the stream already has its archive (the unique stream_id decided)."""
        return await add_unless_conflict(self.session, archive)

    async def claim(self, archive_id: uuid.UUID, until: datetime, run_id: str) -> bool:
        """Take the archive for one finalise run: only a processing archive nobody holds (or whose holder's
        lease ran out, a crashed run) is taken. One statement, so two runs can never both win."""
        now = utcnow()
        result = await self.session.execute(
            update(Archive)
            .where(
                Archive.archive_id == archive_id,
                Archive.status == "processing",
                or_(Archive.lease_until.is_(None), Archive.lease_until < now),
            )
            .values(lease_until=until, run_id=run_id, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def set_for_run(self, archive_id: uuid.UUID, holder: str, **values: Any) -> bool:
        """Write only while run ``holder`` still holds the processing archive (a run that lost its lease to another,
        or whose archive was deleted meanwhile, changes nothing); False when it does not."""
        values.setdefault("updated_at", utcnow())
        result = await self.session.execute(
            update(Archive)
            .where(Archive.archive_id == archive_id, Archive.status == "processing", Archive.run_id == holder)
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))

    async def fail_unless_held(self, archive_id: uuid.UUID, reason: str) -> bool:
        """Processing → failed, unless a run holds a live lease on it right now."""
        now = utcnow()
        result = await self.session.execute(
            update(Archive)
            .where(
                Archive.archive_id == archive_id,
                Archive.status == "processing",
                or_(Archive.lease_until.is_(None), Archive.lease_until < now),
            )
            .values(status="failed", failure_reason=reason, lease_until=None, run_id=None, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def tombstone(self, archive_id: uuid.UUID) -> None:
        """The owner deleted it: the row stays, as "deleted", so that nothing makes the stream's archive again."""
        await self.set_values(
            archive_id,
            status="deleted",
            progress=0,
            failure_reason=None,
            file_size=0,
            poster_key=None,
            mp4_key=None,
            lease_until=None,
            run_id=None,
        )

    async def set_values(self, archive_id: uuid.UUID, **values: Any) -> None:
        values.setdefault("updated_at", utcnow())
        await self.session.execute(update(Archive).where(Archive.archive_id == archive_id).values(**values))

    async def ended_without_archive(self, ended_after: datetime, limit: int = 100) -> list[Stream]:
        """Ended streams that received media and have no archive row (a crash between the end and its event)."""
        query = (
            select(Stream)
            .outerjoin(Archive, Archive.stream_id == Stream.stream_id)
            .where(
                Stream.status == "ended",
                Stream.last_ingest_at.is_not(None),
                Stream.ended_at > ended_after,
                Archive.archive_id.is_(None),
            )
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())

    async def abandoned(self, quiet_since: datetime, limit: int = 100) -> list[uuid.UUID]:
        """Processing archives no run holds and nothing touched since ``quiet_since``: their job was lost."""
        now = utcnow()
        query = (
            select(Archive.archive_id)
            .where(
                Archive.status == "processing",
                or_(Archive.lease_until.is_(None), Archive.lease_until < now),
                Archive.updated_at < quiet_since,
            )
            .limit(limit)
        )
        return list((await self.session.execute(query)).scalars())
