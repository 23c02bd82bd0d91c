"""All queries on streams and stream keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livestream.archives.models import Archive
from livestream.db import add_unless_conflict
from livestream.pagination import Cursor
from livestream.streams.models import Stream, StreamKey
from livestream.users.models import User


class PublicStream(NamedTuple):
    """What anyone may see of a stream and its creator: plain columns, no ORM objects."""

    stream_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    display_name: str | None
    title: str
    description: str | None
    status: str
    media_state: str
    started_at: datetime
    ended_at: datetime | None
    viewer_count: int
    # Its archive, if it has one.
    archive_id: uuid.UUID | None
    archive_status: str | None
    archive_progress: int | None
    archive_duration: int | None
    archive_poster: str | None


def _public_query() -> Select[*tuple[Any, ...]]:
    columns: list[Any] = [Stream.stream_id, Stream.user_id, User.username, User.display_name, Stream.title]
    columns += [Stream.description, Stream.status, Stream.media_state, Stream.started_at, Stream.ended_at]
    columns += [Stream.viewer_count, Archive.archive_id, Archive.status, Archive.progress, Archive.duration]
    return (
        select(*columns, Archive.poster_key)
        .join(User, User.user_id == Stream.user_id)
        .outerjoin(Archive, and_(Archive.stream_id == Stream.stream_id, Archive.status != "deleted"))
    )


# Built once: per request, building a statement costs more than the cached execution of a built one.
_PUBLIC_BY_ID = _public_query().where(Stream.stream_id == bindparam("stream_id"))


class StreamRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, stream_id: uuid.UUID) -> Stream | None:
        return await self.session.get(Stream, stream_id)

    async def get_with_creator(self, stream_id: uuid.UUID) -> tuple[Stream, User] | None:
        row = (
            await self.session.execute(
                select(Stream, User).join(User, User.user_id == Stream.user_id).where(Stream.stream_id == stream_id)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def public_view(self, stream_id: uuid.UUID) -> PublicStream | None:
        row = (await self.session.execute(_PUBLIC_BY_ID, {"stream_id": stream_id})).first()
        return PublicStream(*row) if row else None

    async def public_page(
        self, *, status: str | None, user_id: uuid.UUID | None, limit: int, cursor: Cursor | None
    ) -> list[PublicStream]:
        """Newest first, keyset-paginated on (started_at, stream_id)."""
        query = _public_query().order_by(Stream.started_at.desc(), Stream.stream_id.desc()).limit(limit)
        if status is not None:
            query = query.where(Stream.status == status)
        if user_id is not None:
            query = query.where(Stream.user_id == user_id)
        if cursor is not None:
            query = query.where(
                or_(
                    Stream.started_at < cursor.created_at,
                    and_(Stream.started_at == cursor.created_at, Stream.stream_id < cursor.id),
                )
            )
        return [PublicStream(*row) for row in (await self.session.execute(query)).all()]

    async def live_for_user(self, user_id: uuid.UUID) -> Stream | None:
        result = await self.session.execute(select(Stream).where(Stream.user_id == user_id, Stream.status == "live"))
        return result.scalar_one_or_none()

    async def add(self, stream: Stream) -> bool:
        """Insert; False when the creator already has a live stream (the partial unique index decided)."""
        return await add_unless_conflict(self.session, stream)

    async def live_streams(self) -> list[Stream]:
        return list((await self.session.execute(select(Stream).where(Stream.status == "live"))).scalars())

    async def touch_ingest(self, stream_id: uuid.UUID, at: datetime) -> bool:
        """Media arrived at ``at``; False when the stream is no longer live (ended elsewhere)."""
        result = await self.session.execute(
            update(Stream).where(Stream.stream_id == stream_id, Stream.status == "live").values(last_ingest_at=at)
        )
        return bool(getattr(result, "rowcount", 0))

    async def end_if_live(self, stream_id: uuid.UUID, *, ended_at: datetime, viewer_count: int) -> bool:
        """live → ended in one conditional statement: of two enders at once, exactly one gets True."""
        result = await self.session.execute(
            update(Stream)
            .where(Stream.stream_id == stream_id, Stream.status == "live")
            .values(status="ended", media_state="ended", ended_at=ended_at, viewer_count=viewer_count)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def stale_live(self, ingest_before: datetime) -> list[Stream]:
        """Live streams whose media stopped arriving before ``ingest_before`` (dashboard-opened ones that never
        received media are not stale: they wait for the encoder)."""
        query = select(Stream).where(Stream.status == "live", Stream.last_ingest_at < ingest_before)
        return list((await self.session.execute(query)).scalars())

    async def record_peak(self, stream_id: uuid.UUID, peak: int) -> None:
        """Keep the highest viewer count seen (never lowers it: two processes may both record)."""
        await self.session.execute(
            update(Stream).where(Stream.stream_id == stream_id, Stream.viewer_count < peak).values(viewer_count=peak)
        )

    async def flush(self) -> None:
        await self.session.flush()


class StreamKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> StreamKey | None:
        return await self.session.get(StreamKey, user_id)

    async def get_by_hash(self, key_hash: str) -> StreamKey | None:
        result = await self.session.execute(select(StreamKey).where(StreamKey.key_hash == key_hash))
        return result.scalar_one_or_none()

    async def save(self, key: StreamKey) -> None:
        self.session.add(key)
        await self.session.flush()
