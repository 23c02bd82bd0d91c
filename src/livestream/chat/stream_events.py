"""Live stream events on the chat socket: state, title and description changes, and the stored peak."""

from __future__ import annotations

import uuid

from livestream.chat import frames
from livestream.chat.service import channel_of
from livestream.db import Database
from livestream.logging import get_logger
from livestream.realtime.engine import Engine
from livestream.shortcache import ShortCache
from livestream.streams.repository import StreamRepository

log = get_logger(__name__)


class StreamEvents:
    def __init__(self, engine: Engine, db: Database, *, count_max_age: float = 0.0) -> None:
        """``count_max_age``: how old a viewer count in an API answer may be (0: read for every answer)."""
        self.engine = engine
        self.db = db
        # One count read per stream per period, shared by every answer in it (a round trip with Redis).
        self._counts: ShortCache[uuid.UUID, int] | None = ShortCache(count_max_age) if count_max_age > 0 else None

    async def viewer_count(self, stream_id: uuid.UUID) -> int:
        """The viewers of a live stream, as API answers show it (at most ``count_max_age`` old)."""
        if self._counts is None:
            return await self._count(stream_id)
        return await self._counts.get(stream_id, lambda: self._count(stream_id))

    async def _count(self, stream_id: uuid.UUID) -> int:
        return (await self.engine.presence_count(channel_of(stream_id))).count

    async def close(self) -> None:
        """Cancel count reads still running (before the engine closes)."""
        if self._counts is not None:
            await self._counts.close()

    async def peak(self, stream_id: uuid.UUID) -> int:
        return (await self.engine.presence_count(channel_of(stream_id))).peak

    async def changed(self, stream_id: uuid.UUID) -> None:
        """Tell the stream's viewers its committed state; on the end, store the peak viewer count.

        Called after the change is committed, by the API and by ingest. A failure here must not undo or fail
        the change itself: viewers then catch up from the next event or the REST fallback.
        """
        try:
            async with self.db.sessionmaker() as session:
                streams = StreamRepository(session)
                stream = await streams.get(stream_id)
                if stream is None:
                    return
                if stream.status == "ended":
                    # The peak moves to the database and the engine forgets the channel (the memory engine
                    # would otherwise keep a peak for every stream it ever served).
                    await streams.record_peak(stream_id, await self.engine.presence_clear(channel_of(stream_id)))
                    await session.commit()
                payload = frames.stream_status(stream)
            await self.engine.publish(channel_of(stream_id), payload)
        except Exception as exc:
            log.warning("stream_event_failed", stream_id=str(stream_id), error=str(exc))
