"""Live stream events on the chat socket: state, title and description changes, and the stored peak."""

from __future__ import annotations

import uuid

from livestream.chat import frames
from livestream.chat.service import channel_of
from livestream.db import Database
from livestream.realtime.engine import Engine
from livestream.shortcache import ShortCache
from livestream.streams.repository import StreamRepository


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
        """Tell the stream's viewers its committed state (a lifecycle subscriber: after every transition).

        The peak viewer count was stored with the end (the lifecycle); the engine then forgets the channel's
        presence (the memory engine would otherwise keep a peak for every stream it ever served). A failure
        here does not undo the change: viewers catch up from the next event or the REST fallback.
        """
        async with self.db.sessionmaker() as session:
            stream = await StreamRepository(session).get(stream_id)
        if stream is None:
            return
        if stream.status == "ended":
            await self.engine.presence_clear(channel_of(stream_id))
        await self.engine.publish(channel_of(stream_id), frames.stream_status(stream))

    async def publish(self, stream_id: uuid.UUID, frame: str) -> None:
        """Any frame to the stream's viewers (an archive's progress, say)."""
        await self.engine.publish(channel_of(stream_id), frame)
