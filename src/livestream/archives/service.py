"""Archives as the API shows them, and what their owner may do (retry, delete); no HTTP here."""

from __future__ import annotations

import uuid

from livestream.archives import errors
from livestream.archives.finalise import archive_prefix
from livestream.archives.models import Archive
from livestream.archives.repository import ArchiveRepository
from livestream.archives.schemas import ArchiveOut
from livestream.pagination import Cursor, Page
from livestream.storage.base import Storage, StorageError
from livestream.streams.models import Stream
from livestream.streams.schemas import StreamCreator
from livestream.streams.service import Urls
from livestream.users.models import User

PUBLIC_STATUSES = ("ready",)
ALL_STATUSES = ("processing", "ready", "failed")


class ArchiveService:
    def __init__(self, archives: ArchiveRepository, urls: Urls) -> None:
        self.archives = archives
        self.urls = urls

    async def get(self, archive_id: uuid.UUID) -> ArchiveOut:
        found = await self.archives.get_full(archive_id)
        if found is None or found[0].status == "deleted":
            raise errors.ArchiveNotFound()
        return self.out(*found)

    async def page(
        self, user_id: uuid.UUID, viewer_id: uuid.UUID | None, *, limit: int, cursor: Cursor | None
    ) -> Page[ArchiveOut]:
        """Anyone sees a creator's ready archives; the creator also sees those processing or failed."""
        statuses = ALL_STATUSES if viewer_id == user_id else PUBLIC_STATUSES
        rows = await self.archives.page(user_id, statuses=statuses, limit=limit + 1, cursor=cursor)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1][0].created_at, rows[-1][0].archive_id).encode() if more and rows else None
        return Page(items=[self.out(*row) for row in rows], next_cursor=next_cursor)

    async def owned(self, actor_id: uuid.UUID, archive_id: uuid.UUID) -> Archive:
        archive = await self.archives.get(archive_id)
        if archive is None or archive.status == "deleted":
            raise errors.ArchiveNotFound()
        if archive.user_id != actor_id:
            raise errors.NotYourArchive()
        return archive

    async def retry(self, actor_id: uuid.UUID, archive_id: uuid.UUID) -> ArchiveOut:
        """A failed archive goes back to processing (the router enqueues its job after the commit)."""
        archive = await self.owned(actor_id, archive_id)
        if archive.status != "failed":
            raise errors.ArchiveNotFailed()
        await self.archives.set_values(
            archive_id, status="processing", progress=0, failure_reason=None, attempts=0, lease_until=None
        )
        await self.archives.session.refresh(archive)
        return await self.get(archive_id)

    async def delete(self, actor_id: uuid.UUID, archive_id: uuid.UUID, storage: Storage) -> Archive:
        """The stored objects first, then the row becomes a tombstone: a storage failure leaves the archive whole
        (and the delete retryable), never a row pointing at deleted media; and nothing makes the stream's archive
        again (a run still storing it takes its files back out when it finds the tombstone)."""
        archive = await self.owned(actor_id, archive_id)
        try:
            await storage.delete_prefix(archive_prefix(archive_id))
        except StorageError as exc:
            raise errors.StorageUnavailable() from exc
        await self.archives.tombstone(archive_id)
        return archive

    def out(self, archive: Archive, stream: Stream, creator: User) -> ArchiveOut:
        ready = archive.status == "ready"
        return ArchiveOut(
            archive_id=archive.archive_id,
            stream_id=archive.stream_id,
            user_id=archive.user_id,
            user=StreamCreator.model_validate(creator),
            title=stream.title,
            status=archive.status,
            progress=archive.progress,
            failure_reason=archive.failure_reason if archive.status == "failed" else None,
            duration=archive.duration,
            file_size=archive.file_size,
            hls_url=self.urls.vod(archive.archive_id) if ready else None,
            mp4_url=self.urls.mp4(archive.archive_id) if ready and archive.mp4_key else None,
            thumbnail_url=self.urls.poster(archive.archive_id) if ready and archive.poster_key else None,
            storage_class=archive.storage_class,
            started_at=stream.started_at,
            ended_at=stream.ended_at,
            created_at=archive.created_at,
            ready_at=archive.ready_at,
        )
