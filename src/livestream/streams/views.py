"""Public views of streams (``GET /api/streams/{id}``, ``GET /api/streams``), encoded once and shared.

When a creator goes live, every follower's page load asks for the same stream and the same live list. A view is
the same for every reader (a stream has no per-viewer fields), so this process keeps each one as JSON bytes, read
with one Core statement (no ORM objects) and encoded by orjson, byte for byte what pydantic makes of
``StreamOut`` (tested). The rules (docs/benchmarks.md, api_reads):

* A view is at most ``MAX_AGE_S`` old, counted from the start of its read, in every process: with several
  processes, a change made in one shows in the others within that time.
* In the process that makes a change (the API's create, update and end, ingest's state changes), the views are
  dropped at once (``invalidate``), before the change's answer or event goes out.
* A live stream's viewer count is not part of the cached bytes: ``viewer_count`` gives it for each answer, and
  decides its own age (exact with the memory engine, at most half a second old with Redis).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from livestream.db import Database
from livestream.pagination import Cursor
from livestream.shortcache import ShortCache
from livestream.streams import errors
from livestream.streams.repository import PublicStream, StreamRepository
from livestream.streams.service import Urls

MAX_AGE_S = 0.5  # half the 1 s a view may be old: the read itself and a busy loop take from the other half
_VIEWER_COUNT = b',"viewer_count":'


def _uuid_subclass(value: object) -> str:
    # asyncpg returns its own uuid.UUID subclass, which orjson leaves to this hook.
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True, slots=True)
class EncodedStream:
    """One ``StreamOut`` as JSON, split where the viewer count goes."""

    stream_id: uuid.UUID
    live: bool
    head: bytes  # the object up to and including '"viewer_count":'
    stored_count: int  # ended: the peak kept in the database
    tail: bytes  # the members after the count, and the closing brace

    def render(self, count: int) -> bytes:
        return b"%b%d%b" % (self.head, count, self.tail)


def encode_stream(row: PublicStream, urls: Urls) -> EncodedStream:
    """The view of one stream, in ``StreamOut``'s member order and pydantic's JSON forms (UTC as ``Z``)."""
    live = row.status == "live"
    head: dict[str, Any] = {
        "stream_id": row.stream_id,
        "user_id": row.user_id,
        "user": {"user_id": row.user_id, "username": row.username, "display_name": row.display_name},
        "title": row.title,
        "description": row.description,
        "status": "live" if live else "ended",
        "media_state": row.media_state,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
    }
    archive = None
    if row.archive_id is not None:
        ready = row.archive_status == "ready"
        archive = {
            "archive_id": str(row.archive_id),
            "status": row.archive_status,
            "progress": row.archive_progress,
            "duration": row.archive_duration,
            "hls_url": urls.vod(row.archive_id) if ready else None,
            "thumbnail_url": urls.poster(row.archive_id) if ready and row.archive_poster else None,
        }
    tail = {
        "hls_url": urls.hls(row.stream_id) if live else None,
        # Only once media flows: before that there is no picture to point at.
        "thumbnail_url": urls.thumbnail(row.stream_id) if live and row.media_state != "waiting" else None,
        "archive": archive,
    }
    return EncodedStream(
        stream_id=row.stream_id,
        live=live,
        head=orjson.dumps(head, default=_uuid_subclass, option=orjson.OPT_UTC_Z)[:-1] + _VIEWER_COUNT,
        stored_count=row.viewer_count,
        tail=b"," + orjson.dumps(tail)[1:],
    )


@dataclass(frozen=True, slots=True)
class EncodedPage:
    items: tuple[EncodedStream, ...]
    next_cursor: bytes  # JSON: a string or null


PageKey = tuple[str | None, uuid.UUID | None, int, Cursor | None]


class StreamViews:
    """The process's cache of public stream views; one per app, provided to routers by type."""

    def __init__(
        self,
        db: Database,
        urls: Urls,
        viewer_count: Callable[[uuid.UUID], Awaitable[int]],
        *,
        max_age: float = MAX_AGE_S,
    ) -> None:
        self.db = db
        self.urls = urls
        self.viewer_count = viewer_count
        self._streams: ShortCache[uuid.UUID, EncodedStream] = ShortCache(max_age)
        self._pages: ShortCache[PageKey, EncodedPage] = ShortCache(max_age, max_entries=1_000)

    async def stream(self, stream_id: uuid.UUID) -> bytes:
        """``StreamOut`` of one stream as JSON; StreamNotFound when there is none."""
        view = await self._streams.get(stream_id, lambda: self._read_stream(stream_id))
        return await self._render(view)

    async def page(self, *, status: str | None, user_id: uuid.UUID | None, limit: int, cursor: Cursor | None) -> bytes:
        """``Page[StreamOut]`` as JSON: newest first, ``limit`` items after ``cursor``."""
        key: PageKey = (status, user_id, limit, cursor)
        page = await self._pages.get(key, lambda: self._read_page(status, user_id, limit, cursor))
        items = [await self._render(view) for view in page.items]
        return b'{"items":[%b],"next_cursor":%b}' % (b",".join(items), page.next_cursor)

    def invalidate(self, stream_id: uuid.UUID | None = None) -> None:
        """A stream changed (or, with None, something every view may show, like a creator's name): drop its
        view and every list, so this process answers from the database again."""
        if stream_id is None:
            self._streams.invalidate()
        else:
            self._streams.invalidate(stream_id)
        self._pages.invalidate()

    async def close(self) -> None:
        await self._streams.close()
        await self._pages.close()

    async def _render(self, view: EncodedStream) -> bytes:
        # Live: the viewers connected now (presence). Ended: the stored peak.
        return view.render(await self.viewer_count(view.stream_id) if view.live else view.stored_count)

    async def _read_stream(self, stream_id: uuid.UUID) -> EncodedStream:
        async with self.db.sessionmaker() as session:
            row = await StreamRepository(session).public_view(stream_id)
        if row is None:
            raise errors.StreamNotFound()
        return encode_stream(row, self.urls)

    async def _read_page(
        self, status: str | None, user_id: uuid.UUID | None, limit: int, cursor: Cursor | None
    ) -> EncodedPage:
        async with self.db.sessionmaker() as session:
            rows = await StreamRepository(session).public_page(
                status=status, user_id=user_id, limit=limit + 1, cursor=cursor
            )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = orjson.dumps(Cursor(rows[-1].started_at, rows[-1].stream_id).encode() if more else None)
        return EncodedPage(items=tuple(encode_stream(row, self.urls) for row in rows), next_cursor=next_cursor)
